"""One structured log line per HTTP request, and a clean answer when a request fails.

The line carries the method, the route template (`/u/{token}`, `/ops/contacts/{contact_id}`,
never the raw path or the query string, so tokens and searched addresses stay out of the
logs), the status and the duration. An error nothing else handled is logged once, with its
traceback, and answered here: JSON `{"detail", "request_id"}` (an HTML page to a browser),
503 naming `nurture db upgrade` when the database lacks its migrations, else 500. The
connection stays open for the client's next request.

Plain ASGI middleware: Starlette's `BaseHTTPMiddleware` runs the app in a task of its own
and streams the response through a memory channel, a cost paid on every request.
"""

from __future__ import annotations

import re
import time
import uuid
from functools import lru_cache
from pathlib import Path

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nurture.api.headers import PAGE_HEADERS
from nurture.db import get_engine
from nurture.db.migrate import missing_migrations

log = structlog.get_logger("nurture.http")

#: Probes and scrapes arrive every few seconds: logged at debug level only.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
FAULT = (
    "A fault on our side stopped this request; nothing you sent was wrong. "
    "Try again in a few minutes."
)


class RequestLog:
    """Logs each HTTP request once its response starts, answers its X-Request-ID, and turns
    an unhandled error into a clean 500 (or 503) instead of a dropped connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        supplied = headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex[:16]
        method = scope["method"]
        started = time.perf_counter()
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
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
            except Exception as exc:
                log.exception("http.error", method=method, route=_route(scope))
                if responded:  # too late for an answer of our own: the server closes it
                    raise
                answer = failure(exc, request_id, wants_html=_wants_html(headers))
                await answer(scope, receive, send_with_id)


def failure(exc: Exception, request_id: str, *, wants_html: bool) -> Response:
    """The answer to a request that failed with `exc`: 503 when the database lacks its
    migrations (saying what to run), else 500; JSON, or a page for a browser."""
    status, message = 500, FAULT
    if isinstance(exc, DBAPIError):
        try:
            missing = missing_migrations(get_engine())
        except Exception:
            missing = None
        if missing is not None:
            status, message = 503, missing
    if wants_html:
        title = "Not ready yet" if status == 503 else "Something went wrong"
        page = _pages().get_template("error.html.j2")
        html = page.render(title=title, message=message, request_id=request_id)
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    return JSONResponse({"detail": message, "request_id": request_id}, status_code=status)


def _wants_html(headers: Headers) -> bool:
    """A browser's navigation or form post (it asks for text/html); API clients do not."""
    return "text/html" in headers.get("accept", "")


@lru_cache(maxsize=1)
def _pages() -> Environment:
    folder = Path(__file__).parent / "templates"
    return Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(default=True))


def _route(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"
