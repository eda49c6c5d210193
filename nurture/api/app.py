"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from nurture import __version__
from nurture.api import (
    bookings,
    calendars,
    docs,
    forms,
    health,
    inbound_email,
    intake,
    links,
    metrics,
    ops,
    studio,
    webhooks,
)
from nurture.api.bodylimit import BodyLimit
from nurture.api.proxies import ForwardedHeaders
from nurture.api.requestlog import RequestLog
from nurture.config import get_settings, parse_networks, refuse_known_secrets
from nurture.core.zones import load_geocoder
from nurture.db.migrate import check_at_start
from nurture.logs import configure_logging


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    # A database without its migrations is said once, at start (and by /readyz).
    await run_in_threadpool(check_at_start, "api")
    await run_in_threadpool(load_geocoder)  # before the first intake, not during it
    yield


def create_app() -> FastAPI:
    """The API: intake, links, webhooks, ops pages and JSON, health and metrics."""
    settings = get_settings()
    refuse_known_secrets(settings)  # also the CLI's, before it starts a server
    configure_logging(settings)
    app = FastAPI(
        lifespan=_lifespan,
        title="nurture",
        version=__version__,
        description="Consultation requests in, follow-up email and SMS out.",
        # Swagger UI from the installed package, never from a CDN (api/docs.py); no ReDoc.
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        larger={
            "/webhooks/sendgrid/events": webhooks.SENDGRID_MAX_BODY_BYTES,
            "/webhooks/sendgrid/inbound": inbound_email.INBOUND_MAX_BODY_BYTES,
        },
    )
    # Before anything reads the client or the scheme: forwarded headers believed from a
    # trusted proxy only, and removed for everything after.
    app.add_middleware(ForwardedHeaders, trusted=parse_networks(settings.trusted_proxies))
    app.add_middleware(RequestLog)  # added last, so outermost: sees every response, even a 413
    app.include_router(health.router)
    app.include_router(intake.router)
    app.include_router(ops.router)
    app.include_router(studio.router)
    app.include_router(metrics.router)
    app.include_router(bookings.router)
    app.include_router(links.router)
    app.include_router(webhooks.router)
    app.include_router(forms.router)
    app.include_router(calendars.router)
    app.include_router(inbound_email.router)
    app.include_router(docs.router)
    return app
