"""Intake and steering commands: enroll, retry, cancel, resolve, stop, db (see also cli/ops.py)."""

from __future__ import annotations

from datetime import datetime

import typer
from pydantic import ValidationError

from nurture.cli import app, console, db_app, fail
from nurture.cli.audit import record_cli
from nurture.cli.tables import Table
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.core.inputs import MAX_ID
from nurture.db import session_scope, upgrade
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.service import submit
from nurture.people.audit import AuditAction
from nurture.schedule.catalog import load_catalog
from nurture.steering.contacts import find_contact
from nurture.steering.deliveries import cancel_delivery, resolve_unknown, retry_delivery
from nurture.steering.stop import stop_contact


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
        reason = err["msg"].removeprefix("Value error, ")
        raise fail(reason if reason.startswith(where) else f"{where}: {reason}") from None
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


def _now() -> datetime:
    return utcnow()


@app.command()
def retry(delivery_id: int = typer.Argument(..., metavar="ID", min=1, max=MAX_ID)) -> None:
    """Send a failed, unknown, canceled or skipped delivery again."""
    with session_scope() as session:
        retry_delivery(session, delivery_id, now=_now())
        record_cli(session, AuditAction.DELIVERY_RETRY, target=f"delivery:{delivery_id}")
    console.print(f"delivery {delivery_id} scheduled again")


@app.command()
def cancel(delivery_id: int = typer.Argument(..., metavar="ID", min=1, max=MAX_ID)) -> None:
    """Cancel a delivery that has not gone out."""
    with session_scope() as session:
        cancel_delivery(session, delivery_id, now=_now())
        record_cli(session, AuditAction.DELIVERY_CANCEL, target=f"delivery:{delivery_id}")
    console.print(f"delivery {delivery_id} canceled")


@app.command()
def resolve(
    delivery_id: int = typer.Argument(..., metavar="ID", min=1, max=MAX_ID),
    sent: bool = typer.Option(..., "--sent/--not-sent", help="What the provider's records say."),
) -> None:
    """Settle an `unknown` delivery after checking the provider's records."""
    with session_scope() as session:
        resolve_unknown(session, delivery_id, sent=sent, now=_now())
        target, detail = f"delivery:{delivery_id}", {"sent": sent}
        record_cli(session, AuditAction.DELIVERY_RESOLVED, target=target, detail=detail)
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
        target, detail = f"contact:{contact.id}", {"action": "stop", "reason": reason[:100]}
        record_cli(session, AuditAction.PROSPECT_ACTION, target=target, detail=detail)
    console.print(
        f"contact {result.contact_id}: {result.enrollments_stopped} enrollment(s) "
        f"stopped, {result.deliveries_skipped} pending message(s) skipped"
    )
