"""The placeholders the message editor offers: the prospect's first name, the clinic's
details, and every link a message's context holds (`content.context.Links`: the booking page,
the clinic's own links, each video), each with what it becomes for the sample prospect.

Read from the context a send builds, so a new link or video in clinic.yaml shows up here
without a change to this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nurture.config import Settings
from nurture.content.context import ContactView, Links
from nurture.core.states import Channel
from nurture.schedule.clinic import Clinic

#: Links the layout adds itself: not offered.
_ADDED_BY_LAYOUT = {"unsubscribe"}
#: Each link's name on its button, and the words an email's link shows.
_LINK_WORDS = {
    "booking": ("Booking page", "Book an appointment"),
    "phone_consultation": ("Phone consultation", "schedule a phone consultation"),
    "remote_evaluation": ("Remote evaluation", "learn about remote evaluation"),
    "website": ("Clinic website", "our website"),
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Placeholder:
    """One thing to insert: `code` as an SMS or subject takes it, `email` as the Markdown
    message takes it (a link with words), `example` what the sample prospect gets."""

    label: str
    code: str
    email: str
    example: str
    kind: str  # "person", "clinic", "link", "video"


def _words(name: str) -> str:
    return name.replace("_", " ").replace("-", " ")


def _video_code(name: str) -> str:
    return (
        f"{{{{ links.videos.{name} }}}}"
        if _NAME.match(name)
        else (f"{{{{ links.videos[{name!r}] }}}}")
    )


def placeholders(settings: Settings, clinic: Clinic, contact: ContactView) -> list[Placeholder]:
    """What the editor's buttons insert, in the order they are shown."""
    out = [
        Placeholder(
            "First name",
            "{{ contact.first_name }}",
            "{{ contact.first_name }}",
            contact.first_name,
            "person",
        ),
        Placeholder("Clinic name", "{{ clinic.name }}", "{{ clinic.name }}", clinic.name, "clinic"),
        Placeholder(
            "Practitioner",
            "{{ clinic.practitioner }}",
            "{{ clinic.practitioner }}",
            clinic.practitioner,
            "clinic",
        ),
        Placeholder(
            "Clinic phone", "{{ clinic.phone }}", "{{ clinic.phone }}", clinic.phone, "clinic"
        ),
    ]
    links = Links(settings, clinic, contact.id, Channel.EMAIL, 0)
    for key in links:
        if key in _ADDED_BY_LAYOUT:
            continue
        if key == "videos":
            for name, url in links["videos"].items():
                code = _video_code(name)
                words = f"Watch the {_words(name)} video"
                out.append(
                    Placeholder(f"Video: {_words(name)}", code, f"[{words}]({code})", url, "video")
                )
            continue
        label, words = _LINK_WORDS.get(key, (_words(key).capitalize(), _words(key)))
        code = f"{{{{ links.{key} }}}}"
        # The booking link passes through nurture, which counts the click: show where it leads.
        example = f"{clinic.booking_url} (click counted)" if key == "booking" else str(links[key])
        out.append(Placeholder(label, code, f"[{words}]({code})", example, "link"))
    return out
