"""`GET /ops/status`: the dashboard's figures as JSON, for monitors and scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends

from nurture.api.access import Principal, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.ops.pages import figures
from nurture.config import Settings
from nurture.people.roles import Role

router = APIRouter(prefix="/ops", tags=["ops"])


@router.get("/status")
def ops_status(
    _: Principal = Depends(need(Role.VIEWER, "read the ops figures")),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
) -> dict[str, Any]:
    """States, due now, lateness, the next 24 hours, queue depth, workers, scheduler
    heartbeat, and the verdict (`healthy`, `problems`)."""
    return figures(settings, now)
