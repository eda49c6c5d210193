"""`/forms/consultation`: the clinic's hosted consultation form, public (no API key).

The routes only translate: `intake/form.py` decides what a post becomes.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from nurture.api.deps import catalog_dep, client_ip, now_dep, settings_dep
from nurture.api.forms.page import (
    FORM_PATH,
    LOGO_PATH,
    THANKS_PATH,
    render,
)
from nurture.config import Settings, parse_limit
from nurture.errors import IntakeError, ScheduleError
from nurture.intake.form import FormPost, FormResult, kept_values, receive_form, version_field
from nurture.intake.formguard import HONEYPOT, TOKEN_FIELD, issue_token, origin_of
from nurture.intake.origins import allowed_origins
from nurture.schedule import Catalog
from nurture.schedule.form import concern_choices, form_wording

router = APIRouter(tags=["forms"])


def _form(
    settings: Settings,
    catalog: Catalog,
    *,
    token: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    confirm: bool = False,
    stale: bool = False,
    status_code: int = 200,
) -> Response:
    wording = form_wording(catalog)
    return render(
        "consultation.html.j2",
        settings=settings,
        catalog=catalog,
        status_code=status_code,
        action=FORM_PATH,
        choices=concern_choices(catalog),
        wording={c.value: w for c, w in wording.items()},
        version_fields={c.value: version_field(c) for c in wording},
        values=values or kept_values({}),
        errors=errors or {},
        token=token,
        token_field=TOKEN_FIELD,
        honeypot=HONEYPOT,
        confirm=confirm,
        stale=stale,
    )


@router.get(FORM_PATH, include_in_schema=False)
async def show_form(
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """The empty form, with a token saying when it was served."""
    return _form(settings, catalog, token=issue_token(settings.secret_key, now))


def _thanks(catalog: Catalog) -> RedirectResponse:
    return RedirectResponse(catalog.clinic.thanks_url or THANKS_PATH, status_code=303)


def _answer(result: FormResult, fields: dict[str, str], **common: Any) -> Response:
    settings: Settings = common["settings"]
    catalog: Catalog = common["catalog"]
    now: datetime = common["now"]
    if result.outcome in ("enrolled", "bot"):
        return _thanks(catalog)
    if result.outcome == "refused":
        return render("refused.html.j2", settings=settings, catalog=catalog, status_code=403)
    if result.outcome == "limited":
        _, window_s = parse_limit(settings.form_rate)
        return render(
            "limited.html.j2",
            settings=settings,
            catalog=catalog,
            status_code=429,
            extra_headers={"Retry-After": str(window_s)},
        )
    if result.outcome == "used":
        return render("used.html.j2", settings=settings, catalog=catalog, status_code=409)
    if result.outcome == "confirm":
        # A confirmation sent back too soon keeps its token: a new one would start again.
        too_soon = result.reason == "too_fresh"
        return _form(
            settings,
            catalog,
            token=fields.get(TOKEN_FIELD, "")
            if too_soon
            else issue_token(settings.secret_key, now, confirm=True),
            values=result.values,
            errors=result.errors,
            confirm=True,
            stale=result.reason == "stale",
            status_code=422 if result.errors else 200,
        )
    # invalid: the person's input comes back with errors, and the token stays unless it is
    # stale (a page left open for a day) or not ours.
    keep = result.reason in (None, "too_fresh")
    return _form(
        settings,
        catalog,
        token=fields.get(TOKEN_FIELD, "") if keep else issue_token(settings.secret_key, now),
        values=result.values,
        errors=result.errors,
        status_code=422,
    )


@router.post(FORM_PATH, include_in_schema=False)
async def post_form(
    request: Request,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """A form post: 303 to the thank-you page, or the form again with what to fix."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    own = tuple(
        o
        for o in (origin_of(settings.public_url), origin_of(str(request.base_url)))
        if o is not None
    )
    post = FormPost(
        fields=fields,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        origin=request.headers.get("origin"),
        referer=request.headers.get("referer"),
        own_origins=own,
        form_url=settings.public_url + FORM_PATH,
    )
    try:
        result = await run_in_threadpool(
            receive_form,
            post,
            settings=settings,
            catalog=catalog,
            wording=form_wording(catalog),
            now=now,
        )
    except (IntakeError, ScheduleError):
        return render("trouble.html.j2", settings=settings, catalog=catalog, status_code=503)
    return _answer(result, fields, settings=settings, catalog=catalog, now=now)


@router.get(THANKS_PATH, include_in_schema=False)
async def thanks(
    settings: Settings = Depends(settings_dep), catalog: Catalog = Depends(catalog_dep)
) -> Response:
    return render("thanks.html.j2", settings=settings, catalog=catalog)


@router.get(LOGO_PATH, include_in_schema=False)
async def logo(
    settings: Settings = Depends(settings_dep), catalog: Catalog = Depends(catalog_dep)
) -> Response:
    """The clinic's logo, from the schedules folder: the form loads nothing from elsewhere."""
    name = catalog.clinic.brand.logo
    if name is None:
        return Response(status_code=404)
    path = settings.schedules_dir / name
    content = await run_in_threadpool(path.read_bytes)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(
        content,
        media_type=media_type,
        headers={
            "Cache-Control": "public, max-age=3600",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(FORM_PATH + "/token", include_in_schema=False)
async def token(
    request: Request,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
) -> JSONResponse:
    """A fresh form token for a form pasted into the clinic's site (its script asks for one
    when the page loads); readable only by the clinic's listed sites."""
    headers = {"Cache-Control": "no-store", "Vary": "Origin"}
    origin = request.headers.get("origin")
    if origin and origin_of(origin) in await run_in_threadpool(allowed_origins, settings):
        headers["Access-Control-Allow-Origin"] = origin_of(origin) or ""
    return JSONResponse({TOKEN_FIELD: issue_token(settings.secret_key, now)}, headers=headers)
