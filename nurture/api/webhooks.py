"""Provider webhooks: Twilio inbound texts and status callbacks, SendGrid's event webhook.

Each route verifies the provider's signature first (403 and nothing changes otherwise),
turns the payload into normalised events, and hands them to the service layer. Twilio gets
TwiML back: the one confirmation a keyword earns is the `<Message>` in the answer, so Twilio
sends it itself, once, and a retried webhook (same MessageSid) answers an empty `<Response/>`.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.twiml.messaging_response import MessagingResponse

from nurture.api.deps import catalog_dep, now_dep, settings_dep
from nurture.api.params import EchoedId
from nurture.config import Settings
from nurture.db import session_scope
from nurture.errors import InvalidPublicKey
from nurture.schedule.catalog import Catalog
from nurture.track import sendgrid as sendgrid_hooks
from nurture.track import twilio as twilio_hooks
from nurture.track.events import TrackingEvent
from nurture.track.inbound import apply_inbound
from nurture.track.reports import apply_tracking_event

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: SendGrid posts batches of events; they may be far larger than an intake request.
SENDGRID_MAX_BODY_BYTES = 5 * 1024 * 1024


def _forbidden(provider: str, why: str) -> HTTPException:
    log.warning("webhook.refused", provider=provider, reason=why)
    return HTTPException(status_code=403, detail=f"{provider} signature {why}")


async def _twilio_form(request: Request, settings: Settings) -> dict[str, str]:
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    url = twilio_hooks.signed_url(settings.public_url, request.url.path, request.url.query)
    signature = request.headers.get(twilio_hooks.SIGNATURE_HEADER)
    if not twilio_hooks.verify_signature(settings.twilio_auth_token, url, params, signature):
        raise _forbidden("twilio", "missing or wrong" if settings.twilio_auth_token else "unset")
    return params


def _twiml(reply: str | None) -> Response:
    answer = MessagingResponse()
    if reply:
        answer.message(reply)
    return Response(content=str(answer), media_type="application/xml")


@router.post("/twilio/inbound", response_class=Response)
async def twilio_inbound(
    request: Request,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """A text to the clinic's number: keywords, HELP, or a reply for the clinic (TwiML back)."""
    params = await _twilio_form(request, settings)
    message = twilio_hooks.parse_inbound(params)
    if message is None:
        return _twiml(None)

    def apply() -> str | None:
        with session_scope() as session:
            return apply_inbound(
                session, message, catalog=catalog, now=now, public_url=settings.public_url
            )

    return _twiml(await run_in_threadpool(apply))


@router.post("/twilio/status", status_code=204, response_class=Response)
async def twilio_status(
    request: Request,
    d: EchoedId | None = None,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """A message status callback (`d`: the delivery id our callback URL names): the SMS
    delivery Twilio accepted under that MessageSid moves forward, never back."""
    params = await _twilio_form(request, settings)
    events = twilio_hooks.parse_status(params, d)
    await run_in_threadpool(_apply_events, events, catalog, now)
    return Response(status_code=204)


@router.post("/sendgrid/events", status_code=204, response_class=Response)
async def sendgrid_events(
    request: Request,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """SendGrid's signed event batch: delivered, bounce, dropped, spamreport, unsubscribe."""
    if not settings.sendgrid_webhook_public_key:
        raise _forbidden("sendgrid", "cannot be checked: NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY unset")
    payload = await request.body()
    try:
        valid = sendgrid_hooks.verify_signature(
            settings.sendgrid_webhook_public_key,
            payload,
            request.headers.get(sendgrid_hooks.SIGNATURE_HEADER),
            request.headers.get(sendgrid_hooks.TIMESTAMP_HEADER),
            now=now,
        )
    except InvalidPublicKey:
        raise _forbidden(
            "sendgrid", "cannot be checked: NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY is invalid"
        ) from None
    if not valid:
        raise _forbidden("sendgrid", "missing, wrong or stale")
    try:
        events = sendgrid_hooks.parse_events(payload)
    except ValueError as exc:  # InvalidValueError too: invalid, too deep, not an array
        raise HTTPException(status_code=400, detail=str(exc)) from None
    await run_in_threadpool(_apply_events, events, catalog, now)
    return Response(status_code=204)


def _apply_events(events: list[TrackingEvent], catalog: Catalog, now: datetime) -> None:
    # One transaction per event: a batch with one bad event still applies the rest, and a
    # retried batch skips what was applied.
    for event in events:
        with session_scope() as session:
            apply_tracking_event(session, event, now=now, catalog=catalog)
