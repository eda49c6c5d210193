"""Figure 5, lateness: p50 and p99 from due time to provider call at 80% of peak load
(target p99 at most 2 s), with the production dispatcher interval of 1 s.

Peak is measured first in the same run (a backlog drained as fast as it goes); then as many
deliveries fall due one after another at 80% of that rate, and each one's `sent_at - due_at`
is read back. Measured with the fake HTTP provider (100 ms per call, threads pool: the issue's
figure), then with the run's provider if it is another (`outbox`: the send path's own lateness,
prefork pool).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.dispatch import POOL as CPU_POOL
from bench.dispatch import Pool, _nurture_once
from bench.harness import Figure, Run, Target
from bench.io import POOL as IO_POOL
from bench.load import Db, Loaded, load_deliveries
from bench.providers import Provider, make_provider
from bench.stack import wait_until
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE

LOAD_FRACTION = 0.8


def run(run: Run) -> Figure:
    """The issue's figure (the 100 ms fake provider), and the run's provider if another."""
    fig = Figure("lateness", "5 lateness at 80% of peak")
    providers = [make_provider("fake-http")]
    if run.provider.name != "fake-http":
        providers.append(run.provider)
    for provider in providers:
        try:
            _measure(run, fig, provider)
        except RuntimeError as exc:
            if "fake provider" not in str(exc):
                raise
            run.say(f"lateness with {provider.name} skipped: {exc}")
    if not fig.measures:
        return Figure(fig.key, fig.title, skipped="no provider could run")
    return fig


def _measure(run: Run, fig: Figure, provider: Provider) -> None:
    provider.start(run.stack)
    pool: Pool = CPU_POOL if provider.name == "outbox" else IO_POOL
    stack = run.stack
    stack.apply(dispatch_interval_s="1.0")
    count = max(40, run.scale.dispatch_messages // 2)
    worker = stack.celery("worker", queues=SEND_QUEUE, pool=pool.kind, concurrency=pool.concurrency)
    scheduler = stack.celery(
        "scheduler", queues=DISPATCH_QUEUE, pool="solo", concurrency=1, beat=True
    )
    label = "100 ms fake provider" if provider.name == "fake-http" else provider.name
    peak = fig.add(f"{label}: peak (backlog drained)", "msg/s", note=str(pool))
    offered = fig.add(f"{label}: offered load (80% of peak)", "msg/s")
    p50 = fig.add(f"{label}: lateness p50", "s")
    p99 = fig.add(f"{label}: lateness p99", "s", target=Target("<=", 2.0))
    db = Db(stack.database_url)
    try:
        for i in range(run.repeat):
            sample, _ = _nurture_once(run, db, [scheduler, worker], count)
            rate = sample.rate * LOAD_FRACTION
            peak.runs.append(sample.rate)
            offered.runs.append(rate)
            loaded = load_deliveries(
                stack.database_url, count, due_from=timedelta(days=30), due_to=timedelta(days=31)
            )
            db.pace_due(loaded, start=datetime.now(UTC) + timedelta(seconds=1), rate=rate)
            wait_until(
                lambda loaded=loaded: db.count_status(loaded, "sent", "failed", "unknown") >= count,
                timeout_s=120 + count / rate * 2,
                interval_s=0.2,
            )
            late = db.lateness_s(loaded)
            p50.runs.append(statistics.median(late))
            p99.runs.append(late[min(len(late) - 1, int(len(late) * 0.99))])
            run.say(
                f"lateness ({label}) #{i + 1}: peak {sample.rate:.0f}/s, at {rate:.0f}/s"
                f" p50 {p50.runs[-1]:.2f} s, p99 {p99.runs[-1]:.2f} s"
            )
            time.sleep(1)
    finally:
        db.close()
        scheduler.stop()
        worker.stop()
        provider.stop()


@dataclass(frozen=True)
class Breakdown:
    """Where paced deliveries' lateness went, split at the claim (`queued_at`): p99 seconds
    a claim came after the due time (0 for one claimed ahead), and p99 seconds from when a
    delivery could first go (its due time or its claim, the later) to the worker reading
    its batch (`sent_at`: the broker and the worker); claims per tick (the most, the mean)."""

    claim_late_p99_s: float
    worker_p99_s: float
    most_per_tick: int
    mean_per_tick: float

    def __str__(self) -> str:
        return (
            f"claim late p99 {self.claim_late_p99_s:.2f} s, due-or-claim→read p99"
            f" {self.worker_p99_s:.2f} s, claims per tick at most {self.most_per_tick}"
            f" (mean {self.mean_per_tick:.0f})"
        )


def breakdown(db: Db, loaded: Loaded) -> Breakdown:
    """The lateness of `loaded`'s sent deliveries, split at the claim (see `Breakdown`)."""
    rows = db.conn.execute(
        "SELECT extract(epoch FROM greatest(queued_at - due_at, interval '0')),"
        " extract(epoch FROM sent_at - greatest(due_at, queued_at)), queued_at"
        " FROM deliveries WHERE status = 'sent' AND id BETWEEN %s AND %s",
        (loaded.first_id, loaded.last_id),
    ).fetchall()
    ticks = Counter(r[2] for r in rows)
    return Breakdown(
        claim_late_p99_s=p99([float(r[0]) for r in rows]),
        worker_p99_s=p99([float(r[1]) for r in rows]),
        most_per_tick=max(ticks.values(), default=0),
        mean_per_tick=len(rows) / max(len(ticks), 1),
    )


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank below), 0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
