"""Figure 2, I/O-bound sending: with 100 ms provider latency (the fake SendGrid/Twilio
server on loopback), messages/s for one 2-core worker host, against a bare Celery task making
the same HTTP call in the same pool, in the same run. Targets: at least 60% of the bare
figure, and at least 400/s.

Then nurture alone with the recommended worker for a network provider (`RECOMMENDED`): the
default batches of 10 make their calls at once, so 20 threads keep 200 calls in flight, as
the 200 threads of the bare task do.

Needs `tests/fakes/provider.py` (the fake provider): without it the figure is skipped.
"""

from __future__ import annotations

from bench.dispatch import Pool, _nurture_once, measure
from bench.harness import Figure, Run, Target
from bench.load import Db
from bench.providers import FakeHttpProvider
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE

#: A threads pool: sends wait on the network, not the CPU.
POOL = Pool("threads", 200)
#: The worker docs/PERFORMANCE.md recommends for a network provider (NURTURE_SEND_CHUNK=10).
RECOMMENDED = Pool("threads", 20)


def run(run: Run) -> Figure:
    fig = Figure("io", "2 I/O-bound sending (100 ms provider)")
    provider = FakeHttpProvider("fake-http", latency_ms=100)
    try:
        measure(run, fig, provider, POOL, bare_name="bare HTTP call", chunks=(1, 10))
    except RuntimeError as exc:
        if "fake provider" not in str(exc):
            raise
        return Figure(fig.key, fig.title, skipped=str(exc))
    rates = [m for m in fig.measures if m.name.startswith("nurture msg/s")]
    for rate in rates:
        rate.target = Target(">=", 0.6, "ratio")
    _recommended(run, fig, provider)
    return fig


def _recommended(run: Run, fig: Figure, provider: FakeHttpProvider) -> None:
    """nurture with the recommended worker and the default chunk: the absolute target."""
    stack = run.stack
    provider.start(stack)
    worker = stack.celery(
        "worker-recommended",
        queues=SEND_QUEUE,
        pool=RECOMMENDED.kind,
        concurrency=RECOMMENDED.concurrency,
    )
    scheduler = stack.celery(
        "scheduler",
        queues=DISPATCH_QUEUE,
        pool="solo",
        concurrency=1,
        beat=True,
        extra_env={"NURTURE_SEND_CHUNK": "10"},
    )
    rate = fig.add(
        "nurture msg/s, recommended worker, 10 deliveries per task",
        "msg/s",
        note=str(RECOMMENDED),
        target=Target(">=", 400),
    )
    cpu = fig.add("nurture CPU per 1000, recommended worker", "cpu-s")
    db = Db(stack.database_url)
    try:
        for i in range(run.repeat):
            sample, _ = _nurture_once(run, db, [scheduler, worker], run.scale.dispatch_messages)
            rate.runs.append(sample.rate)
            cpu.runs.append(sample.cpu_per_1000_s)
            run.say(
                f"io recommended worker ({RECOMMENDED}) #{i + 1}: nurture {sample.rate:.0f}/s"
                f" {sample.cpu_per_1000_s:.2f} cpu-s per 1000"
            )
    finally:
        db.close()
        scheduler.stop()
        worker.stop()
        provider.stop()
