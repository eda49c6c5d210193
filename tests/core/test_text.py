"""Text a prospect wrote, made safe: printable ASCII passes unchanged without a look at each
character, and everything else is cleaned as the character-by-character rule says."""

from __future__ import annotations

import pytest

from nurture.core.text import _LINE_BREAKS, _kept, clean_text, header_text

SAMPLES = [
    "Your follow-up from Riverside Physio",
    "  Hip pain? Let's talk  ",
    "O'Brien & Sons <care@example.com>",
    "tab\there",
    "two\r\nlines\nand\rmore",
    "bidi \u202eevil\u202c name",
    "zero\u200bwidth\ufeff",
    "Zoë Ñúñez",
    "line\u2028separator\x85next",
    "nul\x00and\x7fdel",
    "",
]


def _by_character(value: str, *, multiline: bool) -> str:
    """The rule as `clean_text` applies it to text that is not printable ASCII."""
    lines = _LINE_BREAKS.sub("\n" if multiline else " ", value)
    kept = "".join(c for c in lines if _kept(c))
    return kept if multiline else kept.replace("\n", " ")


@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize("value", SAMPLES + [chr(n) * 2 for n in range(0x100)])
def test_clean_text_keeps_what_the_rule_keeps_and_nothing_else(value: str, multiline: bool) -> None:
    assert clean_text(value, multiline=multiline) == _by_character(value, multiline=multiline)


def test_printable_ascii_comes_back_as_it_was() -> None:
    text = "".join(chr(n) for n in range(0x20, 0x7F))
    assert clean_text(text) is text
    assert header_text(f"  {text}  ") == text.strip()


def test_a_header_is_one_line_whatever_it_holds() -> None:
    assert header_text("Hello\r\nBcc: x@example.com") == "Hello Bcc: x@example.com"
    assert header_text("a \u202eb\t c") == "a b c"
