"""`/ops` without reloading: `GET /ops/live` answers the dashboard's figures alone (the
same templates), and `GET /ops/live.js` the script that swaps them into the open page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from nurture.api.access import Principal, anyone, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.ops.pages import figures
from nurture.api.ops.render import page
from nurture.config import Settings
from nurture.core.states import DeliveryStatus
from nurture.people.roles import Role

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "ops-live.js"


@router.get("/live")
def live_figures(
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    _: Principal = Depends(need(Role.VIEWER, "see the dashboard")),
) -> Response:
    """The parts of `/ops` that change, each named by its `data-live` attribute; 401 when
    the session has ended (the page then says so and stops asking)."""
    return page(
        "live.html.j2",
        figures=figures(settings, now),
        states=[s.value for s in DeliveryStatus],
    )


@router.get("/live.js")
def live_script(_: Principal | None = Depends(anyone("load the dashboard's script"))) -> Response:
    """The dashboard's script, from the installed package (no inline script, nothing from
    elsewhere)."""
    return Response(
        SCRIPT.read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
