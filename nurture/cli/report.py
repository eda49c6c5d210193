"""`nurture report`: what each sequence and step brought (see `nurture.ops.results`)."""

from __future__ import annotations

import csv
import json
import sys

import typer

from nurture.cli import app, console, fail
from nurture.cli.audit import record_cli
from nurture.cli.tables import Table
from nurture.config import get_settings
from nurture.db import session_scope
from nurture.ops.results import COUNTS, Results, collect_results, parse_period
from nurture.people.audit import AuditAction
from nurture.schedule import load_catalog

#: The CSV's columns: one row per sequence, step and channel.
CSV_COLUMNS = (
    "sequence",
    "enrolled",
    "booked",
    "conversion",
    "median_days_to_booking",
    "step",
    "step_index",
    "channel",
    *COUNTS,
)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _print_tables(results: Results) -> None:
    if not results.sequences:
        console.print("No sequences and no enrollments in this period.")
        return
    for seq in results.sequences:
        console.print(
            f"[bold]{seq.name}[/bold] ({seq.id}): {seq.enrolled} enrolled, {seq.booked} booked "
            f"({_percent(seq.conversion)}), median {_days(seq.median_days_to_booking)} days "
            "to booking",
            highlight=False,
            soft_wrap=True,
        )
        table = Table(box=None)
        widest = max((len(step.id) for step in seq.steps), default=4)
        table.add_column("step", min_width=widest, no_wrap=True)
        table.add_column("channel", no_wrap=True)
        for name in COUNTS:
            table.add_column(name.replace("_", "-"), justify="right")
        for step in seq.steps:
            for channel in step.channels:
                table.add_row(step.id, channel.channel, *(str(getattr(channel, c)) for c in COUNTS))
            if len(step.channels) > 1:
                table.add_row(
                    step.id, "[dim]all[/dim]", *(f"[dim]{step.total(c)}[/dim]" for c in COUNTS)
                )
        console.print(table)


def _write_csv(results: Results) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for seq in results.sequences:
        head = [
            seq.id,
            seq.enrolled,
            seq.booked,
            "" if seq.conversion is None else f"{seq.conversion:.4f}",
            "" if seq.median_days_to_booking is None else seq.median_days_to_booking,
        ]
        for step in seq.steps:
            for channel in step.channels:
                writer.writerow(
                    [
                        *head,
                        step.id,
                        step.index,
                        channel.channel,
                        *(getattr(channel, c) for c in COUNTS),
                    ]
                )
        if not seq.steps:
            writer.writerow([*head, "", "", "", *("" for _ in COUNTS)])


@app.command()
def report(
    sequence: str | None = typer.Option(None, "--sequence", help="Only this sequence (its id)."),
    since: str | None = typer.Option(
        None, help="Enrollments started on or after this date (YYYY-MM-DD, UTC) or ISO time."
    ),
    until: str | None = typer.Option(
        None, help="Enrollments started up to this date, included (or before this ISO time)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV, a row per step and channel."),
) -> None:
    """What each sequence brought: enrolled, booked, and per step and channel, messages sent,
    delivered, bounced, booking-link clicks, replies, opt-outs and bookings that followed."""
    if as_json and as_csv:
        raise fail("--json and --csv: choose one")
    start, end = parse_period(since, until)
    catalog = load_catalog(get_settings().schedules_dir)
    if sequence is not None and sequence not in catalog.sequences:
        known = ", ".join(sorted(catalog.sequences)) or "none"
        raise fail(f"--sequence: no sequence {sequence!r} (known: {known})")
    with session_scope() as session:
        results = collect_results(
            session, catalog=catalog, sequence_id=sequence, since=start, until=end
        )
    if as_json or as_csv:
        detail = {"what": "report", "format": "json" if as_json else "csv", "since": since}
        target = f"sequence:{sequence}" if sequence else None
        record_cli(None, AuditAction.EXPORT, target=target, detail=detail)
    if as_json:
        print(json.dumps(results.as_json(), indent=2))
    elif as_csv:
        _write_csv(results)
    else:
        _print_tables(results)
