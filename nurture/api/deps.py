"""What routes share: settings, the schedules, the clock (who may call: `api/access.py`).

The dependencies are `async def` although they never wait: FastAPI runs a plain `def`
dependency on the threadpool, a thread round trip per dependency per request.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Depends, HTTPException, Request, status

from nurture.config import Settings, get_settings
from nurture.content.live import LiveCatalog, live_catalog
from nurture.core.clock import utcnow
from nurture.schedule.catalog import Catalog


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


def client_ip(request: Request) -> str | None:
    """The client's address: the connection's, or the one a trusted proxy forwarded (set by
    `api/proxies.py`, which removes every forwarded header from the request)."""
    return request.client.host if request.client else None
