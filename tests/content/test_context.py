"""The template context: the clinic's part built once and unchangeable by a template; the
signed links signed when read, the same as ever."""

from __future__ import annotations

from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer
from jinja2 import DictLoader

from nurture.config import Settings
from nurture.content import context as context_module
from nurture.content import links as links_module
from nurture.content.compose import Composer, envelope
from nurture.content.context import SAMPLE_CONTACT, Links, StepChannel, build_context
from nurture.content.links import read_booking_token, read_unsubscribe_token
from nurture.content.render import Renderer
from nurture.core.states import Channel
from nurture.errors import TemplateError
from nurture.schedule.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = {
    "_layout/email.html.j2": "<p>{{ body }}</p>",
    "_layout/email.txt.j2": "{{ body }}",
}


@pytest.fixture
def settings() -> Settings:
    return Settings(public_url="https://nurture.test", secret_key="s", _env_file=None)


def _composer(settings: Settings, **sources: str) -> tuple[Composer, StepChannel]:
    catalog = load_catalog(ROOT / "schedules")
    sequence = catalog.get("hip-pain-consultation")
    step = sequence.steps[1]
    files = {**LAYOUT, **{f"{step.template}.{part}.j2": text for part, text in sources.items()}}
    renderer = Renderer(Path("unused"), loader=DictLoader(files))
    return Composer(renderer, settings, catalog), StepChannel(sequence, step, Channel.EMAIL)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The links signed from now on, by kind (the functions' caches left out)."""
    signed: list[str] = []
    booking, unsubscribe = links_module._dumps, links_module._dumps

    def make_booking(secret: str, contact_id: int, delivery_id: int | None) -> str:
        signed.append("booking")
        return booking(secret, "nurture.booking", [contact_id, delivery_id])

    def make_unsubscribe(secret: str, contact_id: int, channel: Channel) -> str:
        signed.append("unsubscribe")
        return unsubscribe(secret, "nurture.unsubscribe", [contact_id, channel.value])

    monkeypatch.setattr(context_module, "make_booking_token", make_booking)
    monkeypatch.setattr(context_module, "make_unsubscribe_token", make_unsubscribe)
    return signed


def test_a_message_signs_only_the_links_it_shows(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = _counting(monkeypatch)
    composer, target = _composer(settings, subject="Hi", md="Hello {{ contact.first_name }}")
    composer.render(target, SAMPLE_CONTACT, 7)
    assert signed == []

    composer, target = _composer(settings, subject="Hi", md="[Book]({{ links.booking }})")
    rendered = composer.render(target, SAMPLE_CONTACT, 7)
    assert signed == ["booking"]
    token = rendered.html.split("/b/")[1].split('"')[0]  # type: ignore[union-attr]
    assert read_booking_token("s", token).delivery_id == 7


def test_an_email_envelope_signs_its_unsubscribe_link_and_an_sms_one_none(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    composer, target = _composer(settings, subject="Hi", md="Hello")
    rendered = composer.render(target, SAMPLE_CONTACT, 7)
    signed = _counting(monkeypatch)
    kwargs = {"delivery_id": 7, "enrollment_id": 3, "contact": SAMPLE_CONTACT}
    common = {"settings": settings, "catalog": composer.catalog, "now": None, "not_after": None}
    email = envelope(rendered=rendered, **common, **kwargs)  # type: ignore[arg-type]
    assert email.unsubscribe_url and email.unsubscribe_mailto
    token = email.unsubscribe_url.rsplit("/u/", 1)[1]
    assert read_unsubscribe_token("s", token).channel is Channel.EMAIL
    assert signed == ["unsubscribe"]

    sms = envelope(
        rendered=type(rendered)(channel=Channel.SMS, text="Hi"),
        **common,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
    assert sms.unsubscribe_url is None and sms.unsubscribe_mailto is None
    assert signed == ["unsubscribe"]


def test_links_read_as_a_mapping_with_the_tokens_itsdangerous_makes(settings: Settings) -> None:
    catalog = load_catalog(ROOT / "schedules")
    links = Links(settings, catalog.clinic, 41, Channel.SMS, 9)
    assert list(links)[:2] == ["unsubscribe", "booking"]
    assert len(links) == len(list(links))
    assert links["website"] == catalog.clinic.website
    assert dict(links["videos"]) == catalog.clinic.videos
    booking = URLSafeSerializer("s", salt="nurture.booking").dumps([41, 9])
    unsubscribe = URLSafeSerializer("s", salt="nurture.unsubscribe").dumps([41, "sms"])
    assert links["booking"] == f"https://nurture.test/b/{booking}"
    assert links["unsubscribe"] == f"https://nurture.test/u/{unsubscribe}"
    with pytest.raises(KeyError):
        links["nowhere"]


def test_a_template_cannot_change_the_clinic_part_every_message_shares(
    settings: Settings,
) -> None:
    composer, target = _composer(
        settings, subject="Hi", md="{{ clinic.update({'name': 'Mallory'}) }}{{ clinic.name }}"
    )
    with pytest.raises(TemplateError, match="sandbox"):
        composer.render(target, SAMPLE_CONTACT, 7)
    context = build_context(settings, composer.catalog, target, SAMPLE_CONTACT, 7)
    assert context["clinic"]["name"] == composer.catalog.clinic.name
    again = build_context(settings, composer.catalog, target, SAMPLE_CONTACT, 8)
    assert again["clinic"] is context["clinic"]  # built once for the clinic settings
