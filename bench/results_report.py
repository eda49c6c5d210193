"""Figure: the results report (`nurture report`, `GET /ops/results`) over a million
deliveries on PostgreSQL, against a plain `SELECT count(*) FROM deliveries` over the same rows
in the same process (the baseline). Target: the whole report well under a second.

The seed is written by `generate_series` in a few statements: 125,000 prospects enrolled in
two sequences over 30 days, eight deliveries each (four steps, email and SMS), ~85% sent
(most delivered, some bounced or undelivered) with an event each, 3% of deliveries with a
booking-link click, 5% of prospects replying, 2% opting out, 10% booked.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.harness import Figure, Run, Target
from bench.load import conninfo

DELIVERIES = 1_000_000
PER_ENROLLMENT = 8
STEPS = "ARRAY['doctor-first','self-test','exercise-videos','booking']"

_SEED = [
    # Prospects and their enrollments: two sequences, started over 30 days.
    """INSERT INTO contacts (id, email, phone, first_name, timezone, consent_email, consent_sms,
         booked_at, created_at, updated_at)
       SELECT i, 'p' || i || '@bench.example', '+1555' || lpad(i::text, 7, '0'), 'Sam', 'Etc/UTC',
         true, true,
         CASE WHEN i % 10 = 0
              THEN %(t0)s + (i % 30) * interval '1 day' + (1 + i % 7) * interval '1 day' END,
         %(t0)s, %(t0)s
       FROM generate_series(1, %(n)s) AS i""",
    """INSERT INTO enrollments (id, contact_id, sequence_id, status, timezone, started_at)
       SELECT i, i, CASE WHEN i % 2 = 0 THEN 'bench-a' ELSE 'bench-b' END, 'active', 'Etc/UTC',
         %(t0)s + (i % 30) * interval '1 day'
       FROM generate_series(1, %(n)s) AS i""",
    # Eight deliveries each: step k/2, channel k%2; step s is sent s days after enrolling.
    f"""INSERT INTO deliveries (id, enrollment_id, contact_id, step_id, step_index, channel,
         template, due_at, status, attempts, sent_at, updated_at)
       SELECT d, e, e, ({STEPS})[s + 1], s + 1, CASE WHEN d % 2 = 0 THEN 'email' ELSE 'sms' END,
         'hip-pain/x', t, st, 1, CASE WHEN st IN ('scheduled', 'skipped') THEN NULL ELSE t END, t
       FROM (
         SELECT d, (d - 1) / 8 + 1 AS e, ((d - 1) % 8) / 2 AS s,
           %(t0)s + (((d - 1) / 8 + 1) % 30) * interval '1 day'
             + (((d - 1) % 8) / 2) * interval '1 day' AS t,
           CASE WHEN d % 100 < 70 THEN 'delivered' WHEN d % 100 < 80 THEN 'sent'
                WHEN d % 100 < 82 THEN 'bounced' WHEN d % 100 < 84 THEN 'undelivered'
                WHEN d % 100 < 85 THEN 'failed'
                WHEN d % 100 < 93 THEN 'skipped' ELSE 'scheduled' END AS st
         FROM generate_series(1, %(deliveries)s) AS d
       ) AS g""",
    """INSERT INTO delivery_events (delivery_id, at, status, source, detail)
       SELECT id, sent_at, status, 'webhook', NULL FROM deliveries WHERE sent_at IS NOT NULL""",
    """INSERT INTO delivery_events (delivery_id, at, status, source, detail)
       SELECT id, sent_at + interval '1 hour', status, 'link', 'booking link clicked'
       FROM deliveries WHERE sent_at IS NOT NULL AND id % 33 = 0""",
    """INSERT INTO inbound_messages (provider, provider_message_id, contact_id, from_address,
         to_address, body, kind, received_at)
       SELECT 'twilio', 'SM' || i, i, '+1555' || lpad(i::text, 7, '0'), '+16175550100',
         'can I come on Tuesday?', 'reply',
         %(t0)s + (i % 30) * interval '1 day' + interval '30 hours'
       FROM generate_series(1, %(n)s) AS i WHERE i % 20 = 3""",
    """INSERT INTO consent_events (contact_id, channel, action, source, evidence, at)
       SELECT i, 'sms', 'opt_out', 'keyword', '{}',
         %(t0)s + (i % 30) * interval '1 day' + interval '50 hours'
       FROM generate_series(1, %(n)s) AS i WHERE i % 50 = 7""",
]


def seed(database_url: str, deliveries: int = DELIVERIES) -> None:
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    params = {"t0": t0, "n": deliveries // PER_ENROLLMENT, "deliveries": deliveries}
    with psycopg.connect(conninfo(database_url)) as conn:
        for statement in _SEED:
            conn.execute(statement.replace(" % ", " %% "), params)  # type: ignore[arg-type]
        for table in ("contacts", "enrollments", "deliveries"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def _cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) a PostgreSQL backend on this machine has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # the server runs elsewhere: no CPU figure
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _baseline_ms(database_url: str, *, serial: bool = False) -> tuple[float, float | None]:
    """Wall time of `SELECT count(*)`, and (serial) the CPU time its backend spent."""
    with psycopg.connect(conninfo(database_url)) as conn:
        if serial:
            conn.execute("SET max_parallel_workers_per_gather = 0")
        pid = conn.info.backend_pid
        cpu = _cpu_ms(pid)
        started = time.perf_counter()
        conn.execute("SELECT count(*) FROM deliveries").fetchone()
        elapsed = (time.perf_counter() - started) * 1000
        after = _cpu_ms(pid)
        return elapsed, (after - cpu) if after is not None and cpu is not None else None


def _report_ms(*, serial: bool = False) -> tuple[float, float | None, int]:
    """Wall time of the whole report, (serial) its backend's CPU time, and the sent count."""
    from sqlalchemy import text

    from nurture.db import session_scope
    from nurture.ops.results import collect_results

    with session_scope() as session:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        if serial:
            session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        cpu = _cpu_ms(pid)
        started = time.perf_counter()
        results = collect_results(session)
        elapsed = (time.perf_counter() - started) * 1000
        after = _cpu_ms(pid)
    sent = sum(step.total("sent") for seq in results.sequences for step in seq.steps)
    return elapsed, (after - cpu) if after is not None and cpu is not None else None, sent


