"""Figure 1, dispatch: end-to-end messages/s (claim → render → provider call → record) and
CPU-seconds per 1,000 messages, against a bare Celery task on the same broker and pool.

nurture: N deliveries become due at once; the scheduler process (beat + dispatcher) claims
them and publishes the send tasks, the worker process sends them. Done when all N are `sent`.
bare: the bench publishes N `bench.noop` tasks the way the dispatcher does; the same kind of
worker runs them. Done when the queue and its unacknowledged messages are empty.
CPU is the scheduler's (or publisher's) plus the worker's, user + system, over the run.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

import redis

from bench.bare import NOOP_QUEUE
from bench.harness import Figure, Run, Target
from bench.load import Db, Loaded, load_deliveries
from bench.providers import Provider
from bench.stack import Proc, wait_until
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE

#: Dispatcher interval for the bench: the first tick comes at most this late.
DISPATCH_INTERVAL_S = "0.2"


@dataclass(frozen=True)
class Pool:
    """The worker pool both sides use."""

    kind: str
    concurrency: int

    def __str__(self) -> str:
        return f"{self.kind} x{self.concurrency}"


@dataclass(frozen=True)
class Sample:
    rate: float
    cpu_per_1000_s: float


def _nurture_once(run: Run, db: Db, procs: list[Proc], count: int) -> tuple[Sample, Loaded]:
    loaded = load_deliveries(
        run.stack.database_url, count, due_from=timedelta(days=30), due_to=timedelta(days=31)
    )
    cpu0 = sum(p.cpu_s() for p in procs)
    started = time.monotonic()
    db.make_due(loaded)
    # The final states the send path can leave; anything but `sent` spoils the figure.
    done = wait_until(
        lambda: (
            db.count_status(loaded, "sent", "failed", "skipped", "unknown", "retrying") >= count
        ),
        timeout_s=120 + count / 50,
        interval_s=0.05,
    )
    cpu = sum(p.cpu_s() for p in procs) - cpu0
    states = db.statuses(loaded)
    if states.get("sent") != count:
        raise RuntimeError(f"dispatch run ended with {states}; see the worker log")
    return Sample(count / (done - started), cpu / count * 1000), loaded


def _bare_once(run: Run, provider: Provider, worker: Proc, count: int) -> Sample:
    from bench.bare import create_app, publish

    app = create_app()
    client = redis.Redis.from_url(run.stack.redis_url)
    try:
        cpu0 = worker.cpu_s()
        started = time.monotonic()
        publish_cpu = publish(
            app, provider.bare_task, NOOP_QUEUE, [[*provider.bare_args, n] for n in range(count)]
        )
        done = wait_until(
            lambda: client.llen(NOOP_QUEUE) == 0 and client.hlen("unacked") == 0,
            timeout_s=120 + count / 50,
            interval_s=0.02,
        )
        cpu = worker.cpu_s() - cpu0 + publish_cpu
    finally:
        client.close()
        app.close()
    return Sample(count / (done - started), cpu / count * 1000)


def measure(
    run: Run,
    fig: Figure,
    provider: Provider,
    pool: Pool,
    *,
    bare_name: str,
    chunks: tuple[int, ...] | None = None,
) -> Figure:
    """Runs of nurture (for each send chunk) interleaved with the bare task's."""
    stack = run.stack
    count = run.scale.dispatch_messages
    provider.start(stack)
    stack.apply(dispatch_interval_s=DISPATCH_INTERVAL_S)
    run.say(f"{fig.key}: starting workers ({pool}, provider {provider.name})")
    worker = stack.celery("worker", queues=SEND_QUEUE, pool=pool.kind, concurrency=pool.concurrency)
    bare = stack.celery(
        "bare", app="bench.bare", queues=NOOP_QUEUE, pool=pool.kind, concurrency=pool.concurrency
    )
    bare_rate = fig.add(f"{bare_name} msg/s", "msg/s", note=str(pool))
    bare_cpu = fig.add(f"{bare_name} CPU per 1000", "cpu-s")
    db = Db(stack.database_url)
    try:
        for chunk in chunks or run.scale.dispatch_chunks:
            label = "1 task per delivery" if chunk == 1 else f"{chunk} deliveries per task"
            rate = fig.add(
                f"nurture msg/s, {label}",
                "msg/s",
                baseline=bare_rate.name,
                target=Target(">=", 0.5, "ratio"),
            )
            cpu = fig.add(
                f"nurture CPU per 1000, {label}",
                "cpu-s",
                baseline=bare_cpu.name,
                target=Target("<=", 2.0, "ratio"),
            )
            p50 = fig.add(f"lateness p50, {label}", "s", note=f"{count} due at once")
            p99 = fig.add(f"lateness p99, {label}", "s")
            scheduler = stack.celery(
                "scheduler",
                queues=DISPATCH_QUEUE,
                pool="solo",
                concurrency=1,
                beat=True,
                extra_env={"NURTURE_SEND_CHUNK": str(chunk)},
            )
            for i in range(run.repeat):
                sample, loaded = _nurture_once(run, db, [scheduler, worker], count)
                rate.runs.append(sample.rate)
                cpu.runs.append(sample.cpu_per_1000_s)
                late = db.lateness_s(loaded)
                p50.runs.append(statistics.median(late))
                p99.runs.append(late[min(len(late) - 1, int(len(late) * 0.99))])
                base = _bare_once(run, provider, bare, count)
                bare_rate.runs.append(base.rate)
                bare_cpu.runs.append(base.cpu_per_1000_s)
                run.say(
                    f"{fig.key} {label} #{i + 1}: nurture {sample.rate:.0f}/s"
                    f" {sample.cpu_per_1000_s:.2f} cpu-s, bare {base.rate:.0f}/s"
                    f" {base.cpu_per_1000_s:.2f} cpu-s per 1000"
                )
            scheduler.stop()
    finally:
        db.close()
        for proc in (bare, worker):
            proc.stop()
        provider.stop()
    return fig


def _pool_from_env(default: Pool) -> Pool:
    """`NURTURE_BENCH_POOL=prefork:4` (kind:concurrency) overrides a figure's pool."""
    text = os.environ.get("NURTURE_BENCH_POOL", "")
    if not text:
        return default
    kind, _, concurrency = text.partition(":")
    return Pool(kind, int(concurrency or default.concurrency))


#: Figure 1's pool: a CPU-bound send path on 2 cores.
POOL = _pool_from_env(Pool("prefork", 2))


def run(run: Run) -> Figure:
    fig = Figure("dispatch", "1 dispatch (outbox on tmpfs)")
    return measure(run, fig, run.provider, POOL, bare_name="bare no-op")
