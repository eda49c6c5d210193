"""`/studio/.../preview.html`: a step's email HTML exactly as the provider would be handed it
(layout, inlined CSS, links), for the studio's sandboxed iframe. Never runs a script."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape

from nurture.api.access import Principal, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.headers import clinic_origins
from nurture.api.studio.shared import (
    Missing,
    find_sample,
    find_sequence,
    find_step,
    renderer_for,
    studio_catalog,
)
from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import StepChannel
from nurture.core.states import Channel
from nurture.errors import TemplateError
from nurture.people.roles import Role
from nurture.schedule.catalog import Catalog

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)

#: No script at all; styles inline (as in an email); images from here and from the sites
#: the clinic's own links name (`clinic_origins`), nowhere else; framed only by our pages.
PREVIEW_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'none'; base-uri 'none'; "
        "frame-ancestors 'self'; sandbox"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def preview_headers(catalog: Catalog) -> dict[str, str]:
    """PREVIEW_HEADERS, its images allowed from the clinic's own sites too."""
    origins = " ".join(clinic_origins(catalog.clinic))
    if not origins:
        return PREVIEW_HEADERS
    csp = PREVIEW_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' data:", f"img-src 'self' data: {origins}"
    )
    return {**PREVIEW_HEADERS, "Content-Security-Policy": csp}


def plain_page(status_code: int, title: str, message: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<body style="font-family:system-ui,sans-serif;padding:1rem;color:#b42318">'
        f'<h1 style="font-size:1.1rem">{escape(title)}</h1><p>{escape(message)}</p></body></html>'
    )
    return HTMLResponse(body, status_code=status_code, headers=PREVIEW_HEADERS)


@router.get("/sequences/{sequence_id}/steps/{step_id}/preview.html")
def preview(
    sequence_id: str,
    step_id: str,
    sample: str | None = None,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    _caller: Principal = Depends(need(Role.VIEWER, "preview an email")),
) -> Response:
    catalog, problem = studio_catalog(settings)
    if catalog is None:
        return plain_page(503, "The schedule files do not load", problem or "")
    try:
        sequence = find_sequence(catalog, sequence_id)
        step = find_step(sequence, step_id)
        _, contact = find_sample(sample)
    except Missing as exc:
        return plain_page(404, "Not found", str(exc))
    if Channel.EMAIL not in step.channels:
        return plain_page(404, "Not found", f"Step {step_id!r} sends no email.")
    try:
        composer = Composer(renderer_for(settings.templates_dir), settings, catalog)
        _, message = composer.sample(StepChannel(sequence, step, Channel.EMAIL), contact, now)
    except TemplateError as exc:
        return plain_page(422, "This email does not render", str(exc))
    return HTMLResponse(message.html or "", headers=preview_headers(catalog))
