"""`POST /webhooks/sendgrid/inbound`: email replies, as SendGrid Inbound Parse posts them.

Inbound Parse signs nothing, so the Parse URL carries HTTP basic auth credentials
(`https://USER:PASSWORD@host/webhooks/sendgrid/inbound`) that must match
NURTURE_SENDGRID_INBOUND_USER / _PASSWORD: missing or wrong, 401 and nothing is read. Not
configured: 503 for every post (SendGrid keeps retrying a 5xx for three days, so replies
wait instead of being lost while the credentials are being set).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.deps import catalog_dep, now_dep, settings_dep
from nurture.config import Settings
from nurture.db import session_scope
from nurture.schedule.catalog import Catalog
from nurture.track.email_inbound import apply_inbound_email, parse_inbound_email

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: Inbound Parse posts whole emails, attachments included (SendGrid accepts up to 30 MB).
INBOUND_MAX_BODY_BYTES = 30 * 1024 * 1024


def _credentials_ok(settings: Settings, header: str | None) -> bool:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        user, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(user.encode(), settings.sendgrid_inbound_user.encode())
    password_ok = hmac.compare_digest(
        password.encode(), settings.sendgrid_inbound_password.encode()
    )
    return bool(sep) and user_ok and password_ok


@router.post("/sendgrid/inbound", status_code=200)
async def sendgrid_inbound(
    request: Request,
    settings: Settings = Depends(settings_dep),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """An email reply from Inbound Parse: pause, list, forward and notify (once per Message-ID)."""
    if not (settings.sendgrid_inbound_user and settings.sendgrid_inbound_password):
        log.warning("webhook.refused", provider="sendgrid_inbound", reason="not configured")
        raise HTTPException(
            status_code=503,
            detail="Inbound Parse is not configured: set NURTURE_SENDGRID_INBOUND_USER "
            "and NURTURE_SENDGRID_INBOUND_PASSWORD",
        )
    if not _credentials_ok(settings, request.headers.get("authorization")):
        log.warning("webhook.refused", provider="sendgrid_inbound", reason="credentials")
        raise HTTPException(
            status_code=401,
            detail="missing or wrong basic auth credentials",
            headers={"WWW-Authenticate": 'Basic realm="nurture inbound"'},
        )
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    await form.close()
    if "from" not in fields and "headers" not in fields:
        raise HTTPException(
            status_code=400, detail="expected an Inbound Parse post (fields from, headers, text)"
        )
    email = parse_inbound_email(fields)

    def apply() -> str:
        with session_scope() as session:
            return apply_inbound_email(
                session,
                email,
                catalog=catalog,
                secret=settings.secret_key,
                domain=settings.inbound_email_domain,
                public_url=settings.public_url,
                now=now,
            )

    outcome = await run_in_threadpool(apply)
    return Response(content=outcome, media_type="text/plain")
