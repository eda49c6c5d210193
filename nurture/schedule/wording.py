"""The consent wording the hosted form shows (`consent:` in clinic.yaml), and its version.

Each wording's version is the first 12 hex digits of the SHA-256 of the text as shown, so
changing a word makes a new version while rows already in the consent ledger keep theirs.
The wording may use `{clinic}`, `{phone}` and `{max_sms}` (the most text messages any
sequence sends); nothing else in braces.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pydantic import Field, field_validator

from nurture.core.states import Channel
from nurture.schedule.sequence import Sequence, Strict

PLACEHOLDERS = ("clinic", "phone", "max_sms")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

DEFAULT_EMAIL = (
    "Yes, {clinic} may email me about my consultation request: answers, advice to take to "
    "my doctor, and an invitation to book. I can unsubscribe at any time with the link in "
    "every email."
)
#: What US carriers and the TCPA expect of express written consent to texts: who texts,
#: about what, how often, that rates may apply, how to stop and get help, and that consent
#: is not a condition of purchase.
DEFAULT_SMS = (
    "Yes, {clinic} may send text messages to the mobile number above about my consultation "
    "request: follow-up tips and an invitation to book. Up to {max_sms} messages per "
    "request; frequency varies. Consent is not a condition of any purchase. Msg & data "
    "rates may apply. Reply STOP to opt out, HELP for help."
)
#: Words the SMS wording cannot do without.
SMS_REQUIRED = ("STOP", "HELP", "rates may apply")


class ConsentWording(Strict):
    """The clinic's own wording for each consent box; the defaults suit a US clinic."""

    email: str = Field(default=DEFAULT_EMAIL, min_length=20, max_length=1000)
    sms: str = Field(default=DEFAULT_SMS, min_length=20, max_length=1000)

    @field_validator("email", "sms")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        for name in _PLACEHOLDER.findall(value):
            if name not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise ValueError(f"unknown placeholder {{{name}}}: use {known}")
        return " ".join(value.split())

    @field_validator("sms")
    @classmethod
    def _sms_rules(cls, value: str) -> str:
        missing = [word for word in SMS_REQUIRED if word.lower() not in value.lower()]
        if missing:
            raise ValueError(
                "SMS consent wording must say "
                + ", ".join(repr(w) for w in missing)
                + " (US rules: rates may apply, reply STOP to opt out, HELP for help)"
            )
        return value


@dataclass(frozen=True)
class ShownWording:
    """One consent box's text as the form shows it, and the version the ledger keeps."""

    channel: Channel
    text: str
    version: str


def wording_version(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def most_sms(sequences: list[Sequence]) -> int:
    """The most text messages one sequence sends (what the SMS wording promises at most)."""
    return max((sum(Channel.SMS in s.channels for s in q.steps) for q in sequences), default=0)


def shown_wording(
    wording: ConsentWording, *, clinic: str, phone: str, max_sms: int
) -> dict[Channel, ShownWording]:
    """Each box's text with its placeholders filled, and its version."""
    values = {"clinic": clinic, "phone": phone, "max_sms": str(max_sms)}
    shown: dict[Channel, ShownWording] = {}
    for channel, template in ((Channel.EMAIL, wording.email), (Channel.SMS, wording.sms)):
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
        shown[channel] = ShownWording(channel=channel, text=text, version=wording_version(text))
    return shown
