"""For the clinic: texts prospects wrote back, and resuming a sequence a reply paused."""

from __future__ import annotations

import typer

from nurture.cli import app, console, fail
from nurture.cli.audit import record_cli
from nurture.cli.tables import Table
from nurture.core.clock import utcnow
from nurture.core.inputs import MAX_ID
from nurture.db import session_scope
from nurture.ops.inbox import inbox
from nurture.people.audit import AuditAction
from nurture.steering.contacts import find_contact
from nurture.steering.replies import mark_handled, resume_contact


@app.command()
def replies(
    include_handled: bool = typer.Option(False, "--all", help="Include handled replies."),
    handled: int | None = typer.Option(
        None, "--handled", metavar="ID", min=1, max=MAX_ID, help="Mark one handled."
    ),
) -> None:
    """What prospects wrote back (texts and emails), as on /ops/replies: unhandled first."""
    with session_scope() as session:
        if handled is not None:
            mark_handled(session, handled, now=utcnow())
            record_cli(session, AuditAction.REPLY_RESOLVED, target=f"reply:{handled}")
            console.print(f"reply {handled} marked handled")
            return
        rows = [
            (
                r.reply.id,
                r.reply.received_at,
                r.reply.channel.value,
                r.reply.from_address,
                r.reply.body,
                r.reply.handled_at,
            )
            for r in inbox(session, include_handled=include_handled)
        ]
    table = Table(title="Replies from prospects (also on /ops/replies)")
    for column in ("id", "received (UTC)", "how", "from", "text", "handled"):
        table.add_column(column)
    for reply_id, received, how, sender, body, done in rows:
        table.add_row(
            str(reply_id),
            received.strftime("%Y-%m-%d %H:%M"),
            how,
            sender,
            body,
            done.strftime("%Y-%m-%d %H:%M") if done else "",
        )
    console.print(table)
    console.print(f"{len(rows)} repl{'y' if len(rows) == 1 else 'ies'}")


@app.command()
def resume(
    email: str | None = typer.Option(None, "--email"),
    phone: str | None = typer.Option(None, "--phone"),
) -> None:
    """Resume a prospect's paused sequences; their next messages keep their spacing."""
    if not email and not phone:
        raise fail("give --email or --phone")
    with session_scope() as session:
        contact = find_contact(session, email=email, phone=phone)
        count = resume_contact(session, contact, now=utcnow())
        record_cli(
            session,
            AuditAction.PROSPECT_ACTION,
            target=f"contact:{contact.id}",
            detail={"action": "resume", "resumed": count},
        )
    console.print(f"contact {contact.id}: {count} paused sequence(s) resumed")
