"""What the commands print: tables that show prospect text safely and never cut a value.

A prospect wrote some of what a table shows (a name, an address, a reply): every cell is
shown as plain text on one line (`core/text.py: shown_text`), so a bidi override cannot
flip a row, a line separator cannot start a false one, and `[...]` is never read as rich
markup. A cell too wide for the terminal folds onto the next line instead of ending in "…":
an id is read whole. Piped or captured, the output is as wide as it needs
(`cli/__init__.py: console`), so nothing folds at all.
"""

from __future__ import annotations

from typing import Any

from rich import table
from rich.text import Text

from nurture.core.text import shown_text


def shown(value: str) -> Text:
    """A value for the terminal: one line, nothing hidden or reordered, no markup."""
    return Text(shown_text(value))


class Table(table.Table):
    """A rich table whose string cells are `shown` and whose columns fold, never cut."""

    def add_column(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("overflow", "fold")
        super().add_column(*args, **kwargs)

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        cells = [shown(c) if isinstance(c, str) else c for c in renderables]
        super().add_row(*cells, **kwargs)
