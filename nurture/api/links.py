"""Links in messages: unsubscribe (`/u/{token}`) and booking (`/b/{token}`).

`GET /u/{token}` only shows a confirmation page (mail scanners open links); `POST /u/{token}`
unsubscribes, from that page's button or as RFC 8058 one-click from the mail client's own
button (`List-Unsubscribe=One-Click`): no auth, no cookies, 200. Tokens are signed per
contact and channel with SECRET_KEY.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from nurture.api.deps import catalog_dep, client_ip, now_dep, settings_dep
from nurture.api.headers import PAGE_HEADERS
from nurture.config import Settings
from nurture.content.links import read_booking_token, read_unsubscribe_token
from nurture.core.addressing import address_of, mask
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import Contact
from nurture.errors import InvalidToken
from nurture.schedule.catalog import Catalog
from nurture.steering.consent import opt_out
from nurture.track.clicks import record_booking_click

router = APIRouter(tags=["links"])
_pages = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(default=True),
)
_CHANNEL_WORDS = {Channel.EMAIL: "emails", Channel.SMS: "text messages"}


def _page(name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    html = _pages.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def _contact_for(settings: Settings, token: str) -> tuple[Contact, Channel] | None:
    try:
        data = read_unsubscribe_token(settings.secret_key, token)
    except InvalidToken:
        return None
    with session_scope() as session:
        contact = session.get(Contact, data.contact_id)
        if contact is None:
            return None
        session.expunge(contact)
    return contact, data.channel


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(
    token: str,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
) -> HTMLResponse:
    """The confirmation page; nothing changes until its button is pressed."""
    found = _contact_for(settings, token)
    if found is None:
        return _page("invalid_link.html.j2", 404, clinic=catalog.clinic)
    contact, channel = found
    address = address_of(contact, channel) or ""
    return _page(
        "unsubscribe.html.j2",
        clinic=catalog.clinic,
        what=_CHANNEL_WORDS[channel],
        address=mask(address),
    )


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(
    token: str,
    request: Request,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> HTMLResponse:
    """Unsubscribe the link's contact from the link's channel (RFC 8058 one-click too)."""
    body = (await request.body())[:200].decode("utf-8", "replace")
    try:
        data = read_unsubscribe_token(settings.secret_key, token)
    except InvalidToken:
        return _page("invalid_link.html.j2", 404, clinic=catalog.clinic)
    evidence = {
        "link": "unsubscribe",
        "one_click": "List-Unsubscribe=One-Click" in body,
        "ip": client_ip(request),
        "user_agent": (request.headers.get("user-agent") or "")[:400] or None,
    }

    def apply() -> bool:
        with session_scope() as session:
            contact = session.get(Contact, data.contact_id)
            if contact is None:
                return False
            opt_out(
                session,
                contact,
                data.channel,
                source="link",
                evidence=evidence,
                now=now,
                catalog=catalog,
            )
            return True

    if not await run_in_threadpool(apply):
        return _page("invalid_link.html.j2", 404, clinic=catalog.clinic)
    return _page("unsubscribed.html.j2", clinic=catalog.clinic, what=_CHANNEL_WORDS[data.channel])


@router.get("/b/{token}", response_class=RedirectResponse, status_code=302)
def booking_link(
    token: str,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> RedirectResponse:
    """Record the click on the delivery it came from, then go to the clinic's booking page."""
    try:
        data = read_booking_token(settings.secret_key, token)
    except InvalidToken:
        data = None  # a mangled link still takes the prospect where they wanted to go
    if data is not None:
        with session_scope() as session:
            record_booking_click(session, data, now=now)
    return RedirectResponse(catalog.clinic.booking_url, status_code=302)
