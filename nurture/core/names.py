"""A person's name as a prospect typed it: a name, never a link. Pure.

A name goes out in the clinic's SMS and emails ("Hi Ann, ..."), so a name that holds a
link makes the clinic text that link to anyone: a first name of `https://evil.example/x` or
`evil.example` would be sent verbatim. `check_name` refuses what is not a name: a web address
or anything a phone or mail client turns into a link (a dot inside a word, as in
`bit.ly`; `@`; `://`), and numbers (two digits or more in a row, spaced or not: a phone
number). It keeps real names: "Mary-Jane O'Neil", "José", "李", "Zoë Saint-Éxupéry",
"Dr. Ann Lee" (a dot after letters, then a space or the end), "J.R.R. Tolkien" (initials:
one letter between dots).
"""

from __future__ import annotations

import re
import unicodedata

from nurture.core.text import clean_text

#: Dots as a phone or browser reads them in an address: ASCII, fullwidth, ideographic.
_DOTS = ".\uff0e\u3002\uff61"
#: A word holding a dot followed by a letter or digit (`bit.ly`, `evil.example`).
_DOTTED = re.compile(rf"[^\s{_DOTS}]+(?:[{_DOTS}][^\s{_DOTS}]+)+[{_DOTS}]?")
#: Initials: single letters each followed by a dot (`J.R.R.`).
_INITIALS = re.compile(rf"(?:\w[{_DOTS}])+\w?")
_SCHEMES = ("://", "www.", "http:", "https:", "mailto:", "tel:", "sms:")
#: Digits with only spacing between them, as a phone number is written (`617 555-0134`).
_DIGIT_RUN = re.compile(r"\d(?:[\s\-.()+]*\d)+")


def name_problem(value: str) -> str | None:
    """Why `value` is not a name (said to whoever typed it), or None when it is one."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    if "@" in folded:
        return "must not hold an '@' (an email address goes in the email field)"
    if any(s in folded for s in _SCHEMES):
        return "must not hold a link or web address"
    for word in _DOTTED.findall(folded):
        if not _INITIALS.fullmatch(word.rstrip(_DOTS)):
            return f"must not hold a web address or domain ({word!r})"
    if _DIGIT_RUN.search(folded):
        return "must not hold numbers (a phone number goes in the phone field)"
    return None


def check_name(value: str, field: str = "name") -> str:
    """`value` cleaned of invisible characters (`core/text.py`), or ValueError naming
    `field` and what is wrong."""
    cleaned = " ".join(clean_text(value).split())
    problem = name_problem(cleaned)
    if problem is not None:
        raise ValueError(f"{field} {problem}")
    return cleaned
