"""`POST /v1/consultation-requests`: JSON or a website form post, to an enrollment."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from nurture.api.access import machine
from nurture.api.deps import client_ip, live_dep, now_dep
from nurture.content.live import LiveCatalog
from nurture.core.inputs import load_json
from nurture.db import session_scope
from nurture.errors import IntakeError, InvalidValueError, ScheduleError
from nurture.intake.loop import enroll_new_on_loop
from nurture.intake.pending import store_pending
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.service import submit

_M = TypeVar("_M", bound=BaseModel)

router = APIRouter(
    prefix="/v1", dependencies=[Depends(machine("send consultation requests"))], tags=["intake"]
)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_schema = ConsultationRequestIn.model_json_schema()
_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _schema},
            "application/x-www-form-urlencoded": {"schema": _schema},
        },
    }
}


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `{loc, msg, type}`, with the field named and no input echoed."""
    return [
        {
            "loc": ["body", *[str(p) for p in err["loc"]]],
            "msg": err["msg"].removeprefix("Value error, "),
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]


def unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": errors})


async def read_payload(request: Request) -> dict[str, Any] | JSONResponse:
    """The request body as a dict, from JSON or a form post; a 422 naming the problem else."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    raw = await request.body()
    try:
        data = load_json(raw or b"null")
    except InvalidValueError as exc:
        return unprocessable([{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}])
    if not isinstance(data, dict):
        return unprocessable(
            [{"loc": ["body"], "msg": "expected a JSON object", "type": "dict_type"}]
        )
    return data


async def read_model(request: Request, model: type[_M]) -> _M | JSONResponse:
    """The body (JSON or a form post) validated as `model`, or the 422 naming what is wrong."""
    payload = await read_payload(request)
    if isinstance(payload, JSONResponse):
        return payload
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        return unprocessable(field_errors(exc))


@router.post(
    "/consultation-requests",
    status_code=201,
    openapi_extra=_OPENAPI_BODY,
    responses={
        200: {"description": "already enrolled, or a replay of an Idempotency-Key"},
        422: {"description": "field errors"},
    },
)
async def create_consultation_request(
    request: Request,
    idempotency_key: str | None = Header(default=None, max_length=200),
    live: LiveCatalog = Depends(live_dep),
    now: datetime = Depends(now_dep),
) -> JSONResponse:
    """Enroll a prospect: 201 with the enrollment and its schedule (202 `pending` when no
    valid schedules were ever loaded: stored, and enrolled once the files are fixed)."""
    data = await read_model(request, ConsultationRequestIn)
    if isinstance(data, JSONResponse):
        return data
    content_type = request.headers.get("content-type", "")
    meta = RequestMeta(
        source="form" if content_type.startswith(_FORM_TYPES) else "api",
        ip=client_ip(request),
        user_agent=(request.headers.get("user-agent") or "")[:400] or None,
        consent_text_version=data.consent_text_version,
    )
    catalog = live.current
    if catalog is None:
        pending = await run_in_threadpool(
            _store_pending, data, now=now, meta=meta, idempotency_key=idempotency_key
        )
        return JSONResponse(status_code=202, content=pending)
    try:
        # A never-seen prospect is awaited here; anything else blocks on the database, so it
        # runs on the threadpool and the event loop keeps serving other requests meanwhile.
        outcome = None
        if idempotency_key is None:
            outcome = await enroll_new_on_loop(data, catalog=catalog, now=now, meta=meta)
        if outcome is None:
            outcome = await run_in_threadpool(
                submit, data, catalog=catalog, now=now, meta=meta, idempotency_key=idempotency_key
            )
    except IntakeError as exc:
        return JSONResponse(status_code=409, content={"detail": str(exc)})
    except ScheduleError as exc:
        return JSONResponse(status_code=503, content={"detail": f"schedules: {exc}"})
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(status_code=outcome.status_code, content=outcome.response, headers=headers)


def _store_pending(
    data: ConsultationRequestIn, *, now: datetime, meta: RequestMeta, idempotency_key: str | None
) -> dict[str, Any]:
    with session_scope() as session:
        return store_pending(session, data, now=now, meta=meta, idempotency_key=idempotency_key)
