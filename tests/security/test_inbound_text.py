"""A reply a prospect sends is stored without the characters that would hide or reorder it
on the clinic's screens, and a keyword with one of them inside is still the keyword."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nurture.config import get_settings
from nurture.db import session_scope
from nurture.db.tables import InboundMessage, Suppression
from nurture.schedule.catalog import load_catalog
from nurture.track.events import InboundSms
from nurture.track.inbound import apply_inbound
from tests.helpers import at

T0 = at("2026-03-03 12:00")
SENDER = "+16175550199"
CLINIC = "+16175550100"


def receive(text: str, sid: str) -> None:
    with session_scope() as s:
        apply_inbound(
            s,
            InboundSms(
                provider="twilio",
                message_id=sid,
                sender=SENDER,
                recipient="+16175550100",
                text=text,
            ),
            catalog=load_catalog(get_settings().schedules_dir),
            now=T0,
            public_url="https://nurture.test",
        )


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_reply_is_stored_without_bidi_or_zero_width_characters(db: str) -> None:
    receive("Call me \u202eyadnoM\u202c\u200b at noon\u2028thanks", "SM" + "a" * 32)
    with session_scope() as s:
        body = s.scalars(select(InboundMessage.body)).one()
    assert body == "Call me yadnoM at noon\nthanks"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("text", ["ST\u200bOP", "\u2066STOP\u2069", "\ufeffstop"])
def test_a_stop_with_an_invisible_character_inside_is_still_a_stop(db: str, text: str) -> None:
    receive(text, "SM" + "b" * 32)
    with session_scope() as s:
        stored = s.scalars(select(InboundMessage)).one()
        assert stored.kind == "opt_out"
        assert s.scalars(select(Suppression)).all(), "the number is suppressed"
