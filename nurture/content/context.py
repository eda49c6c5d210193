"""What a template sees: the prospect (only what they gave us), the clinic, the links, the
step and the sequence. A sample prospect stands in for previews and validation.

The clinic's part of it is the same for every message: it is built once per clinic settings
(templates render in Jinja's immutable sandbox, so none can change it for the next message).
The signed links are signed when a template, or the envelope, first reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nurture.config import Settings
from nurture.content.links import make_booking_token, make_unsubscribe_token
from nurture.core.states import Channel
from nurture.schedule import Catalog, Sequence, Step
from nurture.schedule.clinic import Clinic


@dataclass(frozen=True)
class ContactView:
    """What templates may know about a prospect: only what they gave us."""

    id: int
    first_name: str
    last_name: str | None
    email: str | None
    phone: str | None
    concern: str | None
    booked: bool
    timezone: str


SAMPLE_CONTACT = ContactView(
    id=0,
    first_name="Alex",
    last_name="Sample",
    email="alex@example.com",
    phone="+16175550123",
    concern="outer hip pain",
    booked=False,
    timezone="America/New_York",
)

#: The links signed for each message's prospect; the others are the clinic's own.
SIGNED_LINKS = ("unsubscribe", "booking")


class Links(Mapping[str, Any]):
    """A message's links (`links.booking`, `links.videos.stretch`, ...). The signed ones
    are signed on first read: a message that never shows them signs nothing."""

    def __init__(
        self,
        settings: Settings,
        clinic: Clinic,
        contact_id: int,
        channel: Channel,
        delivery_id: int | None,
    ) -> None:
        self._settings, self._contact_id = settings, contact_id
        self._channel, self._delivery_id = channel, delivery_id
        self._clinic_links = _clinic_part(clinic).links
        self._signed: dict[str, str] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in SIGNED_LINKS:
            return self._clinic_links[key]
        link = self._signed.get(key)
        if link is None:
            link = self._signed[key] = self._sign(key)
        return link

    def _sign(self, key: str) -> str:
        secret, base = self._settings.secret_key, self._settings.public_url
        if key == "unsubscribe":
            token = make_unsubscribe_token(secret, self._contact_id, self._channel)
            return f"{base}/u/{token}"
        return f"{base}/b/{make_booking_token(secret, self._contact_id, self._delivery_id)}"

    def __iter__(self) -> Iterator[str]:
        yield from SIGNED_LINKS
        yield from self._clinic_links

    def __len__(self) -> int:
        return len(SIGNED_LINKS) + len(self._clinic_links)


def links_for(
    settings: Settings, catalog: Catalog, contact_id: int, channel: Channel, delivery_id: int | None
) -> Links:
    """The links of one message to `contact_id` on `channel`."""
    return Links(settings, catalog.clinic, contact_id, channel, delivery_id)


@dataclass(frozen=True)
class _ClinicPart:
    """What every message's context holds of the clinic settings."""

    clinic: dict[str, Any]
    links: dict[str, Any]


#: The clinic part of the clinic settings in use, by their identity (a reload makes new
#: ones); each entry keeps its settings, so an identity is never taken for another's.
_clinic_parts: dict[int, tuple[Clinic, _ClinicPart]] = {}
_KEPT_CLINICS = 8


def _clinic_part(clinic: Clinic) -> _ClinicPart:
    kept = _clinic_parts.get(id(clinic))
    if kept is not None and kept[0] is clinic:
        return kept[1]
    part = _ClinicPart(
        clinic=clinic.model_dump(mode="json"),
        links={
            "phone_consultation": clinic.phone_consultation_url,
            "remote_evaluation": clinic.remote_evaluation_url,
            "website": clinic.website,
            "videos": dict(clinic.videos),
        },
    )
    if len(_clinic_parts) >= _KEPT_CLINICS:
        _clinic_parts.clear()
    _clinic_parts[id(clinic)] = (clinic, part)
    return part


@dataclass(frozen=True)
class StepChannel:
    """One message of a sequence: a step, on one of its channels."""

    sequence: Sequence
    step: Step
    channel: Channel


def build_context(
    settings: Settings,
    catalog: Catalog,
    target: StepChannel,
    contact: ContactView,
    delivery_id: int | None,
) -> dict[str, Any]:
    """The template context: contact, clinic, links, step, sequence."""
    sequence, step, channel = target.sequence, target.step, target.channel
    return {
        "contact": contact,
        "clinic": _clinic_part(catalog.clinic).clinic,
        "links": links_for(settings, catalog, contact.id, channel, delivery_id),
        "step": {
            "id": step.id,
            "index": sequence.steps.index(step) + 1,
            "channel": channel.value,
            "description": step.description,
        },
        "sequence": {"id": sequence.id, "name": sequence.name},
    }
