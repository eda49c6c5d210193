"""Webhook requests signed the way Twilio and SendGrid sign them, with their SDKs' own tools."""

from __future__ import annotations

import base64
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
