"""`/healthz` (the process is alive) and `/readyz` (the database is reachable and migrated,
the broker reachable; and whether the schedule files on disk are valid: `degraded` when not)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from nurture.config import get_settings
from nurture.content.live import live_catalog
from nurture.db import get_engine
from nurture.db.migrate import missing_migrations
from nurture.dispatch.queue import broker_connection
from nurture.ops.health import catalog_problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz() -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        checks["database"] = missing_migrations(get_engine()) or "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        with broker_connection(get_settings()) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    # Broken schedule files never make the API unready: intake still stores every request
    # (a load balancer must keep sending them). They make it "degraded", with the detail.
    live = live_catalog(get_settings())
    catalog = live.status()
    checks["catalog"] = "ok" if catalog["ok"] else f"error: {catalog_problem(catalog)}"
    state = "ready" if ready and catalog["ok"] else "degraded" if ready else "not ready"
    return JSONResponse(status_code=200 if ready else 503, content={"status": state, **checks})
