"""Figure 0, the headline: sending through the official SDKs, against a bare Celery task
making the same SDK call.

Both sides talk to the fake SendGrid/Twilio server (`tests/fakes/provider.py`) on loopback,
answering at once, through the same broker (Redis), in the same run:

- **baseline**: `bench.sdk` (`bench/bare.py`), one task per message, alternating one email
  through `SendGridAPIClient(api_key, host=fake).send(Mail(...))` and one SMS through
  `Client(sid, token, http_client=<the SDK's TwilioHttpClient routed to fake>).messages
  .create(...)`; one client of each per process (the SDK's own transports: urllib for
  SendGrid, a kept-alive `requests` session for Twilio). Tried with a prefork pool (one
  process per core) and a threads pool; the better of the two in each run is the baseline.
- **nurture**: N deliveries (half email, half SMS) due at once on PostgreSQL; the scheduler
  claims them and publishes send tasks, `nurture worker` as an operator starts it (its
  defaults, on the send queue: every dispatcher tick is the scheduler's) takes, checks,
  renders, calls the SDK and records each. Then the lateness at 80%
  of that peak: as many deliveries fall due one after another at 0.8x the peak just measured,
  with the production dispatcher interval (1 s); lateness is `sent_at - due_at`.

messages/s is N over the time from the first due (or the first publish) to the last done.
CPU per message is user + system seconds of the worker's processes over the run, divided by
N; beside it, with what fed the worker (nurture's scheduler: claims and publishing; the
bench's publishing of the bare tasks). PostgreSQL's, Redis's and the fake server's CPU are
in neither.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis

from bench.bare import SDK_QUEUE
from bench.dispatch import DISPATCH_INTERVAL_S, Pool, _nurture_once
from bench.harness import Figure, Run, Target
from bench.lateness import breakdown
from bench.load import Db, load_deliveries
from bench.providers import FakeHttpProvider
from bench.stack import Proc, Stack, wait_until
from nurture.core.keys import DISPATCH_QUEUE

#: The bare task's pools: one process per core, and threads in one process.
BARE_POOLS = (
    Pool("prefork", os.cpu_count() or 2),
    Pool("threads", int(os.environ.get("NURTURE_BENCH_SDK_THREADS", "8"))),
)
LOAD_FRACTION = 0.8
#: Messages each side sends before the measured runs (SDK imports, clients, caches).
WARM_UP = 200
#: nurture's worker: `nurture worker`'s defaults unless NURTURE_BENCH_SDK_WORKER says
#: otherwise (`processes:threads`, e.g. `1:16`).
WORKER = os.environ.get("NURTURE_BENCH_SDK_WORKER", "")


@dataclass(frozen=True)
class Sample:
    """One run of one side: messages/s, and CPU ms per message of its worker processes and
    of what fed them (nurture's scheduler, the bench's publishing for the bare task)."""

    rate: float
    worker_cpu_ms: float
    feeder_cpu_ms: float

    @property
    def total_cpu_ms(self) -> float:
        return self.worker_cpu_ms + self.feeder_cpu_ms


def _fake_count(base: str) -> int:
    with urllib.request.urlopen(f"{base}/_fake/messages", timeout=30) as answer:
        return len(json.loads(answer.read()))


def _fake_reset(base: str) -> None:
    request = urllib.request.Request(f"{base}/_fake/reset", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


def _bare_once(stack: Stack, base: str, worker: Proc, count: int) -> Sample:
    from bench.bare import create_app, publish

    _fake_reset(base)
    app = create_app()
    client = redis.Redis.from_url(stack.redis_url)
    try:
        cpu0 = worker.cpu_s()
        started = time.monotonic()
        publish_cpu = publish(app, "bench.sdk", SDK_QUEUE, [[base, n] for n in range(count)])
        wait_until(
            lambda: client.llen(SDK_QUEUE) == 0 and client.hlen("unacked") == 0,
            timeout_s=120 + count / 20,
            interval_s=0.02,
        )
        done = time.monotonic()
        cpu = worker.cpu_s() - cpu0
    finally:
        client.close()
        app.close()
    sent = _fake_count(base)
    if sent != count:
        raise RuntimeError(f"the bare SDK task sent {sent} of {count}; see its worker's log")
    return Sample(count / (done - started), cpu / count * 1000, publish_cpu / count * 1000)


def _nurture_sample(
    run: Run, db: Db, base: str, scheduler: Proc, worker: Proc, count: int
) -> Sample:
    """One drained backlog of `count` through nurture: the worker's CPU apart from the
    scheduler's (claims and publishing)."""
    _fake_reset(base)
    scheduler0 = scheduler.cpu_s()
    sample, _ = _nurture_once(run, db, [worker], count)
    scheduler_cpu = scheduler.cpu_s() - scheduler0
    return Sample(sample.rate, sample.cpu_per_1000_s, scheduler_cpu / count * 1000)


