"""On-call commands: status, deliveries, export, and the `health` checks containers run."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from nurture.cli import app, console, fail
from nurture.cli.audit import record_cli
from nurture.cli.tables import Table
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.core.inputs import within_range
from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.errors import InvalidValueError
from nurture.ops.broker import local_worker_name, ping_workers
from nurture.ops.export import write_history_csv
from nurture.ops.health import human_duration, snapshot
from nurture.ops.history import contact_history, find_deliveries
from nurture.ops.status import heartbeat_age_s
from nurture.people.audit import AuditAction
from nurture.steering.contacts import find_contact

health_app = typer.Typer(
    help="Health checks for containers and monitors: exit 0 when healthy, 1 when not.",
    no_args_is_help=True,
)
app.add_typer(health_app, name="health")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_when(text: str, *, now: datetime, forward: bool, option: str) -> datetime:
    """An ISO time (UTC unless it has an offset), `now`, or a duration such as `2h`: back
    from now for --since, ahead of now for --until."""
    text = text.strip()
    if text == "now":
        return now
    match = _DURATION.match(text)
    try:
        if match:
            seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
            moment = now + timedelta(seconds=seconds if forward else -seconds)
            return within_range(moment, option)
        value = datetime.fromisoformat(text)
    except OverflowError:
        raise fail(f"{option}: {text!r} is out of range: use a time from 1970 to 2999") from None
    except InvalidValueError as exc:
        raise fail(str(exc)) from None
    except ValueError:
        raise fail(
            f"{option}: {text!r} is not a time: use ISO (2026-03-03T12:00), now, or 30m/2h/1d"
        ) from None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    try:
        return within_range(value.astimezone(UTC), option)
    except (OverflowError, InvalidValueError):
        raise fail(f"{option}: {text!r} is out of range: use a time from 1970 to 2999") from None


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the keys of /ops/status)."),
    max_lateness_s: float | None = typer.Option(
        None, help="Unhealthy when the oldest due delivery is later [NURTURE_OPS_MAX_LATENESS_S]."
    ),
    max_heartbeat_age_s: float | None = typer.Option(
        None, help="Unhealthy when the scheduler is quiet longer [NURTURE_OPS_MAX_HEARTBEAT_AGE_S]."
    ),
) -> None:
    """Queue figures and health; exits 2 when unhealthy (stale scheduler, late, no worker)."""
    settings = get_settings()
    figures = snapshot(
        settings,
        now=utcnow(),
        ping=lambda: ping_workers(settings, timeout_s=settings.ops_ping_timeout_s),
        max_lateness_s=max_lateness_s,
        max_heartbeat_age_s=max_heartbeat_age_s,
    )
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
    else:
        _print_status(figures)
    if not figures["healthy"]:
        raise typer.Exit(2)


def _print_status(f: dict[str, Any]) -> None:
    table = Table(title="Deliveries by state")
    table.add_column("state")
    table.add_column("count", justify="right")
    for state, count in f["deliveries"].items():
        table.add_row(state, str(count))
    console.print(table)
    queues = f["queues"]
    lines = [
        ("due now, unsent", f["due_now"]),
        ("oldest overdue", human_duration(f["oldest_overdue_s"]) + f" ({f['oldest_overdue_s']}s)"),
        ("failed / unknown / paused", f"{f['failed']} / {f['unknown']} / {f['paused']}"),
        ("due in the next 24 h", f["next_24h"]),
        (
            "broker queue",
            "unreachable" if queues is None else ", ".join(f"{q} {n}" for q, n in queues.items()),
        ),
        ("workers answering", "n/a (embedded broker)" if f["workers"] is None else f["workers"]),
        ("scheduler last tick", _ago(f["scheduler_heartbeat_age_s"])),
    ]
    for label, value in lines:
        console.print(f"{label}: {value}", highlight=False)
    busy = [b for b in f["next_24h_by_hour"] if b["total"]]
    if busy:
        hours = Table(title="Next 24 hours (UTC)")
        for column in ("from", "email", "sms"):
            hours.add_column(column, justify="left" if column == "from" else "right")
        for b in busy:
            hours.add_row(f"+{b['hour']}h {b['start'][11:16]}", str(b["email"]), str(b["sms"]))
        console.print(hours)
    catalog = f.get("catalog") or {}
    for problem in catalog.get("problems", []):
        where = problem["file"] or ""
        if problem["line"]:
            where += f":{problem['line']}"
        console.print(f"[red]schedules:[/red] {escape(where)}: {escape(problem['message'])}")
    if f["healthy"]:
        console.print("[green]healthy[/green]")
    else:
        console.print("[red]unhealthy:[/red] " + "; ".join(f["problems"]), highlight=False)


@app.command()
def deliveries(
    status_: list[DeliveryStatus] | None = typer.Option(
        None, "--status", help="Only this state (repeat for several)."
    ),
    step: str | None = typer.Option(None, help="Only this step id."),
    channel: Channel | None = typer.Option(None, help="Only email or sms."),
    since: str | None = typer.Option(None, help="Due at or after: ISO time, or e.g. 2h (ago)."),
    until: str | None = typer.Option(None, help="Due at or before: ISO time, or e.g. 1d (ahead)."),
    limit: int = typer.Option(50, min=1, help="At most this many, latest due first."),
) -> None:
    """List deliveries, filtered by state, step, channel and due time."""
    now = utcnow()
    start = parse_when(since, now=now, forward=False, option="--since") if since else None
    end = parse_when(until, now=now, forward=True, option="--until") if until else None
    with session_scope() as session:
        rows = find_deliveries(
            session,
            states=tuple(status_) if status_ else None,
            step=step,
            channel=channel,
            since=start,
            until=end,
            limit=limit,
        )
    table = Table()
    for column in ("id", "contact", "sequence", "step", "channel", "due (UTC)", "status", "att."):
        table.add_column(column)
    table.add_column("note")
    for row in rows:
        d = row.delivery
        table.add_row(
            str(d.id),
            f"{d.contact_id} {row.first_name}",
            row.sequence_id,
            d.step_id,
            d.channel.value,
            d.due_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.status.value,
            str(d.attempts),
            d.error_code or "",
        )
    console.print(table)
    console.print(f"{len(rows)} deliver{'y' if len(rows) == 1 else 'ies'}", highlight=False)


@app.command()
def export(
    email: str | None = typer.Option(None, "--email"),
    phone: str | None = typer.Option(None, "--phone"),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
) -> None:
    """One prospect's whole history as CSV: requests, consent, enrollments, every delivery
    and its events, in time order."""
    if not email and not phone:
        raise fail("give --email or --phone")
    with session_scope() as session:
        contact = find_contact(session, email=email, phone=phone)
        history = contact_history(session, contact.id)
        detail = {"what": "history", "format": "csv"}
        record_cli(session, AuditAction.EXPORT, target=f"contact:{contact.id}", detail=detail)
    if out is None:
        write_history_csv(history, sys.stdout)
        return
    try:
        with out.open("w", newline="", encoding="utf-8") as fh:
            count = write_history_csv(history, fh)
    except OSError as exc:
        raise fail(f"--out {out}: {exc.strerror}") from None
    console.print(f"contact {contact.id}: {count} rows written to {out}", highlight=False)


@health_app.command("scheduler")
def health_scheduler(
    max_age_s: float | None = typer.Option(
        None, help="Longest quiet time [NURTURE_OPS_MAX_HEARTBEAT_AGE_S]."
    ),
) -> None:
    """The scheduler ticked recently (its heartbeat in the database)."""
    limit = max_age_s or get_settings().ops_max_heartbeat_age_s
    with session_scope() as session:
        age = heartbeat_age_s(session, now=utcnow())
    if age is None or age > limit:
        raise fail(f"scheduler last ticked {human_duration(age)} ago (limit {limit:.0f}s)")
    console.print(f"scheduler ok: last tick {human_duration(age)} ago", highlight=False)


@health_app.command("worker")
def health_worker(
    all_workers: bool = typer.Option(False, "--all", help="Any worker, not only this host's."),
    timeout_s: float = typer.Option(5.0, help="How long to wait for answers."),
) -> None:
    """A Celery worker answers a ping (this host's, `celery@HOSTNAME`, unless --all)."""
    settings = get_settings()
    if settings.embedded_broker:
        raise fail("the embedded broker carries no pings; use a Redis broker")
    node = None if all_workers else local_worker_name()
    answered = ping_workers(
        settings, timeout_s=timeout_s, destination=None if node is None else [node]
    )
    if not answered:
        raise fail(f"no worker answered the ping ({node or 'any worker'})")
    console.print(f"{answered} worker(s) answered", highlight=False)


@health_app.command("url")
def health_url(
    url: str = typer.Argument(..., help="e.g. http://127.0.0.1:8000/readyz"),
    timeout_s: float = typer.Option(5.0, help="Seconds before giving up."),
) -> None:
    """An HTTP endpoint answers 2xx (for images without curl)."""
    import httpx

    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise fail(f"{url}: {type(exc).__name__}") from None
    if not response.is_success:
        raise fail(f"{url}: HTTP {response.status_code}")
    console.print(f"{url}: HTTP {response.status_code}", highlight=False)


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{human_duration(seconds)} ago"
