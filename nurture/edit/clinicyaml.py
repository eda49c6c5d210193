"""Changing values in clinic.yaml's text with its comments, key order and quoting kept.

The shipped file shows optional keys as comments (`# reply_to: …`, a `# notify:` block);
setting one of them turns that comment into the real key, in place, keeping the comment
that explains it. A key neither present nor commented is added after its neighbour.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

#: Where each top-level key goes when the file has neither it nor a comment of it.
ORDER = (
    "name",
    "practitioner",
    "address",
    "phone",
    "from_email",
    "from_name",
    "reply_to",
    "timezone",
    "website",
    "booking_url",
    "phone_consultation_url",
    "remote_evaluation_url",
    "thanks_url",
    "service_area",
    "videos",
    "closed_days",
    "consent",
    "lint",
    "notify",
)


def uncomment(text: str, key: str) -> str:
    """`text` with a commented-out top-level `key` made real: `# reply_to: x   # why`
    becomes `reply_to: null   # why`; a `# notify:` line and its indented commented lines
    become `notify: {}` (filled in afterwards). Unchanged when there is no such comment."""
    block = re.compile(rf"^#[ \t]?{re.escape(key)}:[ \t]*\n(?:#[ \t]{{2,}}\S.*(?:\n|$))+", re.M)
    if block.search(text):
        return block.sub(f"{key}: {{}}\n", text, count=1)
    line = re.compile(
        rf"^#[ \t]?{re.escape(key)}:[ \t]*(?P<value>[^#\n]*?)(?P<why>[ \t]+#[^\n]*)?$", re.M
    )
    return line.sub(lambda m: f"{key}: null{m.group('why') or ''}", text, count=1)


def _styled(old: Any, new: str) -> Any:
    """`new` quoted the way `old` was (a literal block stays a block when it has lines)."""
    if isinstance(old, LiteralScalarString) or "\n" in new:
        return LiteralScalarString(new if new.endswith("\n") or "\n" not in new else new + "\n")
    if isinstance(old, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(new)
    if isinstance(old, SingleQuotedScalarString):
        return SingleQuotedScalarString(new)
    return new


def _item(value: Any) -> Any:
    """A list item as the shipped file writes it: dates quoted (read as text, not YAML dates)."""
    return DoubleQuotedScalarString(value.isoformat()) if isinstance(value, date) else value


def flow_list(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq([_item(i) for i in items])
    seq.fa.set_flow_style()
    return seq


def _detach_below(doc: CommentedMap) -> Any:
    """The comment below a mapping's last key (it introduces what follows the mapping)."""
    if not doc:
        return None
    items = doc.ca.items.get(list(doc)[-1])
    if items is None or len(items) < 3 or items[2] is None:
        return None
    below, items[2] = items[2], None
    return below


def _attach_below(doc: CommentedMap, below: Any) -> None:
    if below is not None and doc:
        items = doc.ca.items.setdefault(list(doc)[-1], [None, None, None, None])
        items[2] = below


def set_key(doc: CommentedMap, key: str, value: Any, *, order: tuple[str, ...] = ORDER) -> None:
    """Set `doc[key]` to `value` keeping the old one's style (None removes the key); a new
    key goes after the nearest key before it in `order`."""
    if value is None:
        doc.pop(key, None)
        return
    if key in doc:
        old = doc[key]
        if isinstance(value, str):
            doc[key] = _styled(old, value)
        elif isinstance(value, list) and isinstance(old, CommentedSeq):
            del old[:]
            old.extend(_item(i) for i in value)
        elif isinstance(value, list):
            doc[key] = flow_list(value)
        elif isinstance(value, dict) and isinstance(old, CommentedMap):
            if not old:
                old.fa.set_block_style()  # a `notify: {}` just uncommented
            below = _detach_below(old)
            for name in [n for n in old if n not in value]:
                del old[name]
            for name, item in value.items():
                set_key(old, name, item, order=tuple(value))
            _attach_below(old, below)
        else:
            doc[key] = value
        return
    new = flow_list(value) if isinstance(value, list) else value
    if isinstance(value, dict):
        new = CommentedMap()
        for name, item in value.items():
            set_key(new, name, item, order=tuple(value))
    before = order[: order.index(key)] if key in order else order
    position = len(doc)
    for index, existing in enumerate(doc):
        if existing in before:
            position = index + 1
    if position < len(doc) or not doc:
        doc.insert(position, key, new)
        return
    # At the end: the comment below the last key (it introduces what follows) moves below
    # the new one, so the new key stays with its siblings.
    below = _detach_below(doc)
    doc[key] = new
    _attach_below(doc, below)
