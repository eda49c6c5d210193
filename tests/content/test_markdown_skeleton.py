"""The kept block structure of a step (`md.to_parts_of`, by its skeleton) changes nothing:
whatever the values, a body renders exactly as a full parse of its source renders it.

Templates are built from lines of every block kind, with values at the start of a line,
after a list or quote marker, inside links, headings, code and attribute lines; values
carry line breaks, spaces at the ends, digits, markers, NULs and the placeholder
characters themselves, escaped as templates escape them or raw (`|safe`).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import DictLoader
from jinja2.sandbox import SandboxedEnvironment

from nurture.content import md
from nurture.content.md import Skeleton, render_both, to_parts_of
from nurture.content.render import Renderer
from tests.content.test_markdown_cache import _PIECES, _uncached

HOLE = "@@"
#: Lines with a value in them (HOLE), in every place a block rule looks.
_HOLED = [
    "Hi @@,",
    "@@",
    "@@ and more",
    "@@. and a dot",
    "# @@",
    "## Title @@ ##",
    "Setext @@",
    "- @@",
    "- item @@",
    "1. @@",
    "2) x @@",
    "> @@",
    "> Hi @@",
    "[Book](@@){.button}",
    "[Book @@](https://c.example/b)",
    "[Book][@@]",
    "<@@>",
    "    code @@",
    "```py @@",
    "~~~ @@",
    "{.cta @@}",
    "[home]: @@",
    "[@@]: https://c.example/x",
    "**@@**",
    "*a* @@ _b_",
    "text @@\\",
    "text @@  ",
    "  @@",
    "\t@@",
    "@@@@",
    "x@@y",
]
_LINES = st.sampled_from(_HOLED + _PIECES + ["```", "~~~", "", ""])
_CHARS = st.sampled_from(
    [*"aZé7 0\t\n\r\x00\xa0\u2028.-*#>=_`~[](){}<>!|\\", "\ue000", "\ue001", "\ue0003\ue001"]
)
_TEXT = st.lists(_CHARS, max_size=8).map("".join) | st.sampled_from(
    ["Alex", "O'Brien", "1", "12", "-", "Dr. Ada", "https://c.example/b/x_y?a=1&b=2", ""]
)
#: As a template makes a value: escaped (the default) or as it is (`|safe`).
_VALUES = _TEXT.map(md.escape_markdown) | _TEXT


def _skeleton(lines: list[str], values: list[str]) -> Skeleton:
    """The lines with each hole numbered in turn, and as many values (cycled)."""
    parts = "\n".join(lines).split(HOLE)
    text = parts[0]
    for n, part in enumerate(parts[1:]):
        text += f"\ue000{n}\ue001{part}"
    count = len(parts) - 1
    return Skeleton(text, tuple(values[n % len(values)] for n in range(count)))


@settings(max_examples=1500, deadline=None)
@given(st.lists(_LINES, min_size=1, max_size=10), st.lists(_VALUES, min_size=1, max_size=4))
def test_a_body_renders_as_its_full_parse_whatever_the_values(
    lines: list[str], values: list[str]
) -> None:
    skeleton = _skeleton(lines, values)
    source = skeleton.fill()
    assert to_parts_of(source, skeleton) == _uncached(source)


def test_the_same_step_for_another_prospect_reuses_the_structure() -> None:
    md._shape.cache_clear()
    lines = ["Hi @@,", "", "{.steps}", "1. Lie on your side, @@.", "2. Lift.", "", "[Book](@@)"]
    for name in ("Alex", "Bea", "Chidi"):
        skeleton = _skeleton(lines, [name, name, "https://c\\.example/b/1"])
        source = skeleton.fill()
        assert to_parts_of(source, skeleton) == _uncached(source)
    info = md._shape.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_a_value_that_could_start_a_block_is_parsed_in_full() -> None:
    # "1" then ". item" starts an ordered list; the placeholder would not.
    skeleton = _skeleton(["@@. item"], ["1"])
    assert skeleton.fill() == "1. item"
    html, _ = to_parts_of(skeleton.fill(), skeleton)
    assert html == "<ol>\n<li>item</li>\n</ol>\n"


def _render(template: str, **context: object) -> tuple[str, Skeleton | None]:
    env = SandboxedEnvironment(
        loader=DictLoader({"t": template}), autoescape=False, finalize=md.finalize
    )
    return render_both(lambda: env.get_template("t").render(context))


def test_a_skeleton_fills_back_to_the_source_the_template_makes() -> None:
    source, skeleton = _render("Hi {{ name }},\n\n[Book]({{ link }})", name="Ann", link="b/1")
    assert source == "Hi Ann,\n\n[Book](b\\/1)"
    assert skeleton is not None and skeleton.values == ("Ann", "b\\/1")
    assert skeleton.fill() == source


def test_a_template_that_reworks_its_own_output_has_no_skeleton() -> None:
    # The captured block holds a placeholder while recording: its length differs.
    reworked = (
        "{% set s %}{{ name }}{% endset %}{% if s|length > 5 %}long{% else %}short{% endif %}"
    )
    source, skeleton = _render(reworked, name="Bartholomew")
    assert source == "long"
    assert skeleton is None
    # A template holding the placeholder characters itself.
    source, skeleton = _render("\ue0000\ue001 {{ name }}", name="Ann")
    assert source == "\ue0000\ue001 Ann"
    assert skeleton is None


def test_a_constant_in_a_template_reaches_every_message_as_written() -> None:
    # Jinja finalizes a constant output while compiling when it can. The template is first
    # compiled inside `recording`: a placeholder must not end up in its compiled code.
    renderer = Renderer(
        Path("unused"),
        loader=DictLoader({"s/a.md.j2": 'Hello {{ "a*b" }} and {{ name }}, {{ 3 * 4 }}.\n'}),
    )
    for name in ("Ann", "Bo_b"):
        html, text = renderer._body("s/a", {"name": name})
        assert html == f"<p>Hello a*b and {name}, 12.</p>\n"
        assert text == f"Hello a*b and {name}, 12."
