"""Markdown steps (`NAME.md.j2`): one file makes the HTML and the plain-text part."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurture.content.md import to_html, to_text
from nurture.content.render import Renderer
from nurture.core.states import Channel
from nurture.errors import TemplateError
from tests.content.test_render import _templates

CONTEXT = {
    "contact": {"first_name": "Alex"},
    "clinic": {
        "name": "Clinic",
        "practitioner": "Dr. B",
        "address": "1 Main St\nCambridge",
        "phone": "+1 617 555 0100",
    },
    "links": {"booking": "https://c.example/b/x_y", "unsubscribe": "https://c.example/u/tok"},
}

STEP = """Hi {{ contact.first_name }},

Thanks for **getting in touch**.

1. Lie on your side.
2. Lift the leg.

{.cta}
[Book an appointment]({{ links.booking }}){.button}

{.signature}
Warm regards,\\
{{ clinic.practitioner }}
"""


def test_a_markdown_step_makes_the_html_part_through_the_layout_with_css_inlined(
    tmp_path: Path,
) -> None:
    folder = _templates(tmp_path, **{"s/a.md.j2": STEP, "s/a.subject.j2": "Hello"})
    msg = Renderer(folder).render("s/a", Channel.EMAIL, CONTEXT)
    assert msg.html and msg.subject == "Hello"
    assert "<strong>getting in touch</strong>" in msg.html
    assert 'href="https://c.example/b/x_y"' in msg.html and 'class="button"' in msg.html
    assert "<ol" in msg.html and "<style" not in msg.html and 'style="' in msg.html
    assert "https://c.example/u/tok" in msg.html, "the layout's footer is there"


def test_the_plain_text_part_reads_as_text_with_links_as_text_and_url(tmp_path: Path) -> None:
    folder = _templates(tmp_path, **{"s/a.md.j2": STEP, "s/a.subject.j2": "Hello"})
    text = Renderer(folder).render("s/a", Channel.EMAIL, CONTEXT).text
    assert text.startswith("Hi Alex,\n\nThanks for getting in touch.\n\n1. Lie on your side.\n2.")
    assert "Book an appointment (https://c.example/b/x_y)" in text
    assert "Warm regards,\nDr. B" in text
    for noise in ("**", "](", "{.", "\\"):
        assert noise not in text
    assert "Unsubscribe: https://c.example/u/tok" in text


@pytest.mark.parametrize(
    "name",
    ["<b>Eve</b>", "[click](https://evil.example)", "*Eve* _x_ `y`", "# Eve", "1. Eve", "Eve\\"],
)
def test_a_prospects_name_cannot_add_markup_or_links(tmp_path: Path, name: str) -> None:
    folder = _templates(tmp_path, **{"s/a.md.j2": STEP, "s/a.subject.j2": "Hello"})
    context = {**CONTEXT, "contact": {"first_name": name}}
    msg = Renderer(folder).render("s/a", Channel.EMAIL, context)
    assert msg.html is not None
    assert 'evil.example"' not in msg.html and "<b>Eve" not in msg.html
    assert "<em>" not in msg.html and "<h1" not in msg.html and "<code>" not in msg.html
    assert msg.text.startswith(f"Hi {name},")


def test_a_folder_with_both_forms_for_one_step_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = _templates(
        tmp_path,
        **{"s/a.md.j2": STEP, "s/a.subject.j2": "x", "s/a.html.j2": "<p>x</p>", "s/a.txt.j2": "x"},
    )
    with pytest.raises(TemplateError, match=r"both s/a\.md\.j2 and s/a\.html\.j2"):
        Renderer(folder).render("s/a", Channel.EMAIL, CONTEXT)
    with pytest.raises(TemplateError, match="keep one form"):
        Renderer(folder).check("s/a", Channel.EMAIL)


def test_a_markdown_step_needs_only_its_subject_besides(tmp_path: Path) -> None:
    folder = _templates(tmp_path, **{"s/a.md.j2": STEP})
    assert Renderer(folder).check("s/a", Channel.EMAIL) == ["s/a.subject.j2"]
    folder2 = _templates(tmp_path / "2", **{"s/b.html.j2": "x"})
    assert Renderer(folder2).check("s/b", Channel.EMAIL) == ["s/b.subject.j2", "s/b.txt.j2"]


def test_an_unknown_variable_in_markdown_names_the_file(tmp_path: Path) -> None:
    folder = _templates(tmp_path, **{"s/a.md.j2": "Hi {{ contact.nme }}", "s/a.subject.j2": "x"})
    with pytest.raises(TemplateError, match=r"s/a\.md\.j2.*nme|nme.*s/a\.md\.j2"):
        Renderer(folder).render("s/a", Channel.EMAIL, CONTEXT)


def test_markdown_to_text_keeps_nested_lists_quotes_and_bare_links_readable() -> None:
    source = "- a\n  - b\n\n> quoted\n\n<https://x.example>\n\n## Title"
    assert to_text(source) == "- a\n   - b\n\n> quoted\n\nhttps://x.example\n\nTitle"
    assert "<script>" not in to_html("<script>alert(1)</script>")


def test_the_shipped_steps_are_written_once_and_their_emails_keep_buttons_and_footer() -> None:
    from nurture.config import Settings
    from nurture.content.compose import Composer
    from nurture.content.context import StepChannel
    from nurture.content.samples import SAMPLES
    from nurture.schedule.catalog import load_catalog

    root = Path(__file__).resolve().parents[2]
    renderer = Renderer(root / "templates")
    catalog = load_catalog(root / "schedules")
    settings = Settings(public_url="https://nurture.test", secret_key="s", _env_file=None)
    for sequence in catalog.sequences.values():
        for step in sequence.steps:
            assert renderer.form(step.template) == "md", step.template
    seq = catalog.get("hip-pain-consultation")
    msg = Composer(renderer, settings, catalog).render(
        StepChannel(seq, seq.step("booking"), Channel.EMAIL), SAMPLES["email-only"].contact, 5
    )
    assert msg.html is not None and 'class="button"' in msg.html and "<style" not in msg.html
    assert "Book an appointment (https://nurture.test/b/" in msg.text
    assert "Hi Sam,\n\nI hope the notes over the past few days" in msg.text
    assert "Unsubscribe: https://nurture.test/u/" in msg.text
