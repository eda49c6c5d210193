"""`GET /metrics`: Prometheus text, right across any number of worker and API processes.

The send counters and the lateness histogram are each process's multiprocess files under
`VAR_DIR/metrics` (written by `nurture.send.metrics`), added up here. Queue depth, backlog
and states are gauges read from the database and the broker at scrape time, never stored,
so they are right whichever process answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from nurture.config import Settings
from nurture.core.clock import utcnow

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OpsCollector(Collector):
    """Gauges computed at scrape time from the database and the broker."""

    def __init__(self, settings: Settings, *, now: datetime | None = None) -> None:
        self.settings = settings
        self.now = now

    def collect(self) -> Iterator[Metric]:
        from nurture.db import session_scope
        from nurture.ops.broker import queue_depths
        from nurture.ops.status import collect_status

        ok = GaugeMetricFamily(
            "nurture_ops_source_up", "1 when the scrape could read this source.", labels=["source"]
        )
        try:
            with session_scope() as session:
                figures = collect_status(session, now=self.now or utcnow())
        except Exception as exc:
            log.warning("metrics.database_unreachable", error=type(exc).__name__)
            ok.add_metric(["database"], 0)
        else:
            ok.add_metric(["database"], 1)
            yield from _figures(figures)
        try:
            depths = queue_depths(self.settings)
        except Exception as exc:
            log.warning("metrics.broker_unreachable", error=type(exc).__name__)
            ok.add_metric(["broker"], 0)
        else:
            ok.add_metric(["broker"], 1)
            gauge = GaugeMetricFamily(
                "nurture_queue_depth", "Task messages waiting on the broker.", labels=["queue"]
            )
            for queue, depth in depths.items():
                gauge.add_metric([queue], depth)
            yield gauge
        yield ok


def _figures(figures: dict[str, Any]) -> Iterator[Metric]:
    deliveries = GaugeMetricFamily(
        "nurture_deliveries", "Deliveries in each state.", labels=["status"]
    )
    for state, count in figures["deliveries"].items():
        deliveries.add_metric([state], count)
    yield deliveries
    yield GaugeMetricFamily(
        "nurture_due_backlog",
        "Deliveries due and not yet handed to a provider.",
        value=float(figures["due_now"]),
    )
    yield GaugeMetricFamily(
        "nurture_oldest_overdue_seconds",
        "How late the oldest due, unsent delivery is.",
        value=float(figures["oldest_overdue_s"]),
    )
    yield GaugeMetricFamily(
        "nurture_due_next_24h",
        "Deliveries falling due in the next 24 hours.",
        value=float(figures["next_24h"]),
    )
    age = figures["scheduler_heartbeat_age_s"]
    if age is not None:
        yield GaugeMetricFamily(
            "nurture_scheduler_heartbeat_age_seconds",
            "Seconds since the scheduler last ticked.",
            value=float(age),
        )


def render_metrics(settings: Settings) -> bytes:
    """The Prometheus text exposition: every process's counters plus the scrape-time gauges."""
    directory = settings.metrics_dir
    directory.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    registry.register(OpsCollector(settings))
    return generate_latest(registry)
