"""The short texts a new step's messages start from, so the draft set validates and the
clinic has something to edit in the message editor (a step added in the sequence editor
cannot be published without its templates).

They are real, sendable messages (a check-in that invites a question or a booking), never a
placeholder a prospect could receive by mistake.
"""

from __future__ import annotations

from collections.abc import Mapping

from nurture.core.states import Channel

#: Template suffix -> starter text, by channel.
STARTERS: dict[Channel, dict[str, str]] = {
    Channel.EMAIL: {
        "subject": "A quick note from {{ clinic.name }}\n",
        "md": (
            "Hi {{ contact.first_name }},\n"
            "\n"
            "I wanted to check in after your request. If you have a question, just reply to "
            "this email: I read every reply myself.\n"
            "\n"
            "{.cta}\n"
            "[Book an appointment]({{ links.booking }}){.button}\n"
            "\n"
            "{.signature}\n"
            "Warm regards,\\\n"
            "{{ clinic.practitioner }}\\\n"
            "{{ clinic.name }}\n"
        ),
    },
    Channel.SMS: {
        "sms": (
            "{{ clinic.name }}: checking in after your request. Questions? Just reply. "
            "Book when you're ready: {{ links.booking }}\n"
        ),
    },
}

#: The parts that make an email: a subject and a body (Markdown, or HTML and/or text).
_EMAIL_BODIES = ("md", "html", "txt")


def template_path(template: str, part: str) -> str:
    """The version path of one part of a step's template ('hip-pain/booking', 'sms')."""
    return f"templates/{template}.{part}.j2"


def missing_starters(
    files: Mapping[str, str], template: str, channels: list[Channel]
) -> dict[str, str]:
    """The starter files `template` needs for `channels` that `files` lacks, by path: a
    channel that already has its own files is left as it is."""
    wanted: dict[str, str] = {}
    for channel in channels:
        starters = STARTERS[channel]
        if channel is Channel.EMAIL:
            if template_path(template, "subject") not in files:
                wanted[template_path(template, "subject")] = starters["subject"]
            if not any(template_path(template, b) in files for b in _EMAIL_BODIES):
                wanted[template_path(template, "md")] = starters["md"]
        elif template_path(template, "sms") not in files:
            wanted[template_path(template, "sms")] = starters["sms"]
    return wanted
