"""`POST /studio/sequences/{id}/steps/{step}/test-send`: the page's form (CSRF) or JSON with
`Authorization: Bearer` (`channel`, `to`, optional `sample`). The work is `send.test_send`."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, need
from nurture.api.auditing import record_request
from nurture.api.deps import now_dep, settings_dep
from nurture.api.studio.pages import sequence_response
from nurture.api.studio.shared import (
    Missing,
    find_sample,
    find_sequence,
    find_step,
    not_found,
    renderer_for,
    studio_catalog,
)
from nurture.config import Settings
from nurture.core.inputs import load_json
from nurture.errors import (
    InvalidValueError,
    NotFoundError,
    NurtureError,
    ScheduleError,
    SendError,
    TemplateError,
    TooManyRequestsError,
)
from nurture.people.audit import AuditAction
from nurture.people.roles import Role
from nurture.send.ratelimit import RateLimiter, make_limiter
from nurture.send.test_send import parse_channel, send_test

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)


@lru_cache(maxsize=2)
def _limiter(broker_url: str) -> RateLimiter:
    from nurture.config import get_settings

    return make_limiter(get_settings())


def _status_of(exc: NurtureError) -> int:
    if isinstance(exc, TooManyRequestsError):
        return 429
    if isinstance(exc, NotFoundError | ScheduleError):
        return 404
    if isinstance(exc, SendError):
        return 502
    return 422


async def _fields(request: Request) -> tuple[dict[str, str], bool]:
    """The submitted fields, and whether they came as JSON."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data: Any = load_json(await request.body() or b"{}")
        except InvalidValueError as exc:
            return {"_invalid": str(exc)}, True
        if not isinstance(data, dict):
            return {"_invalid": "the body is not a JSON object"}, True
        return {k: str(v) for k, v in data.items() if v is not None}, True
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}, False


@router.post("/sequences/{sequence_id}/steps/{step_id}/test-send")
async def test_send(
    request: Request,
    sequence_id: str,
    step_id: str,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "send a test message")),
) -> Response:
    fields, as_json = await _fields(request)
    if "_invalid" in fields:
        return JSONResponse({"detail": fields["_invalid"]}, status_code=422)
    sample = fields.get("sample") or None
    try:
        channel = parse_channel(fields.get("channel", ""))
        result = await run_in_threadpool(
            lambda: send_test(
                settings=settings,
                catalog=_catalog(settings),
                renderer=renderer_for(settings.templates_dir),
                limiter=_limiter(settings.broker_url),
                sequence_id=sequence_id,
                step_id=step_id,
                channel=channel,
                to=fields.get("to", ""),
                sample=sample,
                now=now,
            )
        )
    except (
        InvalidValueError,
        NotFoundError,
        ScheduleError,
        TemplateError,
        TooManyRequestsError,
        SendError,
    ) as exc:
        status_code = _status_of(exc)
        headers = {}
        if isinstance(exc, TooManyRequestsError):
            headers["Retry-After"] = str(int(exc.retry_after_s + 0.999))
        if as_json:
            return JSONResponse({"detail": str(exc)}, status_code=status_code, headers=headers)
        return _refused(session, settings, now, sequence_id, step_id, fields, str(exc), status_code)
    await run_in_threadpool(
        record_request,
        request,
        session.actor,
        AuditAction.TEST_SEND,
        target=f"sequence:{sequence_id}",
        detail={"step": step_id, "channel": result.channel.value, "sample": result.sample},
    )
    if as_json:
        return JSONResponse(
            {
                "sent": True,
                "channel": result.channel.value,
                "provider": result.provider,
                "message_id": result.message_id,
                "to": result.to_masked,
                "sample": result.sample,
            }
        )
    query = urlencode(
        {
            "sample": result.sample,
            "sent": result.channel.value,
            "step": step_id,
            "via": result.provider,
        }
    )
    # Back at the result itself: in view, focused, and read out (role=status).
    target = f"/studio/sequences/{sequence_id}?{query}#sent-{step_id}-{result.channel.value}"
    return RedirectResponse(target, status_code=303)


def _catalog(settings: Settings) -> Any:
    catalog, problem = studio_catalog(settings)
    if catalog is None:
        raise ScheduleError(problem or "the schedule files do not load")
    return catalog


def _refused(
    session: Principal,
    settings: Settings,
    now: datetime,
    sequence_id: str,
    step_id: str,
    fields: dict[str, str],
    reason: str,
    status_code: int,
) -> Response:
    """The sequence page again, with the reason next to the form that was sent."""
    catalog, _ = studio_catalog(settings)
    try:
        if catalog is None:
            raise Missing(reason)
        sequence = find_sequence(catalog, sequence_id)
        find_step(sequence, step_id)
        sample_name, contact = find_sample(fields.get("sample") or None)
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
        send_error={
            "step": step_id,
            "channel": fields.get("channel", ""),
            "reason": reason,
            "to": fields.get("to", ""),
        },
        status_code=status_code,
    )
