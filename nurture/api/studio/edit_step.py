"""The message editor of one step: `GET|POST /studio/sequences/{id}/steps/{step}/edit`, the
page and its form (its JSON twin, draft preview and script: `edit_draft`).

A save makes drafts (`edit.messages.save_message`), never files: what prospects get changes
only with a publish. The preview and findings are the proposed files rendered and checked
as a send and `nurture validate` would (`edit.message_preview`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.studio.shared import (
    Missing,
    find_sample,
    find_sequence,
    find_step,
    not_found,
    studio_catalog,
    studio_page,
)
from nurture.config import Settings
from nurture.content.samples import SAMPLES
from nurture.core.states import Channel
from nurture.edit.drafts import Conflict, Drafts
from nurture.edit.files import BadPath, CatalogFiles, check_path
from nurture.edit.message_preview import Proposed, preview_message, proposed, step_findings
from nurture.edit.messages import (
    MessageRefused,
    Problem,
    check_fields,
    message_files,
    read_message,
    save_message,
    template_path,
)
from nurture.edit.placeholders import placeholders
from nurture.people.roles import Role
from nurture.schedule import Sequence, Step

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)

STEP = "/sequences/{sequence_id}/steps/{step_id}"
#: The page's form fields, by channel: (subject field, body field).
FORM_FIELDS = {Channel.EMAIL: ("email_subject", "email_body"), Channel.SMS: (None, "sms_body")}
#: A refusal's field (`edit.messages.Problem.field`) as the page's form names it.
PAGE_FIELD = {"subject": "email_subject", "body": "email_body", "sms": "sms_body"}


def drafts_of(settings: Settings) -> Drafts:
    """The studio's drafts of the configured schedules and templates folders."""
    return Drafts(CatalogFiles.of(settings))


def proposed_of(settings: Settings, drafts: Drafts) -> Proposed:
    """The files a publish would write now, as folders under `var/studio/`."""
    return proposed(drafts, settings.var_dir / "studio")


def locate(
    settings: Settings, where: Proposed, sequence_id: str, step_id: str
) -> tuple[Sequence, Step]:
    """The step as the proposed files have it (a draft may have added it), else on disk."""
    catalog = where.catalog
    if catalog is None or sequence_id not in catalog.sequences:
        catalog, _ = studio_catalog(settings)
        if catalog is None:
            raise Missing("The schedule files do not load: fix them first.")
    sequence = find_sequence(catalog, sequence_id)
    step = find_step(sequence, step_id)
    try:
        check_path(template_path(step.template, "sms"))
    except BadPath:
        raise Missing(
            f"Step {step.id!r} names template {step.template!r}, which is not a file the "
            "studio can edit (FOLDER/NAME under templates/)."
        ) from None
    return sequence, step


@dataclass(frozen=True)
class Typed:
    """What a refused form sent, shown again as it was typed, and why it was refused."""

    fields: dict[str, str]
    problems: list[Problem]
    conflict: str | None = None


def editor_page(
    *,
    session: Principal,
    settings: Settings,
    sequence_id: str,
    step_id: str,
    sample: str | None,
    now: datetime,
    saved: bool = False,
    typed: Typed | None = None,
    status_code: int = 200,
) -> Response:
    """The editor: each channel's fields (the drafts, else the files; or what was typed),
    the guide and placeholders, then the draft's preview and findings for a sample."""
    drafts = drafts_of(settings)
    where = proposed_of(settings, drafts)
    try:
        sequence, step = locate(settings, where, sequence_id, step_id)
        sample_name, contact = find_sample(sample)
    except Missing as exc:
        return not_found(session, str(exc))
    texts = {c: read_message(drafts, step.template, c) for c in step.channels}
    findings = step_findings(where, settings, sequence.id, step.id)
    held = [d for t in texts.values() for d in t.drafts]
    catalog = where.catalog
    return studio_page(
        "edit_step.html.j2",
        status_code=status_code,
        scripts=True,
        session=session,
        sequence=sequence,
        step=step,
        index=sequence.steps.index(step) + 1,
        texts=texts,
        fields=FORM_FIELDS,
        typed=typed,
        errors={
            PAGE_FIELD.get(p.field, p.field): p.message for p in (typed.problems if typed else [])
        },
        saved=saved,
        draft=max(held, key=lambda d: d.saved_at) if held else None,
        previews={
            c: preview_message(where, settings, sequence, step, c, contact, now)
            for c in step.channels
        },
        findings=findings,
        problems=where.problems(),
        places=placeholders(settings, catalog.clinic, contact) if catalog else [],
        samples=list(SAMPLES.values()),
        sample_name=sample_name,
        reaches=SAMPLES[sample_name].channels,
    )


@router.get(f"{STEP}/edit")
def edit_page(
    sequence_id: str,
    step_id: str,
    sample: str | None = None,
    saved: bool = False,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "edit messages")),
) -> Response:
    return editor_page(
        session=session,
        settings=settings,
        sequence_id=sequence_id,
        step_id=step_id,
        sample=sample,
        now=now,
        saved=saved,
    )


def _save_form(
    session: Principal, settings: Settings, sequence_id: str, step_id: str, form: dict[str, str]
) -> Typed | None:
    """Save the page's fields as drafts, all or nothing; what to show again when refused."""
    drafts = drafts_of(settings)
    _, step = locate(settings, proposed_of(settings, drafts), sequence_id, step_id)
    given: dict[Channel, tuple[str | None, str | None]] = {}
    problems: list[Problem] = []
    for channel in step.channels:
        subject_field, body_field = FORM_FIELDS[channel]
        subject = form.get(subject_field) if subject_field else None
        body = form.get(body_field)
        given[channel] = (subject, body)
        files = message_files(step.template, channel, drafts.text)
        problems += check_fields(files, subject=subject, body=body)
    if problems:
        return Typed(form, problems)
    try:
        for channel, (subject, body) in given.items():
            save_message(
                drafts, step.template, channel, subject=subject, body=body, by=session.actor.name
            )
    except Conflict as exc:
        return Typed(form, [], conflict=str(exc))
    except MessageRefused as exc:
        return Typed(form, exc.problems)
    return None


@router.post(f"{STEP}/edit")
async def save_page(
    request: Request,
    sequence_id: str,
    step_id: str,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "edit messages")),
) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    sample = form.get("sample") or None
    try:
        refused = await run_in_threadpool(_save_form, session, settings, sequence_id, step_id, form)
    except Missing as exc:
        return not_found(session, str(exc))
    if refused is None:
        query = urlencode({"sample": sample or "", "saved": 1})
        target = f"/studio/sequences/{sequence_id}/steps/{step_id}/edit?{query}#saved"
        return RedirectResponse(target, status_code=303)
    return await run_in_threadpool(
        lambda: editor_page(
            session=session,
            settings=settings,
            sequence_id=sequence_id,
            step_id=step_id,
            sample=sample,
            now=now,
            typed=refused,
            status_code=409 if refused.conflict else 422,
        )
    )
