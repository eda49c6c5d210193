"""`/healthz` (the process is alive) and `/readyz` (the database is reachable and migrated,
the broker reachable, a worker alive; and whether the schedule files on disk are valid:
`degraded` when not)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from nurture.config import get_settings
from nurture.content.live import live_catalog
from nurture.core.clock import utcnow
from nurture.db import get_engine, session_scope
from nurture.db.migrate import missing_migrations
from nurture.dispatch.heartbeat import WORKER_FRESH_S, fresh_workers
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
    checks["workers"] = _workers_check()
    ready = all(v == "ok" for v in checks.values())
    # Broken schedule files never make the API unready: intake still stores every request
    # (a load balancer must keep sending them). They make it "degraded", with the detail.
    live = live_catalog(get_settings())
    catalog = live.status()
    checks["catalog"] = "ok" if catalog["ok"] else f"error: {catalog_problem(catalog)}"
    state = "ready" if ready and catalog["ok"] else "degraded" if ready else "not ready"
    return JSONResponse(status_code=200 if ready else 503, content={"status": state, **checks})


def _workers_check() -> str:
    """ "ok" while at least one worker beat lately (`dispatch/heartbeat.py`): without one,
    nothing is sent, however well the API answers."""
    try:
        with session_scope() as session:
            count = fresh_workers(session, utcnow())
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok" if count else f"error: no worker has reported in the last {WORKER_FRESH_S:g} s"
