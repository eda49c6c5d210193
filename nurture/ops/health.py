"""One snapshot of everything ops watch, and the verdict: healthy, or which problems."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from nurture.config import Settings
from nurture.content.live import live_catalog
from nurture.db import session_scope
from nurture.dispatch.heartbeat import fresh_workers
from nurture.ops.broker import queue_depths
from nurture.ops.status import collect_status

log = structlog.get_logger(__name__)

#: Counts workers, or None where they cannot be asked (the embedded broker).
Pinger = Callable[[], int | None]


def human_duration(seconds: float | None) -> str:
    """Seconds as a short duration for people: 45s, 12m 5s, 3h 20m, 2d 4h ("never" for None)."""
    if seconds is None:
        return "never"
    s = round(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if s >= size:
            rest = (s % size) // sub_size
            return f"{s // size}{unit} {rest}{sub}" if rest else f"{s // size}{unit}"
    if s >= 60:
        return f"{s // 60}m {s % 60}s" if s % 60 else f"{s // 60}m"
    return f"{s}s"


def assess(
    figures: dict[str, Any], *, max_lateness_s: float, max_heartbeat_age_s: float
) -> list[str]:
    """What is wrong, one short sentence each; an empty list means healthy."""
    problems = []
    age = figures["scheduler_heartbeat_age_s"]
    if age is None:
        problems.append("scheduler heartbeat missing: no scheduler has ever ticked")
    elif age > max_heartbeat_age_s:
        problems.append(
            f"scheduler last ticked {human_duration(age)} ago "
            f"(limit {human_duration(max_heartbeat_age_s)})"
        )
    if figures["oldest_overdue_s"] > max_lateness_s:
        problems.append(
            f"oldest due delivery is {human_duration(figures['oldest_overdue_s'])} late "
            f"(limit {human_duration(max_lateness_s)})"
        )
    if figures["workers"] == 0:
        problems.append("no worker answered a ping")
    if figures["queue_depth"] is None:
        problems.append("broker unreachable")
    return problems


def snapshot(
    settings: Settings,
    *,
    now: datetime,
    ping: Pinger,
    max_lateness_s: float | None = None,
    max_heartbeat_age_s: float | None = None,
) -> dict[str, Any]:
    """The figures of `nurture status --json` and `GET /ops/status`, with `healthy` and
    `problems`. The thresholds default to the settings' NURTURE_OPS_* values."""
    with session_scope() as session:
        figures = collect_status(session, now=now)
    try:
        queues: dict[str, int] | None = queue_depths(settings)
    except Exception as exc:
        log.warning("ops.broker_unreachable", error=type(exc).__name__)
        queues = None
    figures["queues"] = queues
    figures["queue_depth"] = sum(queues.values()) if queues is not None else None
    figures["workers"] = ping()
    if figures["workers"] is None:  # no broadcast on this broker: the workers' heartbeats
        with session_scope() as session:
            figures["workers"] = fresh_workers(session, now)
    problems = assess(
        figures,
        max_lateness_s=max_lateness_s or settings.ops_max_lateness_s,
        max_heartbeat_age_s=max_heartbeat_age_s or settings.ops_max_heartbeat_age_s,
    )
    catalog = live_catalog(settings).status()
    figures["catalog"] = catalog
    if not catalog["ok"]:
        problems.append(catalog_problem(catalog))
    figures["healthy"] = not problems
    figures["problems"] = problems
    return figures


def catalog_problem(catalog: dict[str, Any]) -> str:
    """One line for a catalog that is not ok: how many errors, the first, what is in use."""
    errors = catalog["problems"]
    first = errors[0] if errors else None
    where = ""
    if first:
        where = first["file"] or "/".join(
            p for p in (first["sequence_id"], first["step_id"], first["channel"]) if p
        )
        where = f"{where}{':' + str(first['line']) if first['line'] else ''}: {first['message']}"
    using = (
        "sending goes on with the last good version"
        if catalog["loaded"]
        else "no valid version is loaded: requests are stored and enrolled once fixed"
    )
    return f"schedule files have {len(errors)} error(s) ({where}); {using}; run `nurture validate`"