def _nurture_worker(stack: Stack, queues: str) -> Proc:
    """`nurture worker` (its defaults unless NURTURE_BENCH_SDK_WORKER) on `queues`."""
    if WORKER:
        processes, _, threads = WORKER.partition(":")
        return stack.nurture_worker(
            "nurture-worker",
            processes=int(processes),
            concurrency=int(threads) if threads else None,
            queues=queues,
        )
    return stack.nurture_worker("nurture-worker", queues=queues)


def run(run: Run) -> Figure:
    fig = Figure("sdk", "0 SDK path (SendGrid + Twilio SDKs, provider answers at once)")
    stack = run.stack
    count = run.scale.sdk_messages
    provider = FakeHttpProvider("fake-http", latency_ms=0)
    provider.start(stack)
    base = provider.settings["sendgrid_api_host"]
    stack.apply(dispatch_interval_s=DISPATCH_INTERVAL_S)

    bare: dict[Pool, tuple[Proc, list[Sample]]] = {}
    for pool in BARE_POOLS:
        name = f"bare-sdk-{pool.kind}"
        proc = stack.celery(
            name, app="bench.bare", queues=SDK_QUEUE, pool=pool.kind, concurrency=pool.concurrency
        )
        bare[pool] = (proc, [])
    run.say(f"sdk: starting nurture worker ({WORKER or 'defaults'}) and scheduler; N={count}")
    # The drained runs: the worker on the send queue, so that every dispatcher tick (claims
    # and publishing) runs in the scheduler process and counts with it, against the bare
    # task's publishing. On both queues each worker process ran a share of the 5 ticks a
    # second (about 10 ms of CPU a second, busy or idle) that the scheduler is there to run.
    worker = _nurture_worker(stack, "send")
    scheduler = stack.celery(
        "scheduler", queues=DISPATCH_QUEUE, pool="solo", concurrency=1, beat=True
    )
    db = Db(stack.database_url)
    nurture: list[Sample] = []
    try:
        # Warm up both sides first: each process imports the SDKs and builds its clients
        # (and nurture its send context) on its first message, a second or so of CPU.
        warm_up = min(WARM_UP, count)
        for proc, _ in bare.values():
            _bare_once(stack, base, proc, warm_up)
        _nurture_once(run, db, [scheduler, worker], warm_up)
        for i in range(run.repeat):
            # Alternate which side goes first: the machine's load drifts within a run.
            if i % 2:
                nurture.append(_nurture_sample(run, db, base, scheduler, worker, count))
            for proc, samples in bare.values():
                samples.append(_bare_once(stack, base, proc, count))
            if not i % 2:
                nurture.append(_nurture_sample(run, db, base, scheduler, worker, count))
            sample = nurture[-1]
            said = ", ".join(
                f"bare {p} {s[-1].rate:.0f}/s {s[-1].worker_cpu_ms:.2f} ms"
                for p, (_, s) in bare.items()
            )
            run.say(
                f"sdk #{i + 1}: nurture {sample.rate:.0f}/s {sample.worker_cpu_ms:.2f} ms"
                f" CPU/msg in the worker (+{sample.feeder_cpu_ms:.2f} scheduler); {said}"
            )
        scheduler.stop()
        # The paced runs: the production dispatcher interval, and the worker on both queues
        # as `nurture worker` runs by default (its ticks wait behind its sends).
        worker.stop()
        worker = _nurture_worker(stack, "send,dispatch")
        stack.apply(dispatch_interval_s="1.0")
        scheduler = stack.celery(
            "scheduler-1s", queues=DISPATCH_QUEUE, pool="solo", concurrency=1, beat=True
        )
        _nurture_once(run, db, [worker], warm_up)  # the new worker's clients and caches
        lateness = [_paced(run, db, sample.rate, count) for sample in nurture]
    finally:
        db.close()
        scheduler.stop()
        worker.stop()
        for proc, _ in bare.values():
            proc.stop()
        provider.stop()
    _table(fig, bare, nurture, lateness)
    return fig


