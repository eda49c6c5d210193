"""Figure 4, memory: the RSS of a nurture worker (with its scheduler) over 10k and then 1M
future deliveries (target: flat), beside the naive design, one Celery ETA task per future
message: a bare worker holding 100k of them, measured in the same run.

The naive worker must hold every ETA message it was handed until its time comes (and, on
Redis, it is handed them again after `visibility_timeout`): memory grows with the schedule.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import redis

from bench.harness import Figure, Run, Target
from bench.load import load_deliveries
from bench.stack import Proc, wait_until
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE

MIB = 2**20


def _settled_rss(proc: Proc, *, samples: int, interval_s: float) -> list[float]:
    """RSS samples (MiB) of the process tree, `interval_s` apart, while its scheduler ticks."""
    values = []
    for _ in range(samples):
        time.sleep(interval_s)
        values.append(proc.rss_bytes() / MIB)
    return values


def run(run: Run) -> Figure:
    from bench.bare import ETA_QUEUE, create_app, publish_eta

    fig = Figure("memory", "4 memory (worker RSS)")
    stack = run.stack
    stack.apply(dispatch_interval_s="0.5")
    small, big = run.scale.memory_sizes
    samples = max(3, run.repeat)
    load_deliveries(
        stack.database_url, small, due_from=timedelta(hours=1), due_to=timedelta(days=30)
    )
    worker = stack.celery(
        "worker", queues=f"{SEND_QUEUE},{DISPATCH_QUEUE}", pool="threads", concurrency=8, beat=True
    )
    at_small = fig.add(f"nurture worker + scheduler, {small:,} future", "MiB", note="threads x8")
    at_big = fig.add(
        f"nurture worker + scheduler, {big:,} future",
        "MiB",
        baseline=at_small.name,
        target=Target("<=", 1.1, "ratio"),
    )
    at_small.runs = _settled_rss(worker, samples=samples, interval_s=1.0)
    started = time.monotonic()
    load_deliveries(
        stack.database_url, big - small, due_from=timedelta(hours=1), due_to=timedelta(days=30)
    )
    run.say(f"memory: grew to {big:,} future deliveries in {time.monotonic() - started:.0f} s")
    at_big.runs = _settled_rss(worker, samples=samples, interval_s=1.0)
    worker.stop()

    # The naive design, same broker: a bare worker takes the ETA tasks as they are published.
    naive_n = run.scale.naive_eta_tasks
    idle = fig.add("bare Celery worker, idle", "MiB", note="threads x8")
    naive = fig.add(f"naive: bare worker holding {naive_n:,} ETA tasks", "MiB", baseline=idle.name)
    bare = stack.celery("naive", app="bench.bare", queues=ETA_QUEUE, pool="threads", concurrency=8)
    idle.runs = _settled_rss(bare, samples=samples, interval_s=0.5)
    app = create_app()
    client = redis.Redis.from_url(stack.redis_url)
    try:
        started = time.monotonic()
        publish_eta(app, naive_n)
        wait_until(lambda: client.llen(ETA_QUEUE) == 0, timeout_s=600, interval_s=0.5)
        # The queue is empty once the worker has fetched everything; let it finish decoding.
        previous = 0.0
        while time.monotonic() - started < 600:
            current = statistics.median(_settled_rss(bare, samples=3, interval_s=1.0))
            if abs(current - previous) < 2:
                break
            previous = current
        run.say(
            f"memory: the naive worker holds {naive_n:,} after {time.monotonic() - started:.0f} s"
        )
        naive.runs = _settled_rss(bare, samples=samples, interval_s=0.5)
    finally:
        app.close()
        client.close()
        bare.stop(timeout_s=60)
    return fig