def run(run: Run) -> Figure:
    fig = Figure("results", "results report over 1M deliveries (PostgreSQL)")
    url = run.stack.database_url
    started = time.monotonic()
    seed(url)
    run.say(f"results: {DELIVERIES:,} deliveries seeded in {time.monotonic() - started:.1f} s")
    _baseline_ms(url)
    _report_ms()  # connect and warm the caches, as the page and the command do after start
    baseline = fig.add("SELECT count(*) FROM deliveries (baseline)", "ms")
    report = fig.add(
        "the whole report (every sequence, step and channel)",
        "ms",
        baseline=baseline.name,
        target=Target("<=", 1000.0),
    )
    # CPU time of one backend with parallel query off: the work itself, whatever else the
    # machine is running (wall times on a busy machine include waiting for a core).
    baseline_cpu = fig.add("count(*) serial, backend CPU time (baseline)", "ms CPU")
    report_cpu = fig.add(
        "the whole report serial, backend CPU time", "ms CPU", baseline=baseline_cpu.name
    )
    sent = 0
    for _ in range(run.repeat):
        baseline.runs.append(_baseline_ms(url)[0])
        elapsed, _, sent = _report_ms()
        report.runs.append(elapsed)
        _, cpu = _baseline_ms(url, serial=True)
        _, report_used, _ = _report_ms(serial=True)
        if cpu is not None and report_used is not None:
            baseline_cpu.runs.append(cpu)
            report_cpu.runs.append(report_used)
    run.say(
        f"results: report {report.median:.0f} ms ({sent:,} sent counted), "
        f"count(*) {baseline.median:.0f} ms, ratio {report.median / baseline.median:.1f}x; "
        f"serial CPU: report {report_cpu.median:.0f} ms, count(*) {baseline_cpu.median:.0f} ms; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    return fig
