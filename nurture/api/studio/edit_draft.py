"""The message editor's other routes: `POST /studio/sequences/{id}/steps/{step}/draft` (the
JSON twin of its form, for scripts and tests), `GET .../draft-preview.html` (the draft's email
for the editor's sandboxed iframe) and `GET /studio/editor.js` (the buttons that insert a
placeholder at the cursor)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, anyone, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.studio.edit_step import STEP, drafts_of, locate, proposed_of
from nurture.api.studio.preview import plain_page, preview_headers
from nurture.api.studio.shared import Missing, find_sample
from nurture.config import Settings
from nurture.core.inputs import load_json
from nurture.core.states import Channel
from nurture.edit.drafts import Conflict
from nurture.edit.message_preview import preview_message, step_findings
from nurture.edit.messages import MessageRefused, save_message
from nurture.errors import InvalidValueError
from nurture.people.roles import Role

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "studio-editor.js"


def _refuse(status_code: int, detail: str, **more: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **more}, status_code=status_code)


def _save_json(
    session: Principal, settings: Settings, now: datetime, sequence_id: str, step_id: str, data: Any
) -> JSONResponse:
    if not isinstance(data, dict):
        return _refuse(422, "the body is not a JSON object")
    drafts = drafts_of(settings)
    try:
        sequence, step = locate(settings, proposed_of(settings, drafts), sequence_id, step_id)
        _, contact = find_sample(
            data.get("sample") if isinstance(data.get("sample"), str) else None
        )
    except Missing as exc:
        return _refuse(404, str(exc))
    names = [c.value for c in step.channels]
    channel = data.get("channel")
    if channel not in names:
        return _refuse(
            422,
            f"channel {channel!r}: step {step.id!r} sends {' and '.join(names)}",
            field="channel",
        )
    subject, body = data.get("subject"), data.get("body")
    for name, value in (("subject", subject), ("body", body)):
        if value is not None and not isinstance(value, str):
            return _refuse(422, f"{name} must be text", field=name)
    if body is None and subject is None:
        return _refuse(422, "nothing to save: send `body` (and `subject` for an email)")
    try:
        files = save_message(
            drafts,
            step.template,
            Channel(channel),
            subject=subject,
            body=body,
            by=session.actor.name,
        )
    except MessageRefused as exc:
        return _refuse(422, str(exc), problems=[p.to_json() for p in exc.problems])
    except Conflict as exc:
        return _refuse(409, str(exc), files=exc.paths)
    where = proposed_of(settings, drafts)
    mine = [
        f
        for f in step_findings(where, settings, sequence.id, step.id)
        if f.channel in (None, channel)
    ]
    shown = preview_message(where, settings, sequence, step, Channel(channel), contact, now)
    return JSONResponse(
        {
            "draft": bool(files),
            "files": files,
            "findings": [f.to_json() for f in mine],
            "preview": shown.to_json(),
        }
    )


@router.post(f"{STEP}/draft")
async def save_draft(
    request: Request,
    sequence_id: str,
    step_id: str,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "edit messages")),
) -> Response:
    """The JSON twin: `{"channel": "email"|"sms", "subject"?, "body", "sample"?}`."""
    try:
        data = load_json(await request.body() or b"{}")
    except InvalidValueError as exc:
        return _refuse(422, str(exc))
    return await run_in_threadpool(_save_json, session, settings, now, sequence_id, step_id, data)


def _draft_html(
    settings: Settings, sequence_id: str, step_id: str, sample: str | None, now: datetime
) -> HTMLResponse:
    drafts = drafts_of(settings)
    where = proposed_of(settings, drafts)
    try:
        sequence, step = locate(settings, where, sequence_id, step_id)
        _, contact = find_sample(sample)
    except Missing as exc:
        return plain_page(404, "Not found", str(exc))
    if Channel.EMAIL not in step.channels or where.catalog is None:
        return plain_page(404, "Not found", f"Step {step_id!r} sends no email.")
    shown = preview_message(where, settings, sequence, step, Channel.EMAIL, contact, now)
    if shown.message is None:
        return plain_page(422, "This email does not render", shown.error or "")
    return HTMLResponse(shown.message.html or "", headers=preview_headers(where.catalog))


@router.get(f"{STEP}/draft-preview.html")
def draft_preview(
    sequence_id: str,
    step_id: str,
    sample: str | None = None,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    _caller: Principal = Depends(need(Role.MANAGER, "preview a draft")),
) -> Response:
    """The draft's email exactly as the provider would be handed it (the preview's CSP)."""
    return _draft_html(settings, sequence_id, step_id, sample, now)


@router.get("/editor.js")
def editor_script(_: Principal | None = Depends(anyone("load the editor's script"))) -> Response:
    """The editor's script, from the installed package (no inline script)."""
    return Response(
        SCRIPT.read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
