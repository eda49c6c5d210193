"""One structured log line per HTTP request: method, route template, status, duration.

The route template (`/u/{token}`, `/ops/contacts/{contact_id}`), never the raw path or the
query string, so tokens and searched addresses stay out of the logs.

Plain ASGI middleware: Starlette's `BaseHTTPMiddleware` runs the app in a task of its own
and streams the response through a memory channel, a cost paid on every request.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("nurture.http")

#: Probes and scrapes arrive every few seconds: logged at debug level only.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestLog:
    """Logs each HTTP request once its response starts, and answers its X-Request-ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = Headers(scope=scope).get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex[:16]
        method = scope["method"]
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = _route(scope)
                (log.debug if route in QUIET_ROUTES else log.info)(
                    "http.request",
                    method=method,
                    route=route,
                    status=message["status"],
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        structlog.contextvars.clear_contextvars()  # nothing from an earlier request on this task
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("http.error", method=method, route=_route(scope))
                raise


def _route(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"
