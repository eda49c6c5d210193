"""Intake and ops commands: enroll, status, deliveries, retry, cancel, resolve, stop, db."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy import select

from nurture.cli import app, console, db_app, fail
from nurture.config import get_settings
from nurture.control import (
    cancel_delivery,
    find_contact,
    resolve_unknown,
    retry_delivery,
    stop_contact,
)
from nurture.db import session_scope, upgrade
from nurture.intake import ConsultationRequestIn, RequestMeta, submit
from nurture.models import Delivery, DeliveryStatus, utcnow
from nurture.ops import collect_status, ping_workers
from nurture.schedules import load_catalog


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to NURTURE_DATABASE_URL."""
    upgrade()
    console.print("database is up to date")


@app.command()
def enroll(
    first_name: str = typer.Option(..., "--first-name"),
    email: str | None = typer.Option(None, "--email"),
    phone: str | None = typer.Option(None, "--phone"),
    last_name: str | None = typer.Option(None, "--last-name"),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone."),
    concern: str | None = typer.Option(None, "--concern", help="In the prospect's words."),
    sequence: str | None = typer.Option(None, "--sequence", help="Skip routing by concern."),
) -> None:
    """Enroll a prospect as if they had posted a consultation request."""
    try:
        request = ConsultationRequestIn(
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            timezone=timezone,
            concern=concern,
            source="cli",
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "request"
        raise fail(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
    catalog = load_catalog(get_settings().schedules_dir)
    outcome = submit(
        request, catalog=catalog, now=utcnow(), meta=RequestMeta(source="cli"), sequence_id=sequence
    )
    body = outcome.response
    verb = "enrolled" if outcome.created else "already enrolled"
    console.print(
        f"{verb}: enrollment {body['enrollment']['id']} in "
        f"{body['enrollment']['sequence']} ({body['enrollment']['timezone']})"
    )
    table = Table()
    for column in ("delivery", "step", "channel", "due (UTC)", "status"):
        table.add_column(column)
    for row in body["schedule"]:
        table.add_row(
            str(row["delivery_id"]),
            row["step"],
            row["channel"],
            row["due_at"][:19],
            row["status"] + (f" ({row['reason']})" if row.get("reason") else ""),
        )
    console.print(table)


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    max_lateness_s: float = typer.Option(300.0, help="Unhealthy when overdue longer."),
    max_heartbeat_age_s: float = typer.Option(60.0, help="Unhealthy when the scheduler is quiet."),
) -> None:
    """Queue figures; exits 2 when unhealthy (stale scheduler, late, no worker)."""
    settings = get_settings()
    with session_scope() as session:
        figures = collect_status(session, now=utcnow())
    figures["workers"] = None if settings.embedded_broker else ping_workers()
    problems = []
    age = figures["scheduler_heartbeat_age_s"]
    if age is None or age > max_heartbeat_age_s:
        problems.append(f"scheduler heartbeat {'missing' if age is None else f'{age:.0f}s old'}")
    if figures["oldest_overdue_s"] > max_lateness_s:
        problems.append(f"oldest overdue delivery is {figures['oldest_overdue_s']:.0f}s late")
    if figures["workers"] == 0:
        problems.append("no worker answered a ping")
    figures["healthy"] = not problems
    figures["problems"] = problems
    if as_json:
        console.print_json(json.dumps(figures))
    else:
        table = Table(title="Deliveries by state")
        table.add_column("state")
        table.add_column("count", justify="right")
        for state, count in figures["deliveries"].items():
            table.add_row(state, str(count))
        console.print(table)
        for key in (
            "due_now",
            "oldest_overdue_s",
            "next_24h",
            "workers",
            "scheduler_heartbeat_age_s",
        ):
            console.print(f"{key}: {figures[key]}")
        console.print(
            "[green]healthy[/green]"
            if not problems
            else "[red]unhealthy:[/red] " + "; ".join(problems)
        )
    if problems:
        raise typer.Exit(2)


@app.command()
def deliveries(
    status_: DeliveryStatus | None = typer.Option(None, "--status", help="Only this state."),
    step: str | None = typer.Option(None, help="Only this step id."),
    limit: int = typer.Option(50, help="At most this many, newest due first."),
) -> None:
    """List deliveries."""
    with session_scope() as session:
        query = select(Delivery).order_by(Delivery.due_at.desc()).limit(limit)
        if status_ is not None:
            query = query.where(Delivery.status == status_)
        if step is not None:
            query = query.where(Delivery.step_id == step)
        rows = list(session.scalars(query))
    table = Table()
    for column in (
        "id",
        "enrollment",
        "step",
        "channel",
        "due (UTC)",
        "status",
        "attempts",
        "note",
    ):
        table.add_column(column)
    for d in rows:
        table.add_row(
            str(d.id),
            str(d.enrollment_id),
            d.step_id,
            d.channel.value,
            d.due_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.status.value,
            str(d.attempts),
            d.error_code or "",
        )
    console.print(table)


def _now() -> datetime:
    return utcnow()


@app.command()
def retry(delivery_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Send a failed, unknown, canceled or skipped delivery again."""
    with session_scope() as session:
        retry_delivery(session, delivery_id, now=_now())
    console.print(f"delivery {delivery_id} scheduled again")


@app.command()
def cancel(delivery_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Cancel a delivery that has not gone out."""
    with session_scope() as session:
        cancel_delivery(session, delivery_id, now=_now())
    console.print(f"delivery {delivery_id} canceled")


@app.command()
def resolve(
    delivery_id: int = typer.Argument(..., metavar="ID"),
    sent: bool = typer.Option(..., "--sent/--not-sent", help="What the provider's records say."),
) -> None:
    """Settle an `unknown` delivery after checking the provider's records."""
    with session_scope() as session:
        resolve_unknown(session, delivery_id, sent=sent, now=_now())
    console.print(f"delivery {delivery_id} marked {'sent' if sent else 'failed (not sent)'}")


@app.command()
def stop(
    email: str | None = typer.Option(None, "--email"),
    phone: str | None = typer.Option(None, "--phone"),
    reason: str = typer.Option("ops", "--reason"),
) -> None:
    """Stop every sequence of a prospect: no later message goes out."""
    if not email and not phone:
        raise fail("give --email or --phone")
    with session_scope() as session:
        contact = find_contact(session, email=email, phone=phone)
        result = stop_contact(session, contact, reason=reason, now=_now())
    console.print(
        f"contact {result.contact_id}: {result.enrollments_stopped} enrollment(s) "
        f"stopped, {result.deliveries_skipped} pending message(s) skipped"
    )
