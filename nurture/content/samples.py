"""Sample prospects: who previews, the lint and the studio render messages for.

Each stands for a kind of prospect a message must work for: both channels, one channel,
a long non-ASCII name (the SMS turns UCS-2, so segments cost more), a Florida number
(narrower SMS hours)."""

from __future__ import annotations

from dataclasses import dataclass

from nurture.content.context import SAMPLE_CONTACT, ContactView
from nurture.core.states import Channel
from nurture.errors import NotFoundError


@dataclass(frozen=True)
class SampleProspect:
    """A made-up prospect; `label` says what it stands for."""

    name: str
    label: str
    contact: ContactView

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels this prospect can be reached on."""
        return tuple(
            c
            for c, address in (
                (Channel.EMAIL, self.contact.email),
                (Channel.SMS, self.contact.phone),
            )
            if address
        )


def _contact(
    first: str, last: str, email: str | None, phone: str | None, zone: str = "America/New_York"
) -> ContactView:
    return ContactView(
        id=0,
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        concern="outer hip pain",
        booked=False,
        timezone=zone,
    )


SAMPLES: dict[str, SampleProspect] = {
    s.name: s
    for s in (
        SampleProspect("email-and-phone", "Email and phone", SAMPLE_CONTACT),
        SampleProspect(
            "email-only", "Email only", _contact("Sam", "Mailer", "sam@example.com", None)
        ),
        SampleProspect("phone-only", "Phone only", _contact("Pat", "Texter", None, "+16175550124")),
        SampleProspect(
            "long-non-ascii-name",
            "A long non-ASCII name (the SMS becomes UCS-2)",
            _contact("Anastasía-Zoë Þórhildur", "Nguyễn-Wójcik", "zoe@example.com", "+16175550125"),
        ),
        SampleProspect(
            "florida",
            "A Florida number (SMS only 08:00-20:00)",
            _contact("Jordan", "Keys", "jordan@example.com", "+13055550126"),
        ),
    )
}

DEFAULT_SAMPLE = "email-and-phone"


def find_sample(name: str | None) -> SampleProspect:
    """The sample prospect called `name` (the default one when none is named); NotFoundError
    names the known ones."""
    chosen = name or DEFAULT_SAMPLE
    prospect = SAMPLES.get(chosen)
    if prospect is None:
        raise NotFoundError(f"no sample prospect {chosen!r} (known: {', '.join(SAMPLES)})")
    return prospect
