"""The clinic's calendar tools: `POST /webhooks/calendly` and `POST /webhooks/calcom`.

Each route checks the provider's signature on the raw body first (403 and nothing changes
when it is missing, wrong, stale, or the secret is not configured), turns the payload into
one `BookingEvent`, and hands it to `track/bookings.py`. A booking for nobody we know is
answered 200 (the provider must not retry it) and recorded unmatched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from nurture.api.deps import catalog_dep, now_dep, settings_dep
from nurture.config import Settings
from nurture.db import session_scope
from nurture.schedule.catalog import Catalog
from nurture.track import calcom, calendly
from nurture.track.bookings import apply_booking_event
from nurture.track.events import BookingEvent

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _forbidden(provider: str, why: str) -> HTTPException:
    log.warning("webhook.refused", provider=provider, reason=why)
    return HTTPException(status_code=403, detail=f"{provider} signature {why}")


async def _apply(
    provider: str,
    payload: bytes,
    parse: Callable[[bytes], BookingEvent | None],
    catalog: Catalog,
    now: datetime,
) -> JSONResponse:
    try:
        event = parse(payload)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise HTTPException(status_code=400, detail=f"not a {provider} webhook: {exc}") from None
    if event is None:
        return JSONResponse({"applied": False, "ignored": "not a booking event"})

    def apply() -> dict[str, object]:
        with session_scope() as session:
            return apply_booking_event(session, event, catalog=catalog, now=now).as_json()

    return JSONResponse(await run_in_threadpool(apply))


@router.post("/calendly")
async def calendly_webhook(
    request: Request,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> JSONResponse:
    """Calendly's `invitee.created` / `invitee.canceled`, signed with the signing key."""
    if not settings.calendly_signing_key:
        raise _forbidden("calendly", "cannot be checked: NURTURE_CALENDLY_SIGNING_KEY unset")
    payload = await request.body()
    header = request.headers.get(calendly.SIGNATURE_HEADER)
    if not calendly.verify_signature(settings.calendly_signing_key, payload, header, now=now):
        raise _forbidden("calendly", "missing, wrong or stale")
    return await _apply("Calendly", payload, calendly.parse_event, catalog, now)


@router.post("/calcom")
async def calcom_webhook(
    request: Request,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> JSONResponse:
    """Cal.com's `BOOKING_CREATED` / `_RESCHEDULED` / `_CANCELLED`, signed with the secret."""
    if not settings.calcom_secret:
        raise _forbidden("calcom", "cannot be checked: NURTURE_CALCOM_SECRET unset")
    payload = await request.body()
    signature = request.headers.get(calcom.SIGNATURE_HEADER)
    if not calcom.verify_signature(settings.calcom_secret, payload, signature):
        raise _forbidden("calcom", "missing or wrong")
    return await _apply("Cal.com", payload, calcom.parse_event, catalog, now)
