"""The figures ops watch, each checked against the seeded database on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from nurture.core.states import DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.ops.health import assess, human_duration, snapshot
from nurture.ops.status import UNSENT_STATES, WAITING_STATES, collect_status
from tests.helpers import at, enroll
from tests.ops_helpers import ids_of, pause, rows, seed, send, set_due, tick

NOW = at("2026-03-03 18:00")  # a Tuesday


def _status(now=NOW):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        return collect_status(s, now=now)


def _enrollment_states() -> dict[int, EnrollmentStatus]:
    from sqlalchemy import select

    from nurture.db.tables import Enrollment

    with session_scope() as s:
        return dict(s.execute(select(Enrollment.id, Enrollment.status)).all())  # type: ignore[arg-type]


def test_every_state_is_reported_even_on_an_empty_database(db: str) -> None:
    figures = _status()
    assert figures["deliveries"] == {s.value: 0 for s in DeliveryStatus}
    assert figures["enrollments"] == {s.value: 0 for s in EnrollmentStatus}
    assert (figures["due_now"], figures["oldest_overdue_s"], figures["next_24h"]) == (0, 0.0, 0)
    assert len(figures["next_24h_by_hour"]) == 24
    assert figures["scheduler_heartbeat_age_s"] is None


def test_counts_by_state_match_the_rows_of_the_seeded_database(db: str) -> None:
    seed(NOW)
    figures = _status()
    expected = Counter(d.status.value for d in rows())
    assert figures["deliveries"] == {s.value: expected.get(s.value, 0) for s in DeliveryStatus}
    # The seed reached every outcome ops act on, through the real send path.
    for state in ("sent", "failed", "unknown", "retrying", "queued", "scheduled"):
        assert figures["deliveries"][state] > 0, state
    assert figures["failed"] == expected["failed"] == 2
    assert figures["unknown"] == expected["unknown"] == 2
    assert figures["enrollments"]["paused"] == 1


def test_due_now_and_lateness_come_from_the_oldest_due_unsent_delivery(db: str) -> None:
    seed(NOW)
    figures = _status()
    live = _enrollment_states()
    late = [
        d
        for d in rows()
        if d.status in UNSENT_STATES
        and d.due_at <= NOW
        and live[d.enrollment_id] is EnrollmentStatus.ACTIVE
    ]
    assert figures["due_now"] == len(late)
    oldest = min(d.due_at for d in late)
    assert figures["oldest_overdue_s"] == round((NOW - oldest).total_seconds(), 1)
    # The first prospect's later steps: claimed six hours ago and never sent.
    assert figures["oldest_overdue_s"] == 6 * 3600 - 4


def test_lateness_counts_claimed_rows_no_worker_took_and_ignores_paused_prospects(
    db: str,
) -> None:
    t0 = NOW - timedelta(minutes=5)
    first = enroll(t0, email="a@example.com", phone="+16175550001")
    second = enroll(t0 - timedelta(minutes=10), email="b@example.com", phone="+16175550002")
    pause(second["enrollment"]["id"])
    assert _status(t0)["oldest_overdue_s"] == 0.0  # the paused prospect's steps do not count
    claimed = tick(t0)
    assert set(claimed) == set(ids_of(first)[:2])
    figures = _status()
    assert figures["due_now"] == 6  # 2 queued, 4 scheduled and due by now (4 s and 8 s steps)
    assert figures["oldest_overdue_s"] == 300.0
    send(claimed, NOW)
    tick(NOW)
    send([i for i in ids_of(first)[2:]], NOW)
    figures = _status()
    assert (figures["due_now"], figures["oldest_overdue_s"]) == (0, 0.0)
    assert figures["deliveries"]["sent"] == 6


def test_the_next_24_hours_are_counted_per_hour_and_channel(db: str) -> None:
    ids = ids_of(enroll(NOW - timedelta(days=1), email="a@example.com", phone="+16175550001"))
    for delivery_id, due in zip(
        ids,
        (
            NOW - timedelta(minutes=1),  # already due: not "coming"
            NOW + timedelta(minutes=30),
            NOW + timedelta(hours=1),  # the end of the first hour still belongs to it
            NOW + timedelta(hours=5, seconds=1),
            NOW + timedelta(hours=23, minutes=59),
            NOW + timedelta(hours=24, seconds=1),  # beyond the window
        ),
        strict=True,
    ):
        set_due(delivery_id, due)
    buckets = _status()["next_24h_by_hour"]
    # The fast sequence alternates email, sms per step: ids[1] is sms, ids[2] email, ...
    assert buckets[0] | {"start": None} == {
        "hour": 0,
        "start": None,
        "email": 1,
        "sms": 1,
        "total": 2,
    }
    assert (buckets[5]["sms"], buckets[5]["email"]) == (1, 0)
    assert (buckets[23]["email"], buckets[23]["total"]) == (1, 1)
    assert buckets[1]["start"] == (NOW + timedelta(hours=1)).isoformat()
    assert sum(b["total"] for b in buckets) == _status()["next_24h"] == 4


def test_the_seeded_next_24_hours_match_the_rows(db: str) -> None:
    seed(NOW)
    figures = _status()
    live = _enrollment_states()
    expected: Counter[tuple[int, str]] = Counter()
    for d in rows():
        ahead = (d.due_at - NOW).total_seconds()
        if (
            d.status in WAITING_STATES
            and live[d.enrollment_id] is EnrollmentStatus.ACTIVE
            and 0 < ahead <= 24 * 3600
        ):
            expected[(int(-(-ahead // 3600)) - 1, d.channel.value)] += 1
    got = {
        (b["hour"], channel): b[channel]
        for b in figures["next_24h_by_hour"]
        for channel in ("email", "sms")
        if b[channel]
    }
    assert got == dict(expected)
    # The 429 came 30 minutes ago with Retry-After 2 h: both channels retry in hour 1.
    assert got[(1, "email")] >= 1 and got[(1, "sms")] >= 1
    assert figures["next_24h"] == sum(expected.values())


def test_failed_unknown_and_paused_are_counted_apart(db: str) -> None:
    seeded = seed(NOW)
    figures = _status()
    paused_pending = [
        d
        for d in rows()
        if d.enrollment_id == seeded.paused["enrollment"]["id"]  # type: ignore[index]
    ]
    assert figures["paused"] == len(paused_pending) == 6
    assert {d.error_code for d in rows() if d.status is DeliveryStatus.FAILED} == {"21211"}
    assert {d.error_code for d in rows() if d.status is DeliveryStatus.UNKNOWN} == {"timeout"}


def test_the_scheduler_heartbeat_age_is_the_time_since_the_last_tick(db: str) -> None:
    tick(NOW - timedelta(seconds=42))
    assert _status()["scheduler_heartbeat_age_s"] == 42.0


def test_health_names_each_problem(db: str, env: dict[str, str]) -> None:
    from nurture.config import get_settings

    seed(NOW)
    figures = snapshot(get_settings(), now=NOW, ping=lambda: 0)
    assert figures["healthy"] is False
    text = " | ".join(figures["problems"])
    assert "scheduler last ticked 3h ago" in text  # the seed ticked last at NOW - 3h
    assert "oldest due delivery is 5h 59m late" in text
    assert "no worker answered a ping" in text
    assert figures["queue_depth"] == 0 and figures["workers"] == 0


def test_a_fresh_heartbeat_and_no_backlog_is_healthy() -> None:
    figures = {
        "scheduler_heartbeat_age_s": 1.0,
        "oldest_overdue_s": 2.0,
        "workers": None,  # a broker that cannot be asked: not a problem in itself
        "queue_depth": 0,
    }
    assert assess(figures, max_lateness_s=300, max_heartbeat_age_s=60) == []
    assert assess(figures | {"queue_depth": None}, max_lateness_s=300, max_heartbeat_age_s=60) == [
        "broker unreachable"
    ]
    late = assess(figures | {"oldest_overdue_s": 301.0}, max_lateness_s=300, max_heartbeat_age_s=60)
    assert late == ["oldest due delivery is 5m 1s late (limit 5m)"]


def test_durations_read_as_people_say_them() -> None:
    assert [human_duration(s) for s in (None, 0, 59.6, 61, 3600, 3660, 90000)] == [
        "never",
        "0s",
        "1m",
        "1m 1s",
        "1h",
        "1h 1m",
        "1d 1h",
    ]
