"""The settings form's fields: where each lives in clinic.yaml, how it is checked, and what
a clinic manager reads beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "text",
    "lines",
    "wording",
    "phone",
    "email",
    "url",
    "zone",
    "emails",
    "phones",
    "terms",
    "weekdays",
    "dates",
    "videos",
]


@dataclass(frozen=True)
class Field:
    """One setting: its form and JSON name, its place in clinic.yaml, its kind of check."""

    name: str
    path: tuple[str, ...]
    kind: Kind
    label: str
    help: str
    section: str
    required: bool = True


#: The form's sections in order: (id, heading, what it is for).
SECTIONS = (
    ("clinic", "Your clinic", "Who the messages come from. Prospects read these."),
    ("email", "Email sender", "The name and address your emails come from."),
    ("links", "Links", "Where the buttons in your messages lead. Each starts with https://."),
    ("videos", "Videos", "The videos your messages link to."),
    ("closed", "Closed days", "Days that do not count when a step waits some business days."),
    (
        "notify",
        "Who is told of replies",
        "When a prospect writes back, these people get a short "
        "note with a link to the replies page (never the reply itself).",
    ),
    ("form", "The request form", "What prospects agree to when they tick each box on the form."),
    (
        "words",
        "Words the checker watches",
        "The message checker warns when a text names a "
        "condition or body part, since a text can be read on a lock screen.",
    ),
)

FIELDS: tuple[Field, ...] = (
    Field(
        "name",
        ("name",),
        "text",
        "Clinic name",
        "As prospects know it; shown in every text message.",
        "clinic",
    ),
    Field(
        "practitioner",
        ("practitioner",),
        "text",
        "Practitioner",
        "Who signs the messages, e.g. Dr. Ben E. Benjamin.",
        "clinic",
    ),
    Field(
        "address",
        ("address",),
        "lines",
        "Postal address",
        "Shown at the foot of every email (the law asks for it). One line per line.",
        "clinic",
    ),
    Field(
        "phone",
        ("phone",),
        "phone",
        "Phone",
        "The number prospects call, e.g. +1 617 555 0100. Shown on the form and in messages.",
        "clinic",
    ),
    Field(
        "timezone",
        ("timezone",),
        "zone",
        "Timezone",
        "Your clinic's time: pages show times in it. Start typing a city, e.g. America/New_York.",
        "clinic",
    ),
    Field(
        "service_area",
        ("service_area",),
        "text",
        "Area you serve",
        "Prospects outside it are offered a remote session, e.g. Boston area.",
        "clinic",
    ),
    Field(
        "from_name",
        ("from_name",),
        "text",
        "Sender name",
        "The name inboxes show for your emails.",
        "email",
    ),
    Field(
        "from_email",
        ("from_email",),
        "email",
        "Sender email address",
        "The address your emails come from; your email provider must allow it.",
        "email",
    ),
    Field(
        "reply_to",
        ("reply_to",),
        "email",
        "Replies go to (optional)",
        "Leave empty to get replies at the sender address.",
        "email",
        required=False,
    ),
    Field("website", ("website",), "url", "Website", "Your clinic's home page.", "links"),
    Field(
        "booking_url",
        ("booking_url",),
        "url",
        "Booking page",
        "Where prospects book an appointment.",
        "links",
    ),
    Field(
        "phone_consultation_url",
        ("phone_consultation_url",),
        "url",
        "Free phone consultation page",
        "Where prospects book the complimentary phone call.",
        "links",
    ),
    Field(
        "remote_evaluation_url",
        ("remote_evaluation_url",),
        "url",
        "Remote session page",
        "For prospects outside the area you serve.",
        "links",
    ),
    Field(
        "thanks_url",
        ("thanks_url",),
        "url",
        "Thank-you page (optional)",
        "Where the request form leads after sending; leave empty for nurture's own page.",
        "links",
        required=False,
    ),
    Field(
        "videos",
        ("videos",),
        "videos",
        "Videos",
        (
            "A short name (small letters, e.g. basics) and the video's link; messages link "
            "to it by its name. To remove one, empty both boxes."
        ),
        "videos",
        required=False,
    ),
    Field(
        "closed_weekdays",
        ("closed_days",),
        "weekdays",
        "Closed every week",
        "Tick the days the clinic is closed.",
        "closed",
        required=False,
    ),
    Field(
        "closed_dates",
        ("closed_days",),
        "dates",
        "Closed on these dates",
        "One date per line, as year-month-day, e.g. 2026-12-25.",
        "closed",
        required=False,
    ),
    Field(
        "notify_email",
        ("notify", "email"),
        "emails",
        "Email addresses to tell",
        "One address per line.",
        "notify",
        required=False,
    ),
    Field(
        "notify_sms",
        ("notify", "sms"),
        "phones",
        "Mobile numbers to text",
        "One number per line, e.g. +1 617 555 0142.",
        "notify",
        required=False,
    ),
    Field(
        "consent_email",
        ("consent", "email"),
        "wording",
        "Email consent wording",
        "May use {clinic}, {phone} and {max_sms}. A change applies to new requests only.",
        "form",
    ),
    Field(
        "consent_sms",
        ("consent", "sms"),
        "wording",
        "Text message consent wording",
        "Must say rates may apply, STOP and HELP (US rules).",
        "form",
    ),
    Field(
        "lint_extra_terms",
        ("lint", "extra_terms"),
        "terms",
        "Also warn about these words",
        "One word or phrase per line, e.g. sciatica.",
        "words",
        required=False,
    ),
    Field(
        "lint_allowed_terms",
        ("lint", "allowed_terms"),
        "terms",
        "Never warn about these words",
        "Words the checker flags that are fine for your clinic.",
        "words",
        required=False,
    ),
)

_BY_NAME = {f.name: f for f in FIELDS}


def by_name(name: str) -> Field | None:
    return _BY_NAME.get(name)
