"""Deliveries claimed a little ahead of their due time, held by the dispatcher until due.

A tick every second that claims only what is already due leaves each delivery waiting up
to a second for the next tick before a worker even sees it: at a steady load that second is
most of its lateness. So a tick also claims what falls due before the next one, and its
dispatcher publishes those in small parts, each the moment its last delivery is due: a
delivery waits for its part (at most `SLICE_S`), not for the next tick.

Never before due: a part is published only once the clock has passed every due time in it,
and the worker's verdict holds anything it is handed early (`send/verdict.py`). Never lost:
the claim commits first, as every claim does; if the dispatcher dies while holding, the rows
stay `queued` and are claimed again when their lease ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from celery import Celery

from nurture.dispatch.queue import publish_sends

#: The widest spread of due times one held part carries: its first delivery waits at most
#: this long for its last. Smaller parts cost the worker more per message (one task each).
SLICE_S = 0.1
#: How far ahead of its due time a tick claims, at most (and never more than its interval):
#: the dispatcher holds what it claimed ahead for up to this long.
AHEAD_MAX_S = 1.0


def look_ahead(interval_s: float) -> timedelta:
    """How far ahead a tick every `interval_s` claims: up to the next tick, at most
    `AHEAD_MAX_S`."""
    return timedelta(seconds=min(interval_s, AHEAD_MAX_S))


def parts_by_due(
    held: list[tuple[int, datetime]], *, chunk: int, slice_s: float = SLICE_S
) -> list[list[tuple[int, datetime]]]:
    """`held` (by due time) in consecutive parts of at most `chunk` deliveries whose due
    times span at most `slice_s`."""
    parts: list[list[tuple[int, datetime]]] = []
    span = timedelta(seconds=slice_s)
    for row in held:
        last = parts[-1] if parts else None
        if last is None or len(last) >= chunk or row[1] - last[0][1] > span:
            parts.append([row])
        else:
            last.append(row)
    return parts


def publish_when_due(
    celery: Celery,
    held: list[tuple[int, datetime]],
    *,
    chunk: int,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> None:
    """Publish the send tasks of `held` (by due time), each part once all of it is due."""
    for part in parts_by_due(held, chunk=chunk):
        due = part[-1][1]
        while (wait_s := (due - clock()).total_seconds()) > 0:
            sleep(wait_s)
        publish_sends(celery, [i for i, _ in part], chunk=chunk)
