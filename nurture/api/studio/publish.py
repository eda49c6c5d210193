"""`/studio/publish`: every draft with what it changes for whom, and the Publish button;
`POST /studio/publish` (form or JSON `{"note"?}` → `{"version": N}`); `POST
/studio/drafts/discard` (field `path`). The work is `nurture.edit.publish`."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, need
from nurture.api.deps import client_ip, now_dep, settings_dep
from nurture.api.params import Count
from nurture.api.studio.fields import submitted
from nurture.api.studio.shared import studio_page
from nurture.config import Settings
from nurture.content.findings import Finding
from nurture.db import session_scope
from nurture.edit.changes import KEPT_TIMES, NEW_TEXT, Changes, changes
from nurture.edit.drafts import Conflict, Drafts
from nurture.edit.files import BadPath, CatalogFiles
from nurture.edit.publish import NothingToPublish, Published, Refused, publish_drafts
from nurture.edit.publish import version_findings as findings_of
from nurture.errors import InvalidValueError
from nurture.people.roles import Role

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)

#: The longest note a version keeps.
MAX_NOTE = 500
#: What the page says after a discard (our words, never text from the URL).
DISCARDED = "The draft was discarded: the file stays as it is published."


def drafts_of(settings: Settings) -> Drafts:
    return Drafts(CatalogFiles.of(settings))


def _review(settings: Settings, now: datetime) -> tuple[Changes, list[Finding]]:
    """What the publish page shows: the changes, and what a publish would find now."""
    drafts = drafts_of(settings)
    pending = drafts.all()
    with session_scope() as session:
        found = changes(drafts, session, settings=settings, now=now, pending=pending)
    findings = findings_of(drafts.proposed(pending), drafts.files, settings) if pending else []
    return found, findings


def publish_page(
    session: Principal,
    settings: Settings,
    now: datetime,
    *,
    status_code: int = 200,
    refused: list[Finding] | None = None,
    problem: str | None = None,
    note: str = "",
    flash: str | None = None,
) -> Response:
    found, findings = _review(settings, now)
    shown = refused if refused is not None else findings
    return studio_page(
        "publish.html.j2",
        status_code=status_code,
        session=session,
        changes=found,
        errors=[f for f in shown if f.is_error],
        warnings=[f for f in shown if not f.is_error],
        refused=refused is not None,
        problem=problem,
        note=note,
        flash=flash,
        new_text=NEW_TEXT,
        kept_times=KEPT_TIMES,
        here="/studio/publish",
    )


@router.get("/publish")
def review(
    discarded: Count = 0,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "review and publish drafts")),
) -> Response:
    return publish_page(session, settings, now, flash=DISCARDED if discarded else None)


@router.post("/publish")
async def publish(
    request: Request,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "publish drafts")),
) -> Response:
    try:
        fields, as_json = await submitted(request)
    except InvalidValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    note = fields.get("note", "").strip()
    if len(note) > MAX_NOTE:
        reason = f"note: at most {MAX_NOTE} characters (this one has {len(note)})"
        if as_json:
            return JSONResponse({"detail": reason}, status_code=422)
        return await run_in_threadpool(
            publish_page, session, settings, now, status_code=422, problem=reason, note=note
        )
    drafts = drafts_of(settings)
    try:
        done = await run_in_threadpool(
            lambda: publish_drafts(
                drafts.files,
                drafts,
                actor=session.actor,
                note=note or None,
                settings=settings,
                ip=client_ip(request),
            )
        )
    except Refused as exc:
        if as_json:
            return JSONResponse(
                {"detail": str(exc), "findings": [f.to_json() for f in exc.findings]},
                status_code=422,
            )
        return await run_in_threadpool(
            partial(
                publish_page,
                session,
                settings,
                now,
                status_code=422,
                refused=exc.findings,
                note=note,
            )
        )
    except (Conflict, NothingToPublish) as exc:
        body: dict[str, Any] = {"detail": str(exc)}
        if isinstance(exc, Conflict):
            body["paths"] = exc.paths
        if as_json:
            return JSONResponse(body, status_code=409)
        return await run_in_threadpool(
            partial(
                publish_page, session, settings, now, status_code=409, problem=str(exc), note=note
            )
        )
    return _done(session, done, as_json, rollback_of=None)


def _done(
    session: Principal, done: Published, as_json: bool, *, rollback_of: int | None
) -> Response:
    """The answer to a publish or rollback that was written."""
    if as_json:
        return JSONResponse(
            {"version": done.version, "files": done.changed, "git_problems": done.git_problems},
            status_code=201,
        )
    title = (
        f"Version {done.version} published: it now equals version {rollback_of}"
        if rollback_of is not None
        else f"Published version {done.version}"
    )
    return studio_page(
        "published.html.j2",
        session=session,
        title=title,
        done=done,
        here="/studio/history",
    )


@router.post("/drafts/discard")
async def discard(
    request: Request,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "discard a draft")),
) -> Response:
    try:
        fields, as_json = await submitted(request)
        path = fields.get("path", "")
        if not path:
            raise InvalidValueError("path: say which file's draft to discard")
        count = await run_in_threadpool(
            partial(drafts_of(settings).discard, [path], by=session.actor, ip=client_ip(request))
        )
    except (InvalidValueError, BadPath) as exc:
        if as_json:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return await run_in_threadpool(
            partial(publish_page, session, settings, now, status_code=422, problem=str(exc))
        )
    if as_json:
        return JSONResponse({"discarded": count})
    return RedirectResponse("/studio/publish?discarded=1", status_code=303)
