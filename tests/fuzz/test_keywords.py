"""Keyword parsing: every spelling of a keyword is recognised, nothing else is."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.track.inbound import (
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    InboundKind,
    classify,
)

KINDS = {
    **dict.fromkeys(OPT_OUT_KEYWORDS, InboundKind.OPT_OUT),
    **dict.fromkeys(OPT_IN_KEYWORDS, InboundKind.OPT_IN),
    **dict.fromkeys(HELP_KEYWORDS, InboundKind.HELP),
}
padding = st.text(alphabet=" \t\r\n\u00a0", max_size=4)


@st.composite
def spelled(draw: st.DrawFn) -> tuple[str, InboundKind]:
    keyword = draw(st.sampled_from(sorted(KINDS)))
    cased = "".join(c.lower() if draw(st.booleans()) else c for c in keyword)
    ending = draw(st.sampled_from(["", ".", "!", "!!"]))
    return draw(padding) + cased + ending + draw(padding), KINDS[keyword]


@settings(max_examples=500)
@given(spelled())
def test_a_keyword_in_any_case_with_spaces_around_is_recognised(
    case: tuple[str, InboundKind],
) -> None:
    text, kind = case
    assert classify(text) is kind


@settings(max_examples=500)
@given(st.sampled_from(sorted(KINDS)), st.text(min_size=1, max_size=20), padding)
def test_a_keyword_followed_by_more_words_is_a_reply(keyword: str, more: str, pad: str) -> None:
    word = more.strip().rstrip(".!").strip()
    if not word or word.upper() in KINDS:
        return
    assert classify(f"{keyword} {word}{pad}") is InboundKind.REPLY


@settings(max_examples=1000)
@given(st.text(max_size=200))
def test_any_text_is_classified_without_error(text: str) -> None:
    kind = classify(text)
    assert kind in InboundKind
    if kind is not InboundKind.REPLY:
        assert text.strip().rstrip(".!").strip().upper() in KINDS
