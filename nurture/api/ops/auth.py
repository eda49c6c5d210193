"""Who may use `/ops` and `/studio`: the API key as a Bearer header, or a signed session
cookie from the login form (one login for both). Cookie sessions carry a CSRF token that
every POST must echo."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from fastapi import Depends, HTTPException, Request, Response, status
from itsdangerous import BadSignature, URLSafeTimedSerializer

from nurture.api.deps import settings_dep
from nurture.config import Settings

COOKIE_NAME = "nurture_ops"
#: The pages the session opens: /ops and /studio (SameSite=Strict keeps it to this site).
COOKIE_PATH = "/"
#: Where a login may send the browser back to.
PAGE_PREFIXES = ("/today", "/ops", "/studio")
SESSION_MAX_AGE_S = 12 * 3600
_SALT = "nurture.ops.session"
#: Where staff land after logging in.
LANDING = "/today"


@dataclass(frozen=True)
class OpsSession:
    """An authenticated ops user. `csrf` is empty for Bearer callers: a header is not sent
    by a browser on its own, so it cannot be forged cross-site."""

    via: Literal["bearer", "cookie"]
    csrf: str


def key_matches(settings: Settings, candidate: str) -> bool:
    """The API key, compared in constant time."""
    return hmac.compare_digest(candidate.encode(), settings.api_key.encode())


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=_SALT)


def _key_tag(settings: Settings) -> str:
    # Sessions name the key they were opened with, so rotating the key ends them all.
    return hmac.new(
        settings.secret_key.encode(), settings.api_key.encode(), hashlib.sha256
    ).hexdigest()[:16]


def _csrf_for(settings: Settings, session_id: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), f"csrf:{session_id}".encode(), hashlib.sha256
    ).hexdigest()


def current_session(request: Request, settings: Settings) -> OpsSession | None:
    """The caller's session from its Bearer header or its cookie; None if neither is valid."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return OpsSession("bearer", "") if key_matches(settings, token.strip()) else None
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    try:
        data = _signer(settings).loads(raw, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        return None
    if not hmac.compare_digest(str(data.get("key", "")), _key_tag(settings)):
        return None
    return OpsSession("cookie", _csrf_for(settings, data["sid"]))


def csrf_ok(session: OpsSession, submitted: str | None) -> bool:
    """A cookie session's POST must carry its CSRF token; a Bearer caller needs none."""
    if session.via == "bearer":
        return True
    return bool(submitted) and hmac.compare_digest(str(submitted), session.csrf)


def open_session(response: Response, request: Request, settings: Settings) -> None:
    """Set the signed, HttpOnly, SameSite=Strict session cookie on `response`."""
    value = _signer(settings).dumps({"sid": secrets.token_urlsafe(18), "key": _key_tag(settings)})
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=SESSION_MAX_AGE_S,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        # PUBLIC_URL says how people reach us; a forged X-Forwarded-Proto says nothing
        # (`api/proxies.py` believes one only from a trusted proxy).
        secure=settings.public_url.startswith("https://") or request.url.scheme == "https",
    )


def close_session(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="strict")


def require_ops(request: Request, settings: Settings = Depends(settings_dep)) -> OpsSession:
    """For JSON routes: a valid session, else 401."""
    session = current_session(request, settings)
    if session is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send Authorization: Bearer <NURTURE_API_KEY>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return session


def safe_next(target: str | None) -> str:
    """Only redirect within /today, /ops or /studio (no open redirect to another site);
    staff land on /today."""
    if target and target.startswith(PAGE_PREFIXES) and "//" not in target and "\\" not in target:
        return target
    return LANDING
