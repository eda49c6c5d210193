"""How long the ops figures take on a big queue: `collect_status` (what `/ops`, `/ops/status`,
`nurture status` and every `/metrics` scrape run) over N deliveries on PostgreSQL.

    .venv/bin/python -m bench.ops_status --rows 200000

Rows are spread over every state, due from two days ago to two days ahead. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from nurture.core.clock import utcnow
from nurture.core.states import DeliveryStatus
from nurture.db import get_engine, reset_engines, session_scope, upgrade
from nurture.ops.status import collect_status

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fill(rows: int) -> None:
    """Contacts and enrollments, four deliveries each, in set-based SQL (fast to load)."""
    people = rows // 4
    states = [s.value for s in DeliveryStatus]
    with get_engine().begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO contacts (id, email, first_name, consent_email, consent_sms, "
                "created_at, updated_at) SELECT g, 'p' || g || '@example.com', 'P', true, true, "
                "now(), now() FROM generate_series(1, :n) g"
            ),
            {"n": people},
        )
        conn.execute(
            sa.text(
                "INSERT INTO enrollments (id, contact_id, sequence_id, status, timezone, "
                "started_at) SELECT g, g, 'bench', CASE WHEN g % 50 = 0 THEN 'paused' "
                "ELSE 'active' END, 'Etc/UTC', now() FROM generate_series(1, :n) g"
            ),
            {"n": people},
        )
        conn.execute(
            sa.text(
                "INSERT INTO deliveries (enrollment_id, contact_id, step_id, step_index, channel, "
                "template, due_at, status, attempts, updated_at) "
                "SELECT e, e, 'step' || s, s, CASE WHEN s % 2 = 0 THEN 'email' ELSE 'sms' END, "
                "'t', now() + ((random() * 4 - 2) * interval '1 day'), "
                "(CAST(:states AS text[]))[1 + floor(random() * :k)::int], 0, now() "
                "FROM generate_series(1, :n) e, generate_series(0, 3) s"
            ),
            {"n": people, "states": states, "k": len(states)},
        )
        conn.execute(sa.text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import os

    from nurture.config import get_settings

    schema = f"nurture_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    os.environ["NURTURE_DATABASE_URL"] = f"{PG}?options=-csearch_path%3D{schema}"
    get_settings.cache_clear()
    reset_engines()
    try:
        upgrade()
        started = time.perf_counter()
        fill(args.rows)
        load_s = time.perf_counter() - started
        timings = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            with session_scope() as s:
                figures = collect_status(s, now=utcnow() + timedelta(seconds=1))
            timings.append((time.perf_counter() - t) * 1000)
        print(
            json.dumps(
                {
                    "rows": sum(figures["deliveries"].values()),
                    "load_s": round(load_s, 1),
                    "collect_status_ms_median": round(statistics.median(timings), 1),
                    "collect_status_ms_max": round(max(timings), 1),
                    "due_now": figures["due_now"],
                    "next_24h": figures["next_24h"],
                }
            )
        )
    finally:
        reset_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
