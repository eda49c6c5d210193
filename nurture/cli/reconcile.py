"""`nurture reconcile`: ask the providers about `unknown` deliveries, and settle them."""

from __future__ import annotations

import typer

from nurture.cli import app, console
from nurture.cli.tables import Table
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.send.context import build_send_context
from nurture.send.reconcile import reconcile, summary


@app.command("reconcile")
def reconcile_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Ask the providers and show the decisions; change nothing."
    ),
    limit: int | None = typer.Option(
        None, min=1, help="Ask about at most this many (default NURTURE_RECONCILE_BATCH)."
    ),
) -> None:
    """Ask the providers whether `unknown` deliveries went out: found ones become sent,
    clearly absent ones (older than NURTURE_RECONCILE_LAG_S) go out again in their window,
    the rest stay unknown for a person."""
    ctx = build_send_context(get_settings())
    try:
        decisions = reconcile(ctx, now=utcnow(), dry_run=dry_run, limit=limit)
    finally:
        for channel in ctx.channels.values():
            channel.close()
    if not decisions:
        console.print("No unknown deliveries to ask about.")
        return
    table = Table(title="Reconcile (dry run: nothing changed)" if dry_run else "Reconcile")
    for column in ("delivery", "decision", "provider id", "due again (UTC)", "evidence"):
        table.add_column(column)
    for d in decisions:
        table.add_row(
            str(d.delivery_id),
            d.verdict.value,
            d.message_id or "",
            d.due_at.strftime("%Y-%m-%d %H:%M:%S") if d.due_at else "",
            d.evidence,
        )
    console.print(table)
    counts = ", ".join(f"{n} {v}" for v, n in summary(decisions).items() if n)
    console.print(f"{len(decisions)} asked: {counts}" + (" (dry run)" if dry_run else ""))
