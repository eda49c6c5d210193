"""The session cookie and the shared key: how a browser carries its session (a random token,
looked up on the server by `people/sessions.py`), and how the NURTURE_API_KEY is compared.
Who may do what is `api/access.py`."""

from __future__ import annotations

import hmac

from fastapi import Request, Response

from nurture.config import Settings

COOKIE_NAME = "nurture_ops"
COOKIE_PATH = "/"
#: Where a sign-in may send the browser back to.
PAGE_PREFIXES = ("/ops", "/studio", "/account", "/users", "/tokens", "/today")


def key_matches(settings: Settings, candidate: str) -> bool:
    """The API key, compared in constant time."""
    return hmac.compare_digest(candidate.encode(), settings.api_key.encode())


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    """The session token as an HttpOnly, SameSite=Strict cookie, Secure over https. It lives
    as long as the browser; the server ends the session (idle, sign-out, at most
    NURTURE_SESSION_MAX_H)."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.session_max_h * 3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        # PUBLIC_URL says how people reach us; a forged X-Forwarded-Proto says nothing
        # (`api/proxies.py` believes one only from a trusted proxy).
        secure=settings.public_url.startswith("https://") or request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="strict")


def safe_next(target: str | None, default: str) -> str:
    """Only redirect within our own pages (no open redirect to another site)."""
    if target and target.startswith(PAGE_PREFIXES) and "//" not in target and "\\" not in target:
        return target
    return default
