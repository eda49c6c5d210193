"""The intake figure's baseline: bare FastAPI + SQLAlchemy, one row inserted per request.

The textbook route a FastAPI tutorial writes: a pydantic body, a plain `def` route (FastAPI
runs it on its threadpool), one `INSERT … RETURNING` in its own transaction on a pooled
engine, and the row back as JSON with 201. No idempotency, consent, routing or schedule:
what the server, the framework, the driver and one committed write cost on this machine
before any of nurture's work. Served with the same uvicorn options as `nurture api`
(`bench/intake.py`), on the same PostgreSQL database (NURTURE_DATABASE_URL).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
)

metadata = MetaData()
#: The one table the baseline writes: a consultation request as received.
REQUESTS = Table(
    "bench_bare_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100)),
    Column("email", String(320)),
    Column("phone", String(32)),
    Column("timezone", String(64)),
    Column("concern", String(200)),
    Column("message", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
_INSERT = insert(REQUESTS).returning(REQUESTS.c.id)


class RequestIn(BaseModel):
    first_name: str
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    concern: str | None = None
    message: str | None = None


def create_table(database_url: str) -> None:
    """The baseline's table, made once before its server starts (not by its workers)."""
    engine = create_engine(database_url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def make_engine() -> Engine:
    """A pool the size of nurture's defaults (NURTURE_DB_POOL_SIZE 20, overflow 20)."""
    return create_engine(os.environ["NURTURE_DATABASE_URL"], pool_size=20, max_overflow=20)


def create_app() -> FastAPI:
    app = FastAPI()
    engine = make_engine()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/consultation-requests", status_code=201)
    def create(body: RequestIn) -> dict[str, Any]:
        row = {**body.model_dump(), "received_at": datetime.now(UTC)}
        with engine.begin() as conn:
            row_id = conn.execute(_INSERT, row).scalar_one()
        return {"id": row_id, **row}

    return app


def main() -> None:
    """`python -m bench.bare_intake --port P --workers N`: served as `nurture api` serves."""
    import argparse

    import uvicorn

    from nurture.cli.serving import uvicorn_options

    parser = argparse.ArgumentParser(prog="python -m bench.bare_intake")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    # The keyword arguments `nurture api` gives uvicorn (nurture/cli/services.py).
    uvicorn.run(
        "bench.bare_intake:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        log_config=None,
        access_log=False,
        **uvicorn_options(args.host),
    )


if __name__ == "__main__":
    main()
