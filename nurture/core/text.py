"""Text a prospect wrote, made safe for where it goes next. Pure.

Whatever a person types may hold characters that are invisible yet change what others see:
bidi controls (U+202A-202E, U+2066-2069) reorder a line, so a table row or a name reads
backwards; zero-width characters (U+200B-200F, U+2060, U+FEFF) hide a word inside another;
line separators (CR, LF, U+2028, U+2029, U+0085, ...) end an email header early, so a
subject becomes a second header, or start a new row in a terminal. Every prospect field
goes through `clean_text` when it arrives; every email header built from prospect text goes
through `header_text`, and every value a command prints through `shown_text`.
"""

from __future__ import annotations

import re
import unicodedata

#: What `str.splitlines` breaks on: CR, LF, VT, FF, FS, GS, RS, NEL, LS, PS.
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")
#: Printable ASCII only: nothing for `clean_text` to take out (no control, no format
#: character, no line break), so it is returned as it is without a look at each character.
_PLAIN = re.compile(r"[\x20-\x7e]*")


def _kept(char: str) -> bool:
    # Cf ("format") holds every bidi control, zero-width character, U+FEFF and the tag
    # characters; Cc the C0/C1 controls (a tab survives, as a space where one line is due).
    category = unicodedata.category(char)
    return char == "\t" or char == "\n" or category not in ("Cf", "Cc")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """`value` without invisible format characters or controls; its line breaks become
    "\\n" (`multiline`, a message) or a space (anything else: a name, a subject)."""
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    lines = _LINE_BREAKS.sub("\n" if multiline else " ", value)
    kept = "".join(c for c in lines if _kept(c))
    return kept if multiline else kept.replace("\n", " ")


def header_text(value: str) -> str:
    """One line for an email header (a subject, a display name): no break can end the
    header early and start another, whatever `value` holds."""
    return _SPACES.sub(" ", clean_text(value)).strip()


def shown_text(value: str) -> str:
    """A value printed on a terminal: one line, nothing that reorders or hides text."""
    return header_text(value)
