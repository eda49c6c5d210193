"""`/studio` pages: every sequence, and one sequence's steps as the prospect will see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from nurture.api.access import Principal, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.studio.edit_sequence import drafted_sequences
from nurture.api.studio.shared import (
    Missing,
    find_sample,
    find_sequence,
    not_found,
    renderer_for,
    studio_catalog,
    studio_findings,
    studio_page,
)
from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import ContactView
from nurture.content.findings import Finding
from nurture.content.samples import SAMPLES
from nurture.content.studio import (
    describe_delay,
    describe_match,
    example_times,
    sequence_findings,
    state_of,
    step_views,
)
from nurture.people.roles import Role
from nurture.schedule import Catalog, Sequence

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)

#: What a finished test send says on the page it returns to (never text taken from the URL).
SENT = {
    "email": "Test email sent: check the inbox you gave.",
    "sms": "Test text sent: check the phone you gave.",
}
#: Where the test went, by the provider that took it; the outbox names its folder.
SENT_VIA = {
    "outbox": (
        "Test {what} written to the outbox folder ({folder}): no {kind} provider is "
        "configured, so nobody received it. Open the newest file there to read it."
    ),
    "sendgrid": "Test email sent through SendGrid: check the inbox you gave for [TEST].",
    "smtp": "Test email sent by the mail server: check the inbox you gave for [TEST].",
    "twilio": "Test text sent through Twilio: check the phone you gave for [TEST].",
}


def sent_words(channel: str, via: str | None, settings: Settings) -> str:
    """Where a test send went, in words (from our own table, never from the URL)."""
    said = SENT_VIA.get(via or "")
    if said is None:
        return SENT[channel]
    folder = settings.outbox_dir / ("email" if channel == "email" else "sms")
    email = channel == "email"
    return said.format(
        folder=folder, kind="email" if email else "SMS", what="email" if email else "text"
    )


@dataclass(frozen=True)
class SequenceSummary:
    sequence: Sequence
    file: str
    matches: str
    state: str
    problems: int


@router.get("")
def index(
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.VIEWER, "see the sequences")),
) -> Response:
    catalog, problem = studio_catalog(settings)
    summaries = []
    general: list[Finding] = []
    if catalog is not None:
        findings = studio_findings(settings)
        general = [f for f in findings if f.sequence_id is None]
        composer = Composer(renderer_for(settings.templates_dir), settings, catalog)
        _, contact = find_sample(None)
        for sequence in catalog.sequences.values():
            views = step_views(composer, sequence, contact, findings, now)
            mine = [f for f in findings if f.sequence_id == sequence.id]
            broken = any(m.error for v in views for m in v.messages)
            summaries.append(
                SequenceSummary(
                    sequence=sequence,
                    file=catalog.files.get(sequence.id, ""),
                    matches=describe_match(sequence),
                    state=state_of(mine, error=broken),
                    problems=len(mine) + sum(1 for v in views for m in v.messages if m.error),
                )
            )
    return studio_page(
        "index.html.j2",
        session=session,
        summaries=summaries,
        problem=problem,
        general=general,
        describe_delay=describe_delay,
        drafted=drafted_sequences(settings),
        here="/studio",
    )


@router.get("/sequences/{sequence_id}")
def sequence_page(
    sequence_id: str,
    sample: str | None = None,
    sent: str | None = None,
    step: str | None = None,
    via: str | None = None,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.VIEWER, "see a sequence")),
) -> Response:
    catalog, problem = studio_catalog(settings)
    if catalog is None:
        return studio_page(
            "index.html.j2",
            session=session,
            summaries=[],
            problem=problem,
            general=[],
            here="/studio",
        )
    try:
        sequence = find_sequence(catalog, sequence_id)
        sample_name, contact = find_sample(sample)
    except Missing as exc:
        return not_found(session, str(exc))
    return sequence_response(
        session=session,
        settings=settings,
        catalog=catalog,
        sequence=sequence,
        sample_name=sample_name,
        contact=contact,
        now=now,
        flash=None,
        problem=problem,
        sent_to=(
            {"step": step, "channel": sent, "said": sent_words(sent, via, settings)}
            if sent in SENT
            else None
        ),
    )


def sequence_response(
    *,
    session: object,
    settings: Settings,
    catalog: Catalog,
    sequence: Sequence,
    sample_name: str,
    contact: ContactView,
    now: datetime,
    flash: str | None = None,
    problem: str | None = None,
    sent_to: dict[str, str | None] | None = None,
    send_error: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The sequence page: every step composed for the sample prospect `contact`, with its
    findings and send times (also shown again, with the error, after a refused test send)."""
    findings = studio_findings(settings)
    composer = Composer(renderer_for(settings.templates_dir), settings, catalog)
    views = step_views(composer, sequence, contact, findings, now)
    return studio_page(
        "sequence.html.j2",
        status_code=status_code,
        session=session,
        sequence=sequence,
        file=catalog.files.get(sequence.id, ""),
        matches=describe_match(sequence),
        views=views,
        times=example_times(sequence, catalog, contact, now),
        whole=sequence_findings(findings, sequence.id),
        samples=list(SAMPLES.values()),
        sample_name=sample_name,
        contact_zone=contact.timezone,
        now=now,
        describe_delay=describe_delay,
        flash=flash,
        problem=problem,
        sent_to=sent_to or {},
        send_error=send_error or {},
    )
