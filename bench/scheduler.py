"""Figure 3, scheduler scaling on PostgreSQL: one dispatcher tick with 10k, 100k and 1M
future deliveries and none due (target under 5 ms at 1M), then the claim of 500 due among
them, and the whole tick that claims them and publishes their send tasks to Redis.

A tick is what the scheduler runs every second: expire `sending` past lease, re-dispatch
`queued` past lease, claim due, heartbeat, commit (`nurture.dispatch.dispatch_tick`).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.harness import Figure, Run, Target
from bench.load import Db, Loaded, load_deliveries

LEASE = timedelta(minutes=5)
DUE = 500


def _tick_ms(batch: int) -> float:
    from nurture.db import session_scope
    from nurture.dispatch.tick import dispatch_tick

    started = time.perf_counter()
    with session_scope() as session:
        dispatch_tick(session, now=datetime.now(UTC), batch=batch, lease=LEASE)
    return (time.perf_counter() - started) * 1000


def _claim_ms(db: Db, loaded: Loaded) -> float:
    from nurture.db import session_scope
    from nurture.dispatch.tick import claim_due

    db.make_due(loaded, count=DUE)
    started = time.perf_counter()
    with session_scope() as session:
        ids = claim_due(session, now=datetime.now(UTC), limit=DUE, lease=LEASE)
    elapsed = (time.perf_counter() - started) * 1000
    if len(ids) != DUE:
        raise RuntimeError(f"claimed {len(ids)} of {DUE} due deliveries")
    return elapsed


def _dispatch_ms(db: Db, loaded: Loaded) -> float:
    """The scheduler's whole tick with 500 due: claim, commit, publish 500 send tasks."""
    from nurture.dispatch.dispatcher import run_dispatcher
    from nurture.dispatch.queue import create_app

    celery = create_app()
    try:
        db.make_due(loaded, count=DUE)
        started = time.perf_counter()
        published = run_dispatcher(celery)
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        celery.close()
    if published < DUE:
        raise RuntimeError(f"published {published} of {DUE}")
    return elapsed


def run(run: Run) -> Figure:
    fig = Figure("scheduler", "3 scheduler scaling (PostgreSQL)")
    url = run.stack.database_url
    sizes = run.scale.scheduler_sizes
    db = Db(url)
    loaded_total = 0
    last = Loaded(0, -1)
    try:
        for size in sizes:
            started = time.monotonic()
            last = load_deliveries(
                url, size - loaded_total, due_from=timedelta(hours=1), due_to=timedelta(days=30)
            )
            loaded_total = size
            took_s = time.monotonic() - started
            run.say(f"scheduler: {size:,} future deliveries loaded in {took_s:.1f} s")
            _tick_ms(500)  # connect and warm the statement caches
            target = Target("<=", 5.0) if size == sizes[-1] else None
            measure = fig.add(f"tick, {size:,} future, none due", "ms", target=target)
            for _ in range(run.repeat):
                ticks = [_tick_ms(500) for _ in range(run.scale.scheduler_ticks)]
                measure.runs.append(statistics.median(ticks))
        biggest = f"{sizes[-1]:,}"
        claim = fig.add(f"claim {DUE} due among {biggest}", "ms")
        dispatch = fig.add(
            f"tick + publish {DUE} send tasks, among {biggest}", "ms", note="Redis broker"
        )
        for _ in range(run.repeat):
            claim.runs.append(_claim_ms(db, last))
            dispatch.runs.append(_dispatch_ms(db, last))
        run.say(f"scheduler: claim {claim.median:.1f} ms, tick + publish {dispatch.median:.1f} ms")
    finally:
        db.close()
    return fig
