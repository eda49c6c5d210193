"""Figure 2, I/O-bound sending: with 100 ms provider latency (the fake SendGrid/Twilio
server on loopback), messages/s for one 2-core worker host, against a bare Celery task making
the same HTTP call in the same pool, in the same run. Targets: at least 60% of the bare
figure, and at least 400/s.

Needs `tests/fakes/provider.py` (the fake provider): without it the figure is skipped.
"""

from __future__ import annotations

from bench.dispatch import Pool, measure
from bench.harness import Figure, Run, Target
from bench.providers import FakeHttpProvider

#: A threads pool: sends wait on the network, not the CPU.
POOL = Pool("threads", 200)


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
    # The absolute target, for the default setting (NURTURE_SEND_CHUNK=10).
    default = next((m for m in rates if "10 deliveries" in m.name), rates[-1])
    absolute = fig.add(f"{default.name} (absolute)", "msg/s", target=Target(">=", 400))
    absolute.runs = default.runs
    return fig
