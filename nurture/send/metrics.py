"""Counting sends for Prometheus, right across any number of worker processes.

Counters and the lateness histogram live in prometheus-client's multiprocess files under
`VAR_DIR/metrics` (PROMETHEUS_MULTIPROC_DIR): each process writes its own file, named after
host and pid so worker containers sharing the folder never collide, and `/metrics` adds them
up (`nurture.ops.metrics`).
"""

from __future__ import annotations

import os
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import Counter, Histogram, values

from nurture.config import Settings, get_settings
from nurture.core.states import DeliveryStatus

log = structlog.get_logger(__name__)

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
    #: Each label set's child, looked up once: `labels()` checks and joins the labels on
    #: every call, a few microseconds a message. (Label sets are few: channels, steps, states.)
    children: dict[tuple[object, ...], Any] = field(default_factory=dict)

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (id(metric), *labels)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = metric.labels(*labels)
        return found


_lock = threading.Lock()
_current: tuple[Path, _Instruments] | None = None
#: The settings last asked, and the folder they name: a send asks once per outcome, and
#: building the path from the same settings again costs more than counting.
_asked: tuple[Settings, Path] | None = None


def _instruments() -> _Instruments:
    """The instruments writing to the configured folder (rebuilt if the settings moved it)."""
    global _current, _asked
    settings, asked = get_settings(), _asked
    if asked is not None and asked[0] is settings:
        directory = asked[1]
    else:
        directory = settings.metrics_dir.absolute()
        _asked = (settings, directory)
    current = _current
    if current is not None and current[0] is directory:
        return current[1]  # the common case, without the lock
    with _lock:
        if _current is not None and (_current[0] is directory or _current[0] == directory):
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
        # Labels in the order the instruments declare them.
        instruments.child(instruments.sends, channel, step, status.value).inc()
        if status is DeliveryStatus.SENT and lateness_s is not None:
            instruments.child(instruments.lateness, channel).observe(max(lateness_s, 0.0))
        if status in ERROR_STATES and code and code not in _NOT_PROVIDER_CODES:
            errors = instruments.provider_errors
            instruments.child(errors, provider or "unknown", channel, code).inc()
    except Exception as exc:
        log.warning("metrics.record_failed", error=type(exc).__name__)
