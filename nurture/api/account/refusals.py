"""How a refused request is answered, in one place: the sign-in page (a browser) or 401
(a script), the 403 page or JSON naming the role needed, a stale form, an owner who must
turn on a code first, too many sign-ins."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import (
    LANDING,
    Principal,
    SignInNeeded,
    StaleForm,
    TotpFirst,
    identify,
)
from nurture.api.account.signin import login_page
from nurture.api.cookie import safe_next
from nurture.api.deps import settings_dep
from nurture.api.ops.render import page
from nurture.core.clock import utcnow
from nurture.errors import AccessDenied

NO_KEY = "sign in, or send Authorization: Bearer <token> (a machine token or NURTURE_API_KEY)"
STALE = "The form was stale or forged (CSRF check failed). Reload the page and try again."


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def sign_in_here(request: Request) -> Response:
    """The sign-in form at the address asked for (401), coming back to it after."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return login_page(safe_next(here if request.method == "GET" else "", LANDING), status_code=401)


async def _caller(request: Request) -> Principal | None:
    try:
        return await run_in_threadpool(identify, request, await settings_dep(), utcnow())
    except SignInNeeded:
        return None


def install(app: FastAPI) -> None:
    """Register the answers to the refusals `api/access.py` raises."""

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        if wants_html(request) and not exc.bearer:
            return sign_in_here(request)
        return JSONResponse(
            {"detail": NO_KEY}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> Response:
        if not wants_html(request):
            return JSONResponse(
                {"detail": str(exc), "role_needed": exc.role, "refused": exc.what},
                status_code=403,
            )
        return page(
            "account/refused.html.j2",
            status_code=403,
            session=await _caller(request),
            message=str(exc),
            role=exc.role,
            what=exc.what,
        )

    @app.exception_handler(StaleForm)
    async def _stale(request: Request, _: StaleForm) -> Response:
        if not wants_html(request):
            return JSONResponse({"detail": "CSRF check failed"}, status_code=403)
        return page(
            "message.html.j2",
            status_code=403,
            session=await _caller(request),
            title="Refused",
            message=STALE,
        )

    @app.exception_handler(TotpFirst)
    async def _totp_first(request: Request, _: TotpFirst) -> Response:
        if not wants_html(request):
            return JSONResponse(
                {"detail": "owners must turn on a TOTP code first: open /account"},
                status_code=403,
            )
        return RedirectResponse("/account?totp=required", status_code=303)
