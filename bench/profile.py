"""Profile a hot path in-process with pyinstrument: `python -m bench.profile PATH [-n N]`.

`send`: claim and send N due deliveries (outbox on tmpfs) on PostgreSQL, as a worker does.
`send-sdk`: the same through the SendGrid and Twilio SDKs, to the fake provider on loopback.
`render`: render N messages. `tick`: dispatcher ticks over N future deliveries, none due.
`intake`: N `submit()` calls, as the API makes them.
Prints pyinstrument's call tree; `--html FILE` writes the interactive page too.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyinstrument import Profiler

from bench.load import Db, load_deliveries
from bench.stack import Stack, bench_stack


def _send(stack: Stack, count: int) -> Callable[[], None]:
    from nurture.config import get_settings
    from nurture.core.clock import utcnow
    from nurture.db import session_scope
    from nurture.dispatch.tick import claim_due
    from nurture.send.context import send_context
    from nurture.send.pipeline import send_deliveries

    loaded = load_deliveries(
        stack.database_url, count, due_from=timedelta(days=30), due_to=timedelta(days=31)
    )
    db = Db(stack.database_url)
    db.make_due(loaded)
    db.close()
    with session_scope() as session:
        ids = claim_due(session, now=datetime.now(UTC), limit=count, lease=timedelta(minutes=5))
    ctx = send_context()

    chunk = get_settings().send_chunk

    def work() -> None:
        for start in range(0, len(ids), chunk):  # as `nurture.send_batch` tasks
            send_deliveries(ctx, ids[start : start + chunk], clock=utcnow)

    return work


def _send_sdk(stack: Stack, count: int) -> Callable[[], None]:
    """`send` through the SendGrid and Twilio channels, to the fake provider (no latency)."""
    from bench.providers import FakeHttpProvider

    provider = FakeHttpProvider("fake-http", latency_ms=0)
    provider.start(stack)  # stopped with the stack's processes
    return _send(stack, count)


def _render(stack: Stack, count: int) -> Callable[[], None]:
    from bench.render import render_all

    return lambda: render_all(count)


def _tick(stack: Stack, count: int) -> Callable[[], None]:
    from nurture.db import session_scope
    from nurture.dispatch.tick import dispatch_tick

    load_deliveries(
        stack.database_url, count, due_from=timedelta(days=1), due_to=timedelta(days=30)
    )

    def work() -> None:
        for _ in range(200):
            with session_scope() as session:
                dispatch_tick(session, now=datetime.now(UTC), batch=500, lease=timedelta(minutes=5))

    return work


def _intake(stack: Stack, count: int) -> Callable[[], None]:
    import json

    from bench.loadgen import body_for
    from nurture.intake.request import ConsultationRequestIn
    from nurture.intake.service import submit
    from nurture.schedule.catalog import load_catalog

    catalog = load_catalog(Path(stack.env["NURTURE_SCHEDULES_DIR"]))
    bodies = [json.loads(body_for(n, 7)) for n in range(count)]

    def work() -> None:
        for body in bodies:
            submit(
                ConsultationRequestIn.model_validate(body), catalog=catalog, now=datetime.now(UTC)
            )

    return work


PATHS = {"send": _send, "send-sdk": _send_sdk, "render": _render, "tick": _tick, "intake": _intake}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("path", choices=sorted(PATHS))
    parser.add_argument("-n", type=int, default=400)
    parser.add_argument("--html", type=Path)
    args = parser.parse_args()
    with bench_stack() as stack:
        from nurture.config import get_settings
        from nurture.logs import configure_logging

        configure_logging(get_settings())  # as a worker does: WARNING, JSON
        work = PATHS[args.path](stack, args.n)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        work()
        profiler.stop()
    print(
        profiler.output_text(
            unicode=True, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))
        )
    )
    if args.html:
        args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
