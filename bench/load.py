"""Bulk loading: contacts, enrollments and deliveries by PostgreSQL COPY, not the ORM.

A million deliveries load in seconds this way. Rows look like what `enroll()` writes for the
`bench` sequence: one contact and one enrollment per eight deliveries (four steps, two
channels), in a zone where it is midday so SMS quiet hours never hold them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.stack import midday_zone

_STEPS = ("doctor-first", "self-test", "exercise-videos", "booking")
_CHANNELS = ("email", "sms")
PER_ENROLLMENT = len(_STEPS) * len(_CHANNELS)


def conninfo(database_url: str) -> str:
    """A libpq URI from the SQLAlchemy URL (`postgresql+psycopg://` → `postgresql://`)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass(frozen=True)
class Loaded:
    """The id range of the deliveries one load wrote."""

    first_id: int
    last_id: int

    @property
    def count(self) -> int:
        return self.last_id - self.first_id + 1


def _next_id(cur: psycopg.Cursor[Any], table: str) -> int:
    row = cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def load_deliveries(
    database_url: str,
    count: int,
    *,
    due_from: timedelta,
    due_to: timedelta,
    now: datetime | None = None,
    seed: int = 6,
) -> Loaded:
    """Write `count` scheduled deliveries due between now+due_from and now+due_to."""
    now = now or datetime.now(UTC)
    zone = midday_zone(now)
    rng = random.Random(seed)
    span_s = (due_to - due_from).total_seconds()
    enrollments = -(-count // PER_ENROLLMENT)
    with psycopg.connect(conninfo(database_url)) as conn, conn.cursor() as cur:
        contact0 = _next_id(cur, "contacts")
        enrollment0 = _next_id(cur, "enrollments")
        delivery0 = _next_id(cur, "deliveries")
        with cur.copy(
            "COPY contacts (id, email, phone, first_name, timezone, consent_email, consent_sms,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(enrollments):
                cid = contact0 + n
                email, phone = f"p{cid}@bench.example", f"+1555{cid:07d}"
                copy.write_row((cid, email, phone, "Sam", zone, True, True, now, now))
        with cur.copy(
            "COPY enrollments (id, contact_id, sequence_id, status, timezone, region, started_at)"
            " FROM STDIN"
        ) as copy:
            for n in range(enrollments):
                copy.write_row((enrollment0 + n, contact0 + n, "bench", "active", zone, "US", now))
        with cur.copy(
            "COPY deliveries (id, enrollment_id, contact_id, step_id, step_index, channel,"
            " template, due_at, status, attempts, updated_at) FROM STDIN"
        ) as copy:
            for n in range(count):
                e, k = divmod(n, PER_ENROLLMENT)
                step = k // len(_CHANNELS)
                due = now + due_from + timedelta(seconds=rng.random() * span_s)
                copy.write_row(
                    (
                        delivery0 + n,
                        enrollment0 + e,
                        contact0 + e,
                        _STEPS[step],
                        step + 1,
                        _CHANNELS[k % len(_CHANNELS)],
                        f"hip-pain/{_STEPS[step]}",
                        due,
                        "scheduled",
                        0,
                        now,
                    )
                )
        for table in ("contacts", "enrollments", "deliveries"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE contacts, enrollments, deliveries")
    return Loaded(delivery0, delivery0 + count - 1)


class Db:
    """One autocommit connection for the bench's own reads and updates between runs."""

    def __init__(self, database_url: str) -> None:
        self.conn = psycopg.connect(conninfo(database_url), autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def make_due(self, loaded: Loaded, *, count: int | None = None) -> datetime:
        """Make (the first `count` of) `loaded` due now; the instant they became due."""
        last = loaded.last_id if count is None else loaded.first_id + count - 1
        now = datetime.now(UTC)
        self.conn.execute(
            "UPDATE deliveries SET due_at = %s, status = 'scheduled', lease_expires_at = NULL"
            " WHERE id BETWEEN %s AND %s",
            (now, loaded.first_id, last),
        )
        return now

    def pace_due(self, loaded: Loaded, *, start: datetime, rate: float) -> None:
        """Make `loaded` fall due one after another from `start`, `rate` per second."""
        self.conn.execute(
            "UPDATE deliveries SET status = 'scheduled', lease_expires_at = NULL,"
            " due_at = %s + (id - %s) * interval '1 second' / %s WHERE id BETWEEN %s AND %s",
            (start, loaded.first_id, rate, loaded.first_id, loaded.last_id),
        )

    def count_status(self, loaded: Loaded, *statuses: str) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM deliveries WHERE status = ANY(%s) AND id BETWEEN %s AND %s",
            (list(statuses), loaded.first_id, loaded.last_id),
        ).fetchone()
        return int(row[0]) if row else 0

    def statuses(self, loaded: Loaded) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT status, count(*) FROM deliveries WHERE id BETWEEN %s AND %s GROUP BY status",
            (loaded.first_id, loaded.last_id),
        ).fetchall()
        return {str(status): int(n) for status, n in rows}

    def lateness_s(self, loaded: Loaded) -> list[float]:
        """Seconds from due time to provider call (`sent_at`) of each sent delivery."""
        rows = self.conn.execute(
            "SELECT extract(epoch FROM sent_at - due_at) FROM deliveries"
            " WHERE status = 'sent' AND id BETWEEN %s AND %s ORDER BY 1",
            (loaded.first_id, loaded.last_id),
        ).fetchall()
        return [float(r[0]) for r in rows]
