"""What routes share: settings, the schedules, auth, the clock.

The dependencies are `async def` although they never wait: FastAPI runs a plain `def`
dependency on the threadpool, a thread round trip per dependency per request.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from functools import lru_cache

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nurture.config import Settings, get_settings
from nurture.core.clock import utcnow
from nurture.schedule.catalog import Catalog, load_catalog

_bearer = HTTPBearer(auto_error=False, description="NURTURE_API_KEY")


async def settings_dep() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def _catalog_cached(path: str) -> Catalog:
    return load_catalog(get_settings().schedules_dir)


def loaded_catalog(settings: Settings) -> Catalog:
    """The schedules as this process loaded them (ScheduleError if they do not load)."""
    return _catalog_cached(str(settings.schedules_dir))


async def catalog_dep(settings: Settings = Depends(settings_dep)) -> Catalog:
    return loaded_catalog(settings)


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
    return request.client.host if request.client else None
