"""What a sending renderer keeps per step changes no byte: a Markdown step rendered once
(its skeleton filled, `md_once.py`) and the layout filled from its frame (`layout.py`) are
exactly what rendering in full makes, for every shipped template and sample prospect; a
template or layout that reads more is rendered in full; and no prospect's values reach
another's message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from jinja2 import DictLoader

from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import StepChannel, build_context
from nurture.content.layout import frameable
from nurture.content.live import read_sources
from nurture.content.md_once import renders_once
from nurture.content.render import LAYOUT_HTML, LAYOUT_TEXT, Renderer
from nurture.content.samples import SAMPLES
from nurture.core.states import Channel
from nurture.errors import TemplateError
from nurture.schedule.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
SOURCES = read_sources(ROOT / "templates")
MARKDOWN = sorted(name.removesuffix(".md.j2") for name in SOURCES if name.endswith(".md.j2"))
#: The sample prospects, and one whose values are all Markdown and HTML punctuation.
CONTACTS = [s.contact for s in SAMPLES.values()] + [
    dataclasses.replace(
        SAMPLES["email-and-phone"].contact,
        id=7,
        first_name="*Zoë* <b>&amp;</b> [x](y) \\ `c` _u_ #1",
        last_name='O\'Brien "Q"',
        concern="- a\n\n1. b",
    )
]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(public_url="https://nurture.test", secret_key="s", _env_file=None)


#: A public URL whose links Jinja escapes in the HTML layout.
ODD_URL = Settings(public_url="https://n.test/x?a=1&b='<q>'", secret_key="s", _env_file=None)


def _renderers(sources: dict[str, str]) -> tuple[Renderer, Renderer]:
    """A sending renderer (sources given once: keeps what it can) and the same renderer
    rendering everything in full, as before."""
    once = Renderer(ROOT / "templates", loader=DictLoader(sources))
    twice = Renderer(ROOT / "templates", loader=DictLoader(sources))
    twice._checked = twice._frames = None
    return once, twice


def test_every_shipped_template_renders_once() -> None:
    once, _ = _renderers(SOURCES)
    assert MARKDOWN and all(once._holds(f"{name}.md.j2", renders_once) for name in MARKDOWN)


@pytest.mark.parametrize("odd_url", [False, True])
def test_every_shipped_step_renders_byte_for_byte_as_rendered_in_full(
    settings: Settings, odd_url: bool
) -> None:
    settings = ODD_URL if odd_url else settings
    catalog = load_catalog(ROOT / "schedules")
    once, twice = _renderers(SOURCES)
    compared = 0
    for sequence in catalog.sequences.values():
        for step in sequence.steps:
            for channel in step.channels:
                target = StepChannel(sequence, step, channel)
                for n, contact in enumerate(CONTACTS):
                    a = Composer(once, settings, catalog).render(target, contact, n + 1)
                    b = Composer(twice, settings, catalog).render(target, contact, n + 1)
                    assert a == b, (step.template, channel, contact.first_name)
                    compared += 1
    assert compared > 100


@pytest.mark.parametrize("template", MARKDOWN)
def test_every_shipped_markdown_template_renders_as_rendered_twice(
    template: str, settings: Settings
) -> None:
    catalog = load_catalog(ROOT / "schedules")
    sequence = next(iter(catalog.sequences.values()))
    target = StepChannel(sequence, sequence.steps[0], Channel.EMAIL)
    once, twice = _renderers(SOURCES)
    for n, contact in enumerate(CONTACTS):
        context = build_context(settings, catalog, target, contact, n + 1)
        a = once.render(template, Channel.EMAIL, context)
        b = twice.render(template, Channel.EMAIL, context)
        assert a.html is not None and a.html.encode() == (b.html or "").encode()
        assert a.text.encode() == b.text.encode() and a.subject == b.subject


CAPTURING = {
    "set block": "{% set x %}Hi {{ contact.first_name }}{% endset %}{{ x }}",
    "filter block": "{% filter upper %}Hi {{ contact.first_name }}{% endfilter %}",
    "macro": "{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi(contact.first_name) }}",
    "call block": "{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}{{ 1 }}{% endcall %}",
    "block": "{% block b %}Hi {{ contact.first_name }}{% endblock %} {{ self.b() }}",
    "include": "{% include 'other.md.j2' %}",
    "recursive loop": (
        "{% for c in [[1]] recursive %}{{ c }}{{ loop(c) if c is iterable }}{% endfor %}"
    ),
}


@pytest.mark.parametrize("source", CAPTURING.values(), ids=list(CAPTURING))
def test_a_template_that_reads_its_output_back_is_rendered_twice(
    source: str, settings: Settings
) -> None:
    sources = {
        **SOURCES,
        "t/x.md.j2": source,
        "t/x.subject.j2": "Hello",
        "other.md.j2": "Hi {{ contact.first_name }}",
    }
    once, twice = _renderers(sources)
    assert not renders_once(once.md_env.parse(source))
    assert not once._holds("t/x.md.j2", renders_once)
    catalog = load_catalog(ROOT / "schedules")
    sequence = next(iter(catalog.sequences.values()))
    target = StepChannel(sequence, sequence.steps[0], Channel.EMAIL)
    context = build_context(settings, catalog, target, CONTACTS[-1], 1)
    assert once.render("t/x", Channel.EMAIL, context) == twice.render("t/x", Channel.EMAIL, context)


def test_one_prospects_values_never_reach_the_next_message(settings: Settings) -> None:
    catalog = load_catalog(ROOT / "schedules")
    once, _ = _renderers(SOURCES)
    sequence = catalog.sequences["hip-pain-consultation"]
    target = StepChannel(sequence, sequence.steps[0], Channel.EMAIL)
    first = dataclasses.replace(CONTACTS[0], id=11, first_name="Firstperson")
    second = dataclasses.replace(CONTACTS[0], id=12, first_name="Secondperson")
    a = Composer(once, settings, catalog).render(target, first, 1)
    b = Composer(once, settings, catalog).render(target, second, 2)
    assert "Firstperson" in a.text and "Firstperson" in (a.html or "")
    assert "Firstperson" not in b.text + (b.html or "") and "Secondperson" in b.text


def test_the_shipped_layouts_are_framed() -> None:
    once, _ = _renderers(SOURCES)
    assert once._holds(LAYOUT_HTML, frameable) and once._holds(LAYOUT_TEXT, frameable)


PER_MESSAGE_LAYOUTS = {
    "a prospect's name": "Dear {{ contact.first_name }} {{ body }} {{ links.unsubscribe }}",
    "the step": "{{ step.id }} {{ body }}",
    "a tested link": "{% if links.unsubscribe %}{{ links.unsubscribe }}{% endif %}{{ body }}",
    "a filtered link": "{{ links.unsubscribe|upper }} {{ body }}",
    "a filtered body": "{{ body|upper }}",
    "all the links": "{{ links|length }} {{ body }}",
    "every link": "{% for k, v in links.items() %}{{ v|upper }}{% endfor %}{{ body }}",
    "a link by item": "{{ links['get'] is callable }}{{ body }}",
    "a link looked up": "{{ links.get('booking') }} {{ body }}",
    "a body kept": "{% set b = body %}{{ b }}",
    "a random pick": "{{ clinic.name|random }}{{ body }}",
    "random words": "{{ lipsum(1) }}{{ body }}",
}


@pytest.mark.parametrize("layout", PER_MESSAGE_LAYOUTS.values(), ids=list(PER_MESSAGE_LAYOUTS))
def test_a_layout_that_reads_more_is_rendered_for_each_message(
    layout: str, settings: Settings
) -> None:
    sources = {**SOURCES, LAYOUT_TEXT: layout, LAYOUT_HTML: layout}
    once, twice = _renderers(sources)
    assert not once._holds(LAYOUT_TEXT, frameable)
    catalog = load_catalog(ROOT / "schedules")
    sequence = catalog.sequences["hip-pain-consultation"]
    target = StepChannel(sequence, sequence.steps[0], Channel.EMAIL)
    for n, name in enumerate(["Firstperson", "Secondperson"]):
        contact = dataclasses.replace(CONTACTS[0], id=20 + n, first_name=name)
        a = Composer(once, settings, catalog).render(target, contact, n + 1)
        if "random" not in layout and "lipsum" not in layout:
            assert a == Composer(twice, settings, catalog).render(target, contact, n + 1)


def test_a_clinic_holding_the_hole_characters_is_rendered_in_full(settings: Settings) -> None:
    catalog = load_catalog(ROOT / "schedules")
    odd = catalog.clinic.model_copy(update={"name": "Clinic \ue0020\ue003 \ue0021\ue003"})
    catalog = dataclasses.replace(catalog, clinic=odd)
    once, twice = _renderers(SOURCES)
    sequence = catalog.sequences["hip-pain-consultation"]
    target = StepChannel(sequence, sequence.steps[0], Channel.EMAIL)
    for n, contact in enumerate(CONTACTS[:3]):
        a = Composer(once, settings, catalog).render(target, contact, n + 1)
        assert a == Composer(twice, settings, catalog).render(target, contact, n + 1)
    assert once._frames is not None and once._frames[LAYOUT_HTML][1] is None


def test_a_layout_missing_a_link_fails_as_a_template_error(settings: Settings) -> None:
    catalog = load_catalog(ROOT / "schedules")
    once, _ = _renderers(SOURCES)
    sequence = catalog.sequences["hip-pain-consultation"]
    target = StepChannel(sequence, sequence.steps[0], Channel.EMAIL)
    context = build_context(settings, catalog, target, CONTACTS[0], 1)
    once.render(sequence.steps[0].template, Channel.EMAIL, context)  # the frame is made
    with pytest.raises(TemplateError, match="unknown variable"):
        once.render(sequence.steps[0].template, Channel.EMAIL, {**context, "links": {}})
