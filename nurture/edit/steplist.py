"""A sequence file's `steps:` list reordered, added to and cut, each step's comments kept
with it (ruamel round-trip documents).

ruamel keeps the lines between two list items (blank lines, a comment written above the
next step) as one comment after the previous step's last value. `StepList` cuts that text
apart once: a step's own end of line (an inline comment), the blank lines that separate
steps, and the comment lines above the next step, which belong to that next step. After the
steps move, `close()` puts them back, so a comment stays above the step it describes and
the blank line between steps stays between them. The comment above the first step (which
ruamel holds on the `steps:` key) is that step's too and moves with it; a comment after the
last step stays at the end of the list.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken


@dataclass
class _Parts:
    """The text around one step: its own end of line and the comment lines above it."""

    inline: str = "\n"  # from the end of its last value to the end of that line
    lead: str = ""  # comment lines above the step (what the previous step's token held)
    column: int = 0  # where an inline comment starts


def _trail(step: CommentedMap) -> CommentToken | None:
    """The comment token after the step's last value, taken off it."""
    if not step:
        return None
    last = list(step)[-1]
    slots = step.ca.items.get(last)
    if not slots or len(slots) < 3 or slots[2] is None:
        return None
    token: CommentToken = slots[2]
    slots[2] = None
    if not any(slots):
        del step.ca.items[last]
    return token


def _split(value: str) -> tuple[str, str, str]:
    """A trailing comment's text as (own end of line, blank lines, what follows)."""
    first, newline, rest = value.partition("\n")
    blank_end = 0
    for line in rest.splitlines(keepends=True):
        if line.strip():
            break
        blank_end += len(line)
    return first + newline, rest[:blank_end], rest[blank_end:]


def _head_lead(document: CommentedMap, key: str) -> str:
    """The comment lines above the first item of `document[key]`, taken off the key."""
    slots = document.ca.items.get(key)
    tokens = slots[3] if slots and len(slots) > 3 and slots[3] else []
    if slots:
        slots[3] = None
    seq = document[key]
    if isinstance(seq, CommentedSeq) and seq.ca.comment:
        seq.ca.comment = None
    return "".join(" " * (t.start_mark.column if t.start_mark else 0) + t.value for t in tokens)


def _set_head_lead(document: CommentedMap, key: str, lead: str) -> None:
    """`lead` (comment lines, each indented) above the first item of `document[key]`."""
    if not lead:
        return
    tokens: list[CommentToken] = []
    for line in lead.splitlines(keepends=True):
        if not line.strip() and tokens:
            tokens[-1].value += line
            continue
        text = line.lstrip(" ")
        tokens.append(CommentToken(text, CommentMark(len(line) - len(text)), None))
    slots: list[Any] = document.ca.items.setdefault(key, [None, None, None, None])
    while len(slots) < 4:
        slots.append(None)
    slots[3] = tokens
    seq = document[key]
    if isinstance(seq, CommentedSeq):
        seq.ca.comment = [None, tokens]


class StepList:
    """The `steps` of a round-trip document, cut from their comments until `close()`."""

    def __init__(self, document: CommentedMap, key: str = "steps") -> None:
        self.document = document
        self.key = key
        steps: CommentedSeq = document[key]
        self.steps = steps
        self.parts: dict[int, _Parts] = {}
        if len(steps):
            self.parts[id(steps[0])] = _Parts(lead=_head_lead(document, key))
        gaps: list[str] = []
        tail = ""
        count = len(steps)
        for index, step in enumerate(steps):
            mine = self.parts.setdefault(id(step), _Parts())
            token = _trail(step)
            if token is None:
                continue
            inline, gap, follows = _split(token.value)
            mine.inline = inline
            mine.column = token.start_mark.column if token.start_mark else 0
            if index + 1 < count:
                gaps.append(gap)
                self.parts.setdefault(id(steps[index + 1]), _Parts()).lead = follows
            else:
                tail = gap + follows
        #: What separates two steps: the file's most common gap (a blank line in ours).
        self.gap = Counter(gaps).most_common(1)[0][0] if gaps else ""
        self.tail = tail

    def close(self) -> None:
        """Put every step's comments back, for the order the steps are in now."""
        steps = self.steps
        if len(steps):
            _set_head_lead(self.document, self.key, self.parts.get(id(steps[0]), _Parts()).lead)
        for index, step in enumerate(steps):
            mine = self.parts.get(id(step), _Parts())
            if index + 1 < len(steps):
                after = self.gap + self.parts.get(id(steps[index + 1]), _Parts()).lead
            else:
                after = self.tail
            value = mine.inline + after
            if value != "\n" and step:
                token = CommentToken(value, CommentMark(mine.column), None)
                last = list(step)[-1]
                slots: list[Any] = step.ca.items.setdefault(last, [None, None, None, None])
                slots[2] = token
