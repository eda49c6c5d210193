"""Webhook requests signed the way Twilio and SendGrid sign them, with their SDKs' own tools."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from httpx import Response
from twilio.request_validator import RequestValidator

from nurture.track.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.conftest import TWILIO_AUTH_TOKEN

PUBLIC_URL = "https://nurture.test"


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def post_twilio(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    query: str = "",
    token: str = TWILIO_AUTH_TOKEN,
    signature: str | None = None,
) -> Response:
    """POST a form to `path` signed for PUBLIC_URL + path (+ query), as Twilio does."""
    target = f"{path}?{query}" if query else path
    if signature is None:
        signature = twilio_signature(f"{PUBLIC_URL}{target}", params, token)
    return client.post(target, data=params, headers={"X-Twilio-Signature": signature})


def sign_sendgrid(key: ec.EllipticCurvePrivateKey, payload: str, timestamp: str) -> str:
    """SendGrid's Event Webhook signature: ECDSA P-256 / SHA-256 over timestamp + body."""
    der = key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode()


def post_sendgrid(
    client: TestClient,
    key: ec.EllipticCurvePrivateKey,
    events: list[dict[str, Any]],
    *,
    tamper: bool = False,
    age_s: int = 0,
) -> Response:
    payload = json.dumps(events)
    timestamp = str(int(time.time()) - age_s)
    signature = sign_sendgrid(key, payload, timestamp)
    if tamper:
        payload = payload.replace("delivered", "bounce")
    return client.post(
        "/webhooks/sendgrid/events",
        content=payload,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            TIMESTAMP_HEADER: timestamp,
        },
    )


CALENDLY_SIGNING_KEY = "calendly-signing-key-for-tests"
CALCOM_SECRET = "calcom-secret-for-tests"


def calendly_signature(
    body: bytes, *, key: str = CALENDLY_SIGNING_KEY, at: int | None = None
) -> str:
    """`Calendly-Webhook-Signature`: t=<unix>,v1=hex HMAC-SHA256 of `t + "." + body`."""
    stamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def calcom_signature(body: bytes, *, secret: str = CALCOM_SECRET) -> str:
    """`X-Cal-Signature-256`: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def calendly_invitee(
    event: str = "invitee.created",
    *,
    email: str | None = "robin@example.com",
    phone: str | None = None,
    invitee: str = "https://api.calendly.com/scheduled_events/EV1/invitees/INV1",
) -> dict[str, Any]:
    """A Calendly v2 `invitee.*` webhook body (fields as Calendly documents them)."""
    return {
        "event": event,
        "created_at": "2026-03-03T12:00:00.000000Z",
        "created_by": "https://api.calendly.com/users/USER1",
        "payload": {
            "uri": invitee,
            "email": email,
            "name": "Robin Example",
            "first_name": None,
            "last_name": None,
            "status": "canceled" if event == "invitee.canceled" else "active",
            "text_reminder_number": phone,
            "timezone": "America/New_York",
            "event": "https://api.calendly.com/scheduled_events/EV1",
            "scheduled_event": {
                "uri": "https://api.calendly.com/scheduled_events/EV1",
                "name": "Phone consultation",
                "start_time": "2026-03-10T15:00:00.000000Z",
                "end_time": "2026-03-10T15:15:00.000000Z",
                "status": "active",
            },
            "cancel_url": "https://calendly.com/cancellations/INV1",
            "reschedule_url": "https://calendly.com/reschedulings/INV1",
            "rescheduled": False,
            "questions_and_answers": [],
            "created_at": "2026-03-03T12:00:00.000000Z",
            "updated_at": "2026-03-03T12:00:00.000000Z",
        },
    }


def calcom_booking(
    trigger: str = "BOOKING_CREATED",
    *,
    email: str | None = "robin@example.com",
    phone: str | None = None,
    uid: str = "bk-uid-1",
) -> dict[str, Any]:
    """A Cal.com webhook body (fields as Cal.com documents them)."""
    attendee: dict[str, Any] = {"email": email, "name": "Robin Example", "timeZone": "UTC"}
    if phone:
        attendee["phoneNumber"] = phone
    return {
        "triggerEvent": trigger,
        "createdAt": "2026-03-03T12:00:00.000Z",
        "payload": {
            "type": "phone-consultation",
            "title": "Phone consultation between Clinic and Robin Example",
            "uid": uid,
            "bookingId": 101,
            "startTime": "2026-03-10T15:00:00Z",
            "endTime": "2026-03-10T15:15:00Z",
            "organizer": {"email": "clinic@example.com", "name": "Clinic", "timeZone": "UTC"},
            "attendees": [attendee],
            "responses": {"email": {"label": "Email", "value": email}},
            "status": "CANCELLED" if trigger == "BOOKING_CANCELLED" else "ACCEPTED",
        },
    }


def calendly_request(body: dict[str, Any], **sign: Any) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "Calendly-Webhook-Signature": calendly_signature(raw, **sign),
    }
    return raw, headers


def calcom_request(body: dict[str, Any], **sign: Any) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Cal-Signature-256": calcom_signature(raw, **sign),
    }
    return raw, headers
