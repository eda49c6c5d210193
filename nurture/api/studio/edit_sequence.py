"""The sequence editor: `GET|POST /studio/sequences/{id}/edit` (one form; every button
saves a draft) and `POST /studio/sequences/new` (a copy, form or JSON). The work is
`nurture.edit.sequences` and `nurture.edit.copying`; drafts never change what is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.studio.shared import Missing, find_sample, not_found, studio_catalog, studio_page
from nurture.config import Settings
from nurture.content.samples import SAMPLES
from nurture.content.studio import describe_delay, example_times, short_path
from nurture.core.inputs import load_json
from nurture.edit.checked import check_proposed
from nurture.edit.copying import copy_sequence, sequence_paths
from nurture.edit.drafts import Conflict, Drafts
from nurture.edit.files import CatalogFiles
from nurture.edit.sequence_form import (
    CHANNELS,
    STOP_WORDS,
    EditError,
    SequenceFields,
    editable,
    field_words,
    fields_of,
    read_form,
)
from nurture.edit.sequences import Edit, edit_sequence
from nurture.errors import InvalidValueError
from nurture.people.roles import Role
from nurture.schedule.delays import WEEKDAYS, parse_delay

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)

SAVED = "Saved as a draft: not sent until published."
COPIED = (
    "Copy saved as a draft. Its matching words are empty, so requests keep going to the "
    "original until you add words here and publish."
)


def drafts_of(settings: Settings) -> Drafts:
    return Drafts(CatalogFiles.of(settings))


def drafted_sequences(settings: Settings) -> list[tuple[str, str]]:
    """(id, name) of each sequence whose file exists only as a draft (a new copy)."""
    drafts = drafts_of(settings)
    new = {d.path for d in drafts.all() if d.path.startswith("schedules/") and d.creates}
    if not new:
        return []
    files = drafts.proposed()
    found = []
    for sequence_id, path in sequence_paths(files).items():
        if path in new:
            found.append((sequence_id, fields_of(files[path], name=path).name or sequence_id))
    return found


async def posted(request: Request) -> tuple[dict[str, list[str]], bool]:
    """The body's fields, each with every value sent (a JSON object or a form), and whether
    it came as JSON; InvalidValueError when the JSON is not an object."""
    if request.headers.get("content-type", "").startswith("application/json"):
        data: Any = load_json(await request.body() or b"{}")
        if not isinstance(data, dict):
            raise InvalidValueError("the body is not a JSON object")
        return {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in data.items()
            if v is not None
        }, True
    form = await request.form()
    return {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}, False


def _editor(
    *,
    session: Principal,
    settings: Settings,
    drafts: Drafts,
    sequence_id: str,
    sample: str | None,
    now: datetime,
    fields: SequenceFields | None = None,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
    focus: str | None = None,
    status_code: int = 200,
) -> Response:
    """The editor page: the form (as submitted, or as the draft or file holds it), the
    draft's state, and the timeline and findings of the proposed files."""
    files = drafts.proposed()
    path = sequence_paths(files).get(sequence_id)
    try:
        if path is None:
            raise Missing(f"There is no sequence {sequence_id!r}, on disk or in a draft.")
        sample_name, contact = find_sample(sample)
    except Missing as exc:
        return not_found(session, str(exc))
    problem = editable(files[path], name=path)
    if problem is not None:
        return studio_page(
            "message.html.j2",
            status_code=422,
            session=session,
            title="This sequence cannot be edited here",
            message=f"{problem}. Fix the file on the server, or discard its draft on the "
            "publish page, then open the editor again.",
        )
    proposed = check_proposed(drafts, settings.var_dir / "studio")
    live, _ = studio_catalog(settings)
    catalog = proposed.catalog(live)
    sequence = proposed.scan.sequences.get(sequence_id)
    times = (
        example_times(sequence, catalog, contact, now)
        if sequence is not None and catalog is not None
        else []
    )
    mine = [f for f in proposed.findings if f.sequence_id == sequence_id]
    return studio_page(
        "edit_sequence.html.j2",
        status_code=status_code,
        session=session,
        sequence_id=sequence_id,
        sequence=sequence,
        path=path,
        published=drafts.files.read(path) is not None,
        fields=fields or fields_of(files[path], name=path),
        errors=errors or {},
        draft=drafts.get(path),
        saved=saved,
        focus=focus,
        times=times,
        findings=mine,
        others=[f for f in proposed.findings if f.is_error and f.sequence_id != sequence_id],
        samples=list(SAMPLES.values()),
        sample_name=sample_name,
        contact_zone=contact.timezone,
        now=now,
        describe_delay=describe_delay,
        delay_words=_delay_words,
        field_words=field_words,
        stop_words=STOP_WORDS,
        weekdays=WEEKDAYS,
        channels=CHANNELS,
        short=lambda file: short_path(file, proposed.root, settings.schedules_dir.parent),
    )


