"""Round-trip YAML: read a schedule or clinic file, change values, write it back with its
comments, key order and quoting kept (ruamel.yaml's round-trip mode)."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from nurture.errors import ScheduleError


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the clinic wrote on one
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load(text: str, *, name: str = "file") -> Any:
    """The document in `text` (a `CommentedMap` for a mapping), or ScheduleError naming
    `name` and the line when it does not parse."""
    try:
        return _yaml().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScheduleError(f"{name}{where}: {problem}") from exc


def dump(document: Any) -> str:
    """`document` as YAML text, comments and order as they were read."""
    out = io.StringIO()
    _yaml().dump(document, out)
    return out.getvalue()
