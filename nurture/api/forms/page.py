"""Rendering the hosted form's pages: one Jinja environment, the clinic's brand, and the
headers that keep the page strict (a nonce for its one inline script and style, framed only
by the clinic's own sites)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from nurture.config import Settings
from nurture.edit.checks import BadValue, to_e164
from nurture.intake.formguard import origin_of
from nurture.intake.origins import allowed_origins
from nurture.schedule import Catalog
from nurture.schedule.catalog import PLACEHOLDER
from nurture.schedule.clinic import Clinic

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "forms"
FORM_PATH = "/forms/consultation"
THANKS_PATH = "/forms/consultation/thanks"
LOGO_PATH = "/forms/consultation/logo"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tel"] = tel
    return env


def tel(phone: str) -> str:
    """A `tel:` link's number: +16175550100 for "(617) 555-0100", as written if it does
    not parse."""
    try:
        return to_e164(phone)
    except BadValue:
        return "".join(phone.split())


def public_clinic(clinic: Clinic) -> Clinic:
    """The clinic as prospects may see it: a value still the shipped example (CHANGE-ME) is
    left empty, so the page leaves its line out rather than show the example."""
    examples = {
        key: ""
        for key, value in clinic.model_dump().items()
        if isinstance(value, str) and PLACEHOLDER in value
    }
    return clinic.model_copy(update=examples)


def frame_ancestors(settings: Settings) -> str:
    """Our own pages and the clinic's allowed sites (setting and recorded) may frame the form."""
    return " ".join(("'self'", *allowed_origins(settings)))


def headers(settings: Settings, catalog: Catalog, nonce: str) -> dict[str, str]:
    """Nothing from elsewhere; posts only to us (and the clinic's thank-you page, which a
    post is redirected to); framed only by our own and the clinic's sites."""
    form_action = "'self'"
    thanks = origin_of(catalog.clinic.thanks_url)
    if thanks:
        form_action += f" {thanks}"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            f"img-src 'self'; form-action {form_action}; base-uri 'none'; "
            f"frame-ancestors {frame_ancestors(settings)}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-store",
    }


def render(
    template: str,
    *,
    settings: Settings,
    catalog: Catalog,
    status_code: int = 200,
    extra_headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """`template` (under templates/forms) in the clinic's colours, with the form's headers."""
    nonce = secrets.token_urlsafe(16)
    clinic = public_clinic(catalog.clinic)
    html = (
        environment()
        .get_template(template)
        .render(
            clinic=clinic,
            brand=clinic.brand,
            logo_url=LOGO_PATH if clinic.brand.logo else None,
            nonce=nonce,
            **context,
        )
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={**headers(settings, catalog, nonce), **(extra_headers or {})},
    )
