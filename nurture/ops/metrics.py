"""Prometheus metrics, right across any number of worker and API processes.

Counters and the lateness histogram live in prometheus-client's multiprocess files under
`VAR_DIR/metrics` (PROMETHEUS_MULTIPROC_DIR): each process writes its own file and `/metrics`
adds them up. Files are named after host and pid, so worker containers sharing the folder
never collide. Queue depth, backlog and states are gauges read from the database and the
broker at scrape time, never stored, so they are right whichever process answers.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from nurture.config import Settings, get_settings
from nurture.models import DeliveryStatus, utcnow

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds between a delivery's due time and the moment it was handed to the provider.
LATENESS_BUCKETS_S = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86400)
#: Outcomes that mean the provider (or the call to it) went wrong.
ERROR_STATES = frozenset({DeliveryStatus.RETRYING, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN})
#: Our own failures, not a provider's: counted as sends, not as provider errors.
_NOT_PROVIDER_CODES = frozenset({"template_error"})

_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def _process_id() -> str:
    return f"{_HOST}-{os.getpid()}"


@dataclass(frozen=True)
class _Instruments:
    sends: Counter
    provider_errors: Counter
    lateness: Histogram


_lock = threading.Lock()
_current: tuple[Path, _Instruments] | None = None


def metrics_dir(settings: Settings) -> Path:
    """Where this deployment's processes keep their metric files."""
    return settings.var_dir / "metrics"


def _instruments() -> _Instruments:
    """The instruments writing to the configured folder (rebuilt if the settings moved it)."""
    global _current
    directory = metrics_dir(get_settings()).absolute()
    with _lock:
        if _current is not None and _current[0] == directory:
            return _current[1]
        directory.mkdir(parents=True, exist_ok=True)
        values.close_all_multiprocess_files()  # type: ignore[no-untyped-call]
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        values.ValueClass = values.MultiProcessValue(_process_id)  # type: ignore[no-untyped-call]
        instruments = _Instruments(
            sends=Counter(
                "nurture_sends",
                "Send attempts by channel, step and the state they ended in.",
                ["channel", "step", "status"],
                registry=None,
            ),
            provider_errors=Counter(
                "nurture_provider_errors",
                "Provider errors by provider, channel and error code.",
                ["provider", "channel", "code"],
                registry=None,
            ),
            lateness=Histogram(
                "nurture_send_lateness_seconds",
                "Seconds from a delivery's due time to its hand-over to the provider.",
                ["channel"],
                buckets=LATENESS_BUCKETS_S,
                registry=None,
            ),
        )
        _current = (directory, instruments)
        return instruments


def record_send(
    *,
    channel: str,
    step: str,
    status: DeliveryStatus,
    provider: str | None = None,
    code: str | None = None,
    lateness_s: float | None = None,
) -> None:
    """Count one send outcome; a metrics failure is logged, never raised into a send."""
    try:
        instruments = _instruments()
        instruments.sends.labels(channel=channel, step=step, status=status.value).inc()
        if status is DeliveryStatus.SENT and lateness_s is not None:
            instruments.lateness.labels(channel=channel).observe(max(lateness_s, 0.0))
        if status in ERROR_STATES and code and code not in _NOT_PROVIDER_CODES:
            instruments.provider_errors.labels(
                provider=provider or "unknown", channel=channel, code=code
            ).inc()
    except Exception as exc:
        log.warning("metrics.record_failed", error=type(exc).__name__)


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
    directory = metrics_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    registry.register(OpsCollector(settings))
    return generate_latest(registry)
