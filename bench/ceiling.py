"""The intake figure's ceiling: a FastAPI app whose intake route returns a constant.

Served by the same uvicorn settings as nurture's API, it measures what the server, the
framework and the load generator cost on this machine before any of nurture's work.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ANSWER = {"request_id": 1, "already_enrolled": False, "enrollment": {}, "schedule": []}


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/consultation-requests")
    async def constant(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse(status_code=201, content=ANSWER)

    return app
