"""The kept inline tokens of a paragraph (`md._inline_tokens`) change nothing: every body
renders exactly as a parser without them renders it, however often its paragraphs repeat."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.content import md
from nurture.content.md import to_parts
from nurture.content.md_text import plain_text


def _uncached(source: str) -> tuple[str, str]:
    env: dict[str, object] = {}
    tokens = md._UNCACHED.parse(source, env)
    return str(md._UNCACHED.renderer.render(tokens, md._UNCACHED.options, env)), plain_text(tokens)


#: Lines built from what Markdown reads: emphasis, links, escapes, lists, attributes, code.
_PIECES = [
    "Hi Alex,",
    "Hi *Alex*,",
    "**bold** and _it_",
    "[Book now](https://c.example/b/x_y){.button}",
    "[ref link][home]",
    "[home]: https://c.example/home",
    "{.note}",
    "{.cta}",
    "1. Lie on your side.",
    "- an item",
    "  - nested",
    "> quoted",
    "`code` and \\*escaped\\*",
    "a line with a hard break\\",
    "![alt *text*](https://c.example/i.png)",
    "<https://c.example/auto>",
    "&amp; &copy; &#35;",
    "    indented code",
    "```",
    "# Heading {{x}}",
    "Setext",
    "===",
    "---",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8), max_size=3))
def test_a_body_renders_as_without_the_kept_tokens(documents: list[list[str]]) -> None:
    # Each document twice, and one after the other: the second time every paragraph is kept.
    for lines in documents * 2:
        source = "\n".join(lines)
        assert to_parts(source) == _uncached(source)


def test_a_paragraph_seen_before_costs_no_new_parse() -> None:
    md._inline_tokens.cache_clear()
    body = "Hi Alex,\n\nThe same paragraph for everyone.\n\n[Book](https://c.example/b/1)"
    to_parts(body)
    misses = md._inline_tokens.cache_info().misses
    to_parts(body.replace("Alex", "Sam").replace("/b/1", "/b/2"))
    info = md._inline_tokens.cache_info()
    # Only the greeting and the link are new; the middle paragraph was kept.
    assert (info.misses - misses, info.hits) == (2, 1)


def test_reference_links_parse_with_their_definitions() -> None:
    # A link by reference depends on a definition elsewhere in the body: not kept by text.
    first = to_parts("See [the clinic][c].\n\n[c]: https://one.example")[0]
    second = to_parts("See [the clinic][c].\n\n[c]: https://two.example")[0]
    assert 'href="https://one.example"' in first
    assert 'href="https://two.example"' in second
    assert to_parts("See [the clinic][c].")[0] == "<p>See [the clinic][c].</p>\n"
