"""`/studio/history`: every published version (JSON with `Accept: application/json`), and a
rollback to one of them, confirmed on a page of its own first
(`GET|POST /studio/history/{version}/rollback`). The work is `nurture.edit.history`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, need
from nurture.api.deps import client_ip, settings_dep
from nurture.api.params import RowId
from nurture.api.studio.fields import submitted, wants_json
from nurture.api.studio.publish import MAX_NOTE, _done
from nurture.api.studio.shared import studio_page
from nurture.config import Settings
from nurture.edit.diffs import describe_path
from nurture.edit.drafts import Conflict
from nurture.edit.files import CatalogFiles
from nurture.edit.history import UnknownVersion, rollback, version_files, versions
from nurture.edit.publish import NothingToPublish, Refused
from nurture.errors import InvalidValueError
from nurture.people.roles import Role

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)


@router.get("/history")
def history(
    request: Request,
    settings: Settings = Depends(settings_dep),
    session: Principal = Depends(need(Role.VIEWER, "see the published versions")),
) -> Response:
    shown = versions()
    if wants_json(request):
        return JSONResponse([v.to_json() for v in shown])
    return studio_page(
        "history.html.j2",
        session=session,
        versions=shown,
        latest=shown[0].version if shown else None,
        describe_path=describe_path,
        here="/studio/history",
    )


def _would_change(settings: Settings, version: int) -> list[str]:
    """The paths a rollback to `version` would write or remove."""
    target = version_files(version)
    now = CatalogFiles.of(settings).all()
    return sorted(p for p in set(now) | set(target) if now.get(p) != target.get(p))


@router.get("/history/{version}/rollback")
def confirm_rollback(
    version: RowId,
    settings: Settings = Depends(settings_dep),
    session: Principal = Depends(need(Role.MANAGER, "roll back to an earlier version")),
) -> Response:
    try:
        paths = _would_change(settings, version)
    except UnknownVersion as exc:
        return _refused(session, 404, str(exc), version)
    return studio_page(
        "rollback.html.j2",
        session=session,
        version=version,
        paths=paths,
        describe_path=describe_path,
        problem=None,
        findings=[],
        here="/studio/history",
    )


@router.post("/history/{version}/rollback")
async def roll_back(
    request: Request,
    version: RowId,
    settings: Settings = Depends(settings_dep),
    session: Principal = Depends(need(Role.MANAGER, "roll back to an earlier version")),
) -> Response:
    try:
        fields, as_json = await submitted(request)
    except InvalidValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    note = fields.get("note", "").strip()[:MAX_NOTE] or None
    try:
        done = await run_in_threadpool(
            lambda: rollback(
                version, session.actor, settings=settings, note=note, ip=client_ip(request)
            )
        )
    except UnknownVersion as exc:
        return _answer(session, as_json, 404, str(exc), version)
    except (Conflict, NothingToPublish) as exc:
        body: dict[str, Any] = {"paths": exc.paths} if isinstance(exc, Conflict) else {}
        return _answer(session, as_json, 409, str(exc), version, **body)
    except Refused as exc:
        if as_json:
            return JSONResponse(
                {"detail": str(exc), "findings": [f.to_json() for f in exc.findings]},
                status_code=422,
            )
        return _refused(session, 422, str(exc), version, findings=exc.errors)
    return _done(session, done, as_json, rollback_of=version)


def _answer(
    session: Principal, as_json: bool, status_code: int, reason: str, version: int, **more: Any
) -> Response:
    if as_json:
        return JSONResponse({"detail": reason, **more}, status_code=status_code)
    return _refused(session, status_code, reason, version)


def _refused(
    session: Principal,
    status_code: int,
    reason: str,
    version: int,
    findings: list[Any] | None = None,
) -> Response:
    return studio_page(
        "rollback.html.j2",
        status_code=status_code,
        session=session,
        version=version,
        paths=[],
        describe_path=describe_path,
        problem=reason,
        findings=findings or [],
        here="/studio/history",
    )
