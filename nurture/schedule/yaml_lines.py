"""Where in a YAML file a value sits, so an error names the file, the line and the field."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from nurture.errors import ScheduleError


def located(path: Path, loc: tuple[Any, ...], message: str) -> ScheduleError:
    """The ScheduleError for a problem at `loc` (pydantic's path) in `path`."""
    dotted = ""
    for part in loc:
        dotted += f"[{part}]" if isinstance(part, int) else f".{part}" if dotted else str(part)
    return ScheduleError(message, file=str(path), line=line_of(path, loc), field=dotted or None)


@lru_cache(maxsize=64)
def _compose(text: str) -> Any:
    """A file's YAML node tree (cached by content: many lookups, one parse per version)."""
    return yaml.compose(text)


def line_of(path: Path, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc` (or its nearest existing parent)."""
    try:
        node: Any = _compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
