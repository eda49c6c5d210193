"""One structured log line per HTTP request: method, route template, status, duration.

The route template (`/u/{token}`, `/ops/contacts/{contact_id}`), never the raw path or the
query string, so tokens and searched addresses stay out of the logs.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import Request, Response

log = structlog.get_logger("nurture.http")

#: Probes and scrapes arrive every few seconds: logged at debug level only.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    supplied = request.headers.get("x-request-id", "")
    request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex[:16]
    started = time.perf_counter()
    structlog.contextvars.clear_contextvars()  # nothing from an earlier request on this task
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await call_next(request)
        except Exception:
            log.exception("http.error", method=request.method, route=_route(request))
            raise
        route = _route(request)
        (log.debug if route in QUIET_ROUTES else log.info)(
            "http.request",
            method=request.method,
            route=route,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
    response.headers["X-Request-ID"] = request_id
    return response


def _route(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
