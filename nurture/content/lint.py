"""The minimum-necessary lint: what a message shows outside the inbox must not reveal health.

An SMS body, an email subject or preheader, and the metadata handed to a provider show on
lock screens and in provider consoles: they must not name a condition or a body part. Every
link is https (links to nurture's own `public_url` are its settings' business); every email
carries the postal address and the unsubscribe link; the first SMS of a sequence carries the
opt-out text; no `CHANGE-ME` placeholder reaches a prospect; an SMS over three segments warns.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache

from nurture.content.findings import Finding
from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel
from nurture.schedule.catalog import PLACEHOLDER
from nurture.schedule.clinic import Clinic

MAX_SMS_SEGMENTS = 3

#: Words that name a condition or a body part. Matched as whole words, any case, plural too.
DEFAULT_TERMS: tuple[str, ...] = (
    # body parts
    "hip", "back", "lower back", "neck", "shoulder", "knee", "ankle", "elbow", "wrist",
    "foot", "feet", "heel", "toe", "leg", "arm", "thigh", "calf", "shin", "groin", "pelvis",
    "pelvic", "spine", "spinal", "lumbar", "cervical", "buttock", "glute", "gluteal", "gluteus",
    "gluteus medius", "hamstring", "quadriceps", "rotator cuff", "achilles", "plantar", "jaw",
    "tmj", "muscle", "tendon", "ligament", "joint", "disc", "disk", "vertebra", "nerve",
    # conditions
    "pain", "painful", "ache", "aches", "aching", "sore", "soreness", "injury", "injured",
    "injuries", "sciatica", "sciatic", "arthritis", "osteoarthritis", "bursitis", "tendinitis",
    "tendonitis", "tendinopathy", "fasciitis", "strain", "sprain", "torn", "scar",
    "scar tissue", "adhesion", "adhesive", "hernia", "herniated", "fibromyalgia", "migraine",
    "headache", "whiplash", "inflammation", "chronic", "diagnosis", "surgery", "numbness",
    "tingling", "stiffness", "spasm",
)  # fmt: skip

_URL = re.compile(r"""https?://[^\s"'<>)]+""", re.IGNORECASE)
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_PREHEADER = re.compile(
    r"""<(\w+)[^>]*class\s*=\s*["'][^"']*\bpreheader\b[^"']*["'][^>]*>(.*?)</\1>""",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]+>")


def terms_for(clinic: Clinic | None) -> list[str]:
    """The default terms plus the clinic's `lint.extra_terms`, less its `lint.allowed_terms`."""
    extra = list(clinic.lint.extra_terms) if clinic else []
    allowed = {t.lower() for t in clinic.lint.allowed_terms} if clinic else set()
    return [t for t in (*DEFAULT_TERMS, *extra) if t.lower() not in allowed]


def _pattern(terms: Iterable[str]) -> re.Pattern[str]:
    return _compiled(tuple(terms))


@lru_cache(maxsize=16)
def _compiled(terms: tuple[str, ...]) -> re.Pattern[str]:
    words = sorted(
        {re.escape(t.strip().lower()) for t in terms if t.strip()}, key=len, reverse=True
    )
    if not words:
        return re.compile(r"(?!x)x")
    return re.compile(rf"\b(?:{'|'.join(words)})(?:s|es)?\b", re.IGNORECASE)


def named_terms(text: str, terms: Iterable[str]) -> list[str]:
    """The terms `text` names (whole words, any case), in order, once each."""
    found: list[str] = []
    for match in _pattern(terms).finditer(_URL.sub(" ", text)):
        word = match.group(0).lower()
        if word not in found:
            found.append(word)
    return found


def preheader_of(html_body: str | None) -> str | None:
    """The text of an element with class `preheader` (the inbox's preview line), if any."""
    if not html_body:
        return None
    match = _PREHEADER.search(html_body)
    return html.unescape(_TAG.sub("", match.group(2))).strip() if match else None


def lint_message(
    message: OutgoingMessage,
    *,
    clinic: Clinic,
    terms: Iterable[str],
    first_sms: bool,
    own_url: str,
    sequence_id: str | None = None,
    step_id: str | None = None,
    segments: int = 0,
) -> list[Finding]:
    """Every lint finding for one composed message (see the module's docstring)."""
    terms = list(terms)
    channel = message.channel.value

    def finding(severity: str, code: str, text: str) -> Finding:
        return Finding(
            "error" if severity == "error" else "warning",
            code,
            text,
            None,
            None,
            sequence_id,
            step_id,
            channel,
        )

    out: list[Finding] = []
    exposed: list[tuple[str, str]] = []  # (what, text) shown outside the message body
    if message.channel is Channel.SMS:
        exposed.append(("the SMS", message.text))
    else:
        exposed.append(("the subject", message.subject or ""))
        if (pre := preheader_of(message.html)) is not None:
            exposed.append(("the preheader", pre))
    for key, value in message.metadata.items():
        exposed.append((f"provider metadata {key!r}", f"{key} {value}"))
    for what, text in exposed:
        if words := named_terms(text, terms):
            out.append(
                finding(
                    "error",
                    "health-term",
                    f"{what} names {', '.join(repr(w) for w in words)}, which shows on lock "
                    "screens and in provider consoles: reword it without the condition or body "
                    "part (or list the word under `lint.allowed_terms` in clinic.yaml)",
                )
            )
    bodies = [message.text, message.subject or "", message.html or ""]
    links = {u for b in bodies for u in _URL.findall(b)} | set(_HREF.findall(message.html or ""))
    for link in sorted(links):
        if link.lower().startswith("http://") and not link.startswith(own_url):
            out.append(finding("error", "http-link", f"link {link} is not https: use https://"))
    if message.channel is Channel.EMAIL:
        address = next((ln.strip() for ln in clinic.address.splitlines() if ln.strip()), "")
        for part, body in (("HTML", html.unescape(message.html or "")), ("text", message.text)):
            if address and address not in body:
                out.append(
                    finding(
                        "error",
                        "no-address",
                        f"the {part} part lacks the clinic's postal address: keep the layout's "
                        "footer (templates/_layout/) or add `{{ clinic.address }}`",
                    )
                )
            if message.unsubscribe_url and message.unsubscribe_url not in body:
                out.append(
                    finding(
                        "error",
                        "no-unsubscribe",
                        f"the {part} part lacks the unsubscribe link: keep the layout's footer "
                        "or add `{{ links.unsubscribe }}`",
                    )
                )
    elif first_sms and "STOP" not in message.text:
        out.append(
            finding(
                "error",
                "no-opt-out",
                "the first SMS of the sequence lacks the opt-out text: add 'Reply STOP to opt out'",
            )
        )
    if any(PLACEHOLDER.lower() in b.lower() for b in bodies):
        out.append(
            finding(
                "warning",
                "placeholder",
                f"the message still shows a {PLACEHOLDER} placeholder: fill in clinic.yaml "
                "before real messages go out",
            )
        )
    if segments > MAX_SMS_SEGMENTS:
        out.append(
            finding(
                "warning",
                "sms-segments",
                f"the SMS takes {segments} segments (over {MAX_SMS_SEGMENTS} costs more and may "
                "arrive split): shorten it",
            )
        )
    return out