def _delay_words(text: str) -> str:
    """A delay as typed, in words ("1 day after the request"), or "" when it does not parse."""
    try:
        return describe_delay(parse_delay(text))
    except InvalidValueError:
        return ""


@router.get("/sequences/{sequence_id}/edit")
def edit_page(
    sequence_id: str,
    sample: str | None = None,
    copied: bool = False,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "edit sequences")),
) -> Response:
    return _editor(
        session=session,
        settings=settings,
        drafts=drafts_of(settings),
        sequence_id=sequence_id,
        sample=sample,
        now=now,
        saved=COPIED if copied else None,
    )


def _save(drafts: Drafts, edit: Edit, by: str) -> None:
    """The schedule file's draft first, then its new templates' (a conflict stops before
    anything is saved for the schedule file)."""
    for path, text in edit.texts.items():
        drafts.save(path, text, by=by)


@router.post("/sequences/{sequence_id}/edit")
async def edit_save(
    request: Request,
    sequence_id: str,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "edit sequences")),
) -> Response:
    try:
        form, _ = await posted(request)
    except InvalidValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    action = (form.get("action") or ["save"])[0]
    sample = (form.get("sample") or [""])[0] or None
    fields = read_form(form)
    drafts = drafts_of(settings)

    def work() -> Response:
        files = drafts.proposed()
        path = sequence_paths(files).get(sequence_id)
        if path is None:
            return not_found(session, f"There is no sequence {sequence_id!r} to edit.")
        edit = edit_sequence(files, path, fields, action)
        shown: dict[str, Any] = {
            "session": session,
            "settings": settings,
            "drafts": drafts,
            "sequence_id": sequence_id,
            "sample": sample,
            "now": now,
        }
        if edit.errors:
            return _editor(**shown, fields=fields, errors=edit.errors, status_code=422)
        try:
            _save(drafts, edit, session.actor.name)
        except Conflict as exc:
            return _editor(**shown, fields=fields, errors={"file": str(exc)}, status_code=409)
        focus = f"step-{edit.added}" if edit.added else action if ":" in action else None
        return _editor(**shown, saved=SAVED, focus=focus)

    return await run_in_threadpool(work)


@router.post("/sequences/new")
async def copy(
    request: Request,
    settings: Settings = Depends(settings_dep),
    session: Principal = Depends(need(Role.MANAGER, "copy sequences")),
) -> Response:
    try:
        form, as_json = await posted(request)
    except InvalidValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    source, new_id, name = ((form.get(k) or [""])[0].strip() for k in ("from", "id", "name"))
    drafts = drafts_of(settings)

    def work() -> Response:
        try:
            texts = copy_sequence(drafts.proposed(), source, new_id, name)
            for path, text in texts.items():
                drafts.save(path, text, by=session.actor.name)
        except (EditError, Conflict) as exc:
            errors = exc.errors if isinstance(exc, EditError) else {"id": str(exc)}
            status = 422 if isinstance(exc, EditError) else 409
            if as_json:
                return JSONResponse({"detail": errors}, status_code=status)
            return studio_page(
                "copy_sequence.html.j2",
                status_code=status,
                session=session,
                values={"from": source, "id": new_id, "name": name},
                errors=errors,
                sources=sorted(sequence_paths(drafts.proposed())),
            )
        if as_json:
            return JSONResponse({"id": new_id, "draft": True}, status_code=201)
        return RedirectResponse(f"/studio/sequences/{new_id}/edit?copied=1", status_code=303)

    return await run_in_threadpool(work)
