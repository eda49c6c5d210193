"""The FastAPI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from nurture import __version__
from nurture.api import bookings, health, intake, links, metrics, ops, webhooks
from nurture.api.requestlog import log_requests
from nurture.config import get_settings
from nurture.logs import configure_logging


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="nurture",
        version=__version__,
        description="Consultation requests in, follow-up email and SMS out.",
    )

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Refuse bodies over NURTURE_MAX_BODY_BYTES before reading them."""
        length = request.headers.get("content-length")
        limit = settings.max_body_bytes
        if request.url.path == "/webhooks/sendgrid/events":
            limit = max(limit, webhooks.SENDGRID_MAX_BODY_BYTES)
        if length is not None:
            if not length.isdigit():
                return JSONResponse(status_code=400, content={"detail": "bad Content-Length"})
            if int(length) > limit:
                return JSONResponse(status_code=413, content={"detail": f"body over {limit} bytes"})
        elif request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()  # chunked: starlette caches it for the route
            if len(body) > limit:
                return JSONResponse(status_code=413, content={"detail": f"body over {limit} bytes"})
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    app.middleware("http")(log_requests)  # outermost: sees every response, even a 413
    app.include_router(health.router)
    app.include_router(intake.router)
    app.include_router(ops.router)
    app.include_router(metrics.router)
    app.include_router(bookings.router)
    app.include_router(links.router)
    app.include_router(webhooks.router)
    return app
