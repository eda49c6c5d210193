"""What routes share: settings, the schedules, auth, the clock.

The dependencies are `async def` although they never wait: FastAPI runs a plain `def`
dependency on the threadpool, a thread round trip per dependency per request.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nurture.config import Settings, get_settings
from nurture.content.live import LiveCatalog, live_catalog
from nurture.core.clock import utcnow
from nurture.people.actor import Actor
from nurture.schedule.catalog import Catalog

_bearer = HTTPBearer(auto_error=False, description="NURTURE_API_KEY")


async def settings_dep() -> Settings:
    return get_settings()


async def live_dep(settings: Settings = Depends(settings_dep)) -> LiveCatalog:
    """The last good schedules and templates (re-read, at most every second, when changed)."""
    return live_catalog(settings)


async def catalog_dep(live: LiveCatalog = Depends(live_dep)) -> Catalog:
    """The last good catalog; 503 naming the problem when no valid one was ever loaded."""
    if live.current is None:
        first = next((p.line_text() for p in live.problems), "schedules not loaded")
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"schedules: no valid catalog loaded yet ({first}); run `nurture validate`",
        )
    return live.current


async def now_dep() -> datetime:
    return utcnow()


async def require_api_key(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    settings: Settings = Depends(settings_dep),
) -> None:
    """`Authorization: Bearer $NURTURE_API_KEY`, compared in constant time."""
    if credentials is None or not hmac.compare_digest(
        credentials.credentials.encode(), settings.api_key.encode()
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send Authorization: Bearer <NURTURE_API_KEY>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def client_ip(request: Request) -> str | None:
    """The client's address: the connection's, or the one a trusted proxy forwarded (set by
    `api/proxies.py`, which removes every forwarded header from the request)."""
    return request.client.host if request.client else None


async def actor_dep(request: Request) -> Actor:
    """Who is acting, for the audit trail. Today every login to /ops and /studio is the
    shared API key (as a Bearer header, or the session its login opened); call it only once
    the request is authenticated. Accounts replace this with the signed-in person or token."""
    del request  # the person's session will be read from it
    return Actor.api_key()
