"""`/studio/settings`: the clinic (clinic.yaml) as a form. Any staff member reads it; a
manager saves it, as a draft of clinic.yaml that nothing sends from until it is published.

`POST /studio/settings` takes the page's form (CSRF) or JSON `{field: value}` (Bearer, or a
session with its CSRF): 200 `{"draft": true, "changed": [...]}` or 422 `{"errors": {field:
message}}`. The checks are `edit/settings.py`'s; nothing is saved when any value is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, need
from nurture.api.auditing import record_request
from nurture.api.deps import settings_dep
from nurture.api.studio.shared import studio_page
from nurture.config import Settings
from nurture.core.inputs import load_json
from nurture.edit.checks import zone_names
from nurture.edit.drafts import Conflict, Drafts
from nurture.edit.fields import FIELDS, SECTIONS, Field
from nurture.edit.files import CatalogFiles
from nurture.edit.settings import Edit, current, edit, is_example
from nurture.errors import InvalidValueError, ScheduleError
from nurture.people.audit import AuditAction
from nurture.people.roles import Role
from nurture.schedule.catalog import PLACEHOLDER
from nurture.schedule.delays import WEEKDAYS

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)

#: clinic.yaml, as the drafts and versions name it.
CLINIC_PATH = "schedules/clinic.yaml"
DAY_NAMES = dict(
    zip(
        WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


@dataclass(frozen=True)
class Row:
    """One field as the page shows it: its text (or choices), the example it still holds,
    and what is wrong with what was typed."""

    field: Field
    value: Any
    example: str | None
    error: str | None


def _drafts(settings: Settings) -> Drafts:
    return Drafts(CatalogFiles.of(settings))


def _shown(f: Field, value: Any) -> Any:
    """A value as its box shows it: lists one per line, days and videos as they are."""
    if f.kind in ("weekdays", "videos"):
        return value or []
    if isinstance(value, list):
        return "\n".join(v.isoformat() if hasattr(v, "isoformat") else str(v) for v in value)
    return "" if value is None else str(value)


def _hint(value: Any) -> str:
    """The example as a box's grey hint, its CHANGE-ME marks taken out: "CHANGE-ME: +1 617
    555 0100" hints "+1 617 555 0100", "https://change-me.example/CHANGE-ME/book" hints
    "https://your-clinic.example/book"."""
    text = str(value).rstrip("\n").replace(f"{PLACEHOLDER}: ", "")
    text = re.sub(rf"[./]?{PLACEHOLDER}", "", text).replace("change-me.", "your-clinic.")
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def _video_rows(
    now: list[tuple[str, str]], shown: list[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """Each video as (name, link, hint): a link still the example shows empty with its
    hint, also when the form came back with it left empty."""
    examples = {name: url for name, url in now if is_example(url)}
    rows = []
    for name, url in shown:
        if not name and not url:
            continue
        example = examples.get(name) if not url or is_example(url) else None
        rows.append((name, "" if is_example(url) else url, _hint(example) if example else ""))
    return rows


def _rows(values: dict[str, Any], typed: dict[str, Any], errors: dict[str, str]) -> list[Row]:
    rows = []
    for f in FIELDS:
        value = values[f.name]
        example = _hint(value) if is_example(value) and f.kind != "videos" else None
        if f.name in typed:
            shown = typed[f.name]
        elif example is not None:
            shown = ""
        else:
            shown = _shown(f, value)
        if f.kind == "videos":
            shown = [*_video_rows(value, typed.get(f.name, value)), ("", "", "")]
        rows.append(Row(f, shown, example, errors.get(f.name)))
    return rows


def _page(
    session: Principal,
    settings: Settings,
    *,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> Response:
    drafts = _drafts(settings)
    text = drafts.text(CLINIC_PATH) or ""
    draft = drafts.get(CLINIC_PATH)
    values = current(text)
    errors = errors or {}
    rows = _rows(values, typed or {}, errors)
    return studio_page(
        "settings.html.j2",
        status_code=status_code,
        session=session,
        title="Clinic settings",
        sections=[
            (sid, heading, about, [r for r in rows if r.field.section == sid])
            for sid, heading, about in SECTIONS
        ],
        errors=errors,
        draft=draft,
        examples=sum(1 for r in rows if r.example)
        + sum(1 for r in rows if r.field.kind == "videos" for v in r.value if v[2]),
        may_edit=session.may(Role.MANAGER),
        zones=zone_names(),
        day_names=DAY_NAMES,
        flash=flash,
        here="/studio/settings",
    )


@router.get("/settings")
def settings_page(
    saved: int = Query(0, ge=0, le=1),
    settings: Settings = Depends(settings_dep),
    session: Principal = Depends(need(Role.VIEWER, "see the clinic settings")),
) -> Response:
    flash = "Saved as a draft: not used until you publish." if saved else None
    return _page(session, settings, flash=flash)


async def _typed(request: Request) -> tuple[dict[str, Any], bool]:
    """The values sent ({field: value}) and whether as JSON. A form sends every field:
    a day not ticked is a day open."""
    if request.headers.get("content-type", "").startswith("application/json"):
        data = load_json(await request.body() or b"{}")
        if not isinstance(data, dict):
            raise InvalidValueError("the body is not a JSON object of {field: value}")
        return {k: v for k, v in data.items() if k != "csrf_token"}, True
    form = await request.form()
    typed: dict[str, Any] = {}
    for f in FIELDS:
        if f.kind == "weekdays":
            typed[f.name] = [v for v in form.getlist(f.name) if isinstance(v, str)]
        elif f.kind == "videos":
            names = [str(v) for v in form.getlist("video_name")]
            urls = [str(v) for v in form.getlist("video_url")]
            typed[f.name] = list(zip(names, urls, strict=False))
        elif isinstance(form.get(f.name), str):
            typed[f.name] = form.get(f.name)
    return typed, False


def _save(settings: Settings, typed: dict[str, Any], by: str) -> tuple[Edit, bool]:
    """The edit, kept as the draft of clinic.yaml when it changes anything; and whether a
    draft waits now (a save back to the file's own values leaves none)."""
    drafts = _drafts(settings)
    text = drafts.text(CLINIC_PATH)
    if text is None:
        raise ScheduleError("there is no clinic.yaml in the schedules folder to edit")
    result = edit(text, typed)
    if result.changed and not result.errors:
        drafts.save(CLINIC_PATH, result.text, by=by)
    return result, drafts.get(CLINIC_PATH) is not None


@router.post("/settings")
async def save_settings(
    request: Request,
    settings: Settings = Depends(settings_dep),
    session: Principal = Depends(need(Role.MANAGER, "change the clinic settings")),
) -> Response:
    try:
        typed, as_json = await _typed(request)
    except InvalidValueError as exc:
        return JSONResponse({"errors": {"_body": str(exc)}}, status_code=422)
    try:
        result, waiting = await run_in_threadpool(_save, settings, typed, session.name)
    except (Conflict, ScheduleError) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        if as_json:
            return JSONResponse({"errors": {"_file": str(exc)}}, status_code=status)
        return _page(session, settings, typed=typed, errors={"_file": str(exc)}, status_code=status)
    if result.errors:
        if as_json:
            return JSONResponse({"errors": result.errors}, status_code=422)
        return _page(session, settings, typed=typed, errors=result.errors, status_code=422)
    if result.changed:
        await run_in_threadpool(
            record_request,
            request,
            session.actor,
            AuditAction.SETTINGS_CHANGED,
            target=CLINIC_PATH,
            detail={"fields": ", ".join(result.changed), "draft": True},
        )
    if as_json:
        return JSONResponse({"draft": waiting, "changed": result.changed})
    if not result.changed:
        return _page(session, settings, flash="Nothing changed: every value is as it was.")
    return RedirectResponse("/studio/settings?saved=1", status_code=303)
