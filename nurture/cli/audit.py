"""`nurture audit`: read the audit trail (filters, JSON, CSV) and `audit verify` its chain."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping

import typer
from sqlalchemy.orm import Session

from nurture.cli import app, console, fail
from nurture.cli.tables import Table
from nurture.config import get_settings
from nurture.core.inputs import parse_instant
from nurture.db import get_engine
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, DetailValue, record
from nurture.people.audit_query import FIELDS, AuditFilter, find_rows, flat
from nurture.people.audit_verify import verify

audit_app = typer.Typer(
    help="The audit trail: who did what (append-only, hash-chained).",
    invoke_without_command=True,
)
app.add_typer(audit_app, name="audit")

_ACTIONS = ", ".join(a.value for a in AuditAction)


def record_cli(
    session: Session | None,
    action: AuditAction,
    *,
    target: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> None:
    """One audit row for a command, by the operating-system user running it: in `session`'s
    transaction (committed with the command's change), or in one of its own."""
    if session is not None:
        record(session.connection(), actor=Actor.cli(), action=action, target=target, detail=detail)
        return
    with get_engine().begin() as conn:
        record(conn, actor=Actor.cli(), action=action, target=target, detail=detail)


@audit_app.callback()
def audit(
    ctx: typer.Context,
    since: str = typer.Option("", "--since", metavar="ISO", help="From this date or time (UTC)."),
    user: str = typer.Option("", "--user", metavar="EMAIL", help="Only what this person did."),
    action: str = typer.Option("", "--action", metavar="A", help=f"One of: {_ACTIONS}."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON, newest first."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV, newest first."),
) -> None:
    """Rows of the audit trail, newest first (as on /ops/audit)."""
    if ctx.invoked_subcommand is not None:
        return
    if as_json and as_csv:
        raise fail("--json and --csv: choose one")
    if action and action not in AuditAction.__members__.values():
        raise fail(f"--action: {action!r} is not an audit action; one of: {_ACTIONS}")
    where = AuditFilter(since=parse_instant(since, "--since"), user=user, action=action)
    with get_engine().connect() as conn:
        rows = list(find_rows(conn, where))
    if as_json:
        for row in rows:
            row["at"] = row["at"].isoformat()
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat(row) for row in rows)
        return
    table = Table(title="Audit trail (also on /ops/audit)")
    for column in ("id", "at (UTC)", "who", "role", "ip", "action", "target", "detail"):
        table.add_column(column)
    for row in map(flat, rows):
        table.add_row(
            row["id"],
            row["at"][:19].replace("T", " "),
            row["actor_name"],
            row["role"],
            row["ip"],
            row["action"],
            row["target"],
            row["detail"],
        )
    console.print(table)
    console.print(f"{len(rows)} row{'' if len(rows) == 1 else 's'}")


@audit_app.command("verify")
def verify_command() -> None:
    """Recompute the chain: exit 0 when intact, 1 naming the first row changed or deleted."""
    with get_engine().connect() as conn:
        verdict = verify(conn, get_settings().secret_key)
    if not verdict.intact:
        raise fail(f"audit trail broken: {verdict}")
    console.print(str(verdict))