def _paced(run: Run, db: Db, peak: float, count: int) -> tuple[float, list[float]]:
    """Deliveries falling due at `LOAD_FRACTION` of `peak`: the rate and their lateness."""
    rate = peak * LOAD_FRACTION
    paced = max(40, count // 2)
    loaded = load_deliveries(
        run.stack.database_url, paced, due_from=timedelta(days=30), due_to=timedelta(days=31)
    )
    db.pace_due(loaded, start=datetime.now(UTC) + timedelta(seconds=1), rate=rate)
    wait_until(
        lambda: db.count_status(loaded, "sent", "failed", "unknown") >= paced,
        timeout_s=120 + paced / rate * 2,
        interval_s=0.2,
    )
    late = db.lateness_s(loaded)
    run.say(
        f"sdk lateness at {rate:.0f}/s: p50 {statistics.median(late):.2f} s,"
        f" p99 {_p99(late):.2f} s; {breakdown(db, loaded)}"
    )
    return rate, late


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _table(
    fig: Figure,
    bare: dict[Pool, tuple[Proc, list[Sample]]],
    nurture: list[Sample],
    lateness: list[tuple[float, list[float]]],
) -> None:
    for pool, (_, samples) in bare.items():
        fig.add("bare SDK task msg/s", "msg/s", note=str(pool)).runs = [s.rate for s in samples]
        fig.add("bare SDK task CPU per msg (worker)", "cpu-ms", note=str(pool)).runs = [
            s.worker_cpu_ms for s in samples
        ]
    # Each run's baseline is the better pool of that run (its CPU comes with it).
    best = [
        max((s[i] for _, s in bare.values()), key=lambda s: s.rate) for i in range(len(nurture))
    ]
    base_rate = fig.add("baseline: bare SDK task, best pool", "msg/s")
    base_rate.runs = [s.rate for s in best]
    base_cpu = fig.add("baseline: CPU per msg (worker), best pool", "cpu-ms")
    base_cpu.runs = [s.worker_cpu_ms for s in best]
    base_total = fig.add("baseline: CPU per msg with the publishing", "cpu-ms")
    base_total.runs = [s.total_cpu_ms for s in best]
    rate = fig.add(
        "nurture msg/s (SDK path)",
        "msg/s",
        baseline=base_rate.name,
        target=Target(">=", 1.0, "ratio"),
        note=f"nurture worker {WORKER or 'defaults'}",
    )
    rate.runs = [s.rate for s in nurture]
    cpu = fig.add(
        "nurture CPU per msg (worker)",
        "cpu-ms",
        baseline=base_cpu.name,
        target=Target("<=", 1.2, "ratio"),
    )
    cpu.runs = [s.worker_cpu_ms for s in nurture]
    total = fig.add("nurture CPU per msg with the scheduler", "cpu-ms", baseline=base_total.name)
    total.runs = [s.total_cpu_ms for s in nurture]
    fig.add("offered load (80% of nurture's peak)", "msg/s").runs = [r for r, _ in lateness]
    fig.add("lateness p50 at 80% of peak", "s").runs = [
        statistics.median(late) for _, late in lateness
    ]
    fig.add("lateness p99 at 80% of peak", "s", target=Target("<=", 1.0)).runs = [
        _p99(late) for _, late in lateness
    ]


def headline(fig: Figure) -> str | None:
    """The SDK-path ratio in one line, for `make bench` to print under the table."""
    if fig.skipped or not fig.measures:
        return None
    rate, cpu = fig.get("nurture msg/s (SDK path)"), fig.get("nurture CPU per msg (worker)")
    total = fig.get("nurture CPU per msg with the scheduler")
    p99 = fig.get("lateness p99 at 80% of peak")
    return (
        f"SDK path: nurture {rate.median:.0f} msg/s = {fig.ratio(rate) or 0:.2f}x the bare SDK"
        f" task ({fig.get('baseline: bare SDK task, best pool').median:.0f} msg/s, target >= 1.0x);"
        f" worker CPU per msg {cpu.median:.2f} ms = {fig.ratio(cpu) or 0:.2f}x (target <= 1.2x),"
        f" {fig.ratio(total) or 0:.2f}x with the scheduler against the publishing;"
        f" p99 lateness at 80% of peak {p99.median:.2f} s (target <= 1 s)"
    )
