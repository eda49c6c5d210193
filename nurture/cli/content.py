"""For the clinic: validate, preview and timeline of the schedule files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from nurture.cli import app, console, err_console, fail
from nurture.config import get_settings
from nurture.content.context import SAMPLE_CONTACT
from nurture.content.render import Renderer
from nurture.content.samples import DEFAULT_SAMPLE, SAMPLES
from nurture.content.sms import sms_encoding
from nurture.content.validate import check_step, run_checks
from nurture.core.states import Channel
from nurture.core.zones import resolve_timezone
from nurture.errors import UnknownTimezoneError
from nurture.schedule.catalog import Catalog, load_catalog
from nurture.schedule.plan import plan_schedule


def _catalog() -> Catalog:
    return load_catalog(get_settings().schedules_dir)


@app.command()
def validate(
    as_json: bool = typer.Option(False, "--json", help="Print the findings as a JSON list."),
) -> None:
    """Check every schedule file and template at once; print every problem; exit 1 on errors."""
    settings = get_settings()
    report = run_checks(settings.schedules_dir, settings.templates_dir, settings=settings)
    errors = [f for f in report.findings if f.is_error]
    if as_json:
        print(json.dumps([f.to_json() for f in report.findings], indent=2))
        if errors:
            raise typer.Exit(1)
        return
    if report.checks:
        table = Table(title="Steps rendered (sample: email-and-phone)")
        for column in ("sequence", "step", "channel", "chars", "SMS segments"):
            table.add_column(column)
        for c in report.checks:
            segments = str(c.segments) if c.channel is Channel.SMS else ""
            table.add_row(c.sequence, c.step, c.channel.value, str(c.chars), segments)
        console.print(table)
    for finding in report.findings:
        colour = "red" if finding.is_error else "yellow"
        err_console.print(
            f"[{colour}]{escape(finding.line_text())}[/{colour}]", highlight=False, soft_wrap=True
        )
    warnings = len(report.findings) - len(errors)
    if errors:
        err_console.print(f"{len(errors)} error(s), {warnings} warning(s)", highlight=False)
        raise typer.Exit(1)
    sequences = len({c.sequence for c in report.checks})
    console.print(
        f"ok: {sequences} sequences, {len(report.checks)} messages, {warnings} warning(s)"
    )


@app.command()
def preview(
    sequence: str = typer.Argument(..., help="Sequence id, e.g. hip-pain-consultation."),
    step: str | None = typer.Argument(None, help="Step id (default: every step)."),
    channel: Channel | None = typer.Option(None, help="email or sms (default: both)."),
    sample: str = typer.Option(DEFAULT_SAMPLE, help=f"Sample prospect: {', '.join(SAMPLES)}."),
) -> None:
    """Show a step's messages rendered for a sample prospect, with the lint's findings."""
    if sample not in SAMPLES:
        raise fail(f"no sample prospect {sample!r} (known: {', '.join(SAMPLES)})")
    settings = get_settings()
    catalog = _catalog()
    seq = catalog.get(sequence)
    steps = seq.steps
    if step is not None:
        try:
            steps = [seq.step(step)]
        except KeyError:
            known = ", ".join(s.id for s in seq.steps)
            raise fail(f"sequence {sequence!r} has no step {step!r} (steps: {known})") from None
    renderer = Renderer(settings.templates_dir)
    prospect = SAMPLES[sample]
    failed = False
    for s in steps:
        for ch in s.channels:
            if channel is not None and ch is not channel:
                continue
            msg, findings = check_step(
                renderer,
                settings=settings,
                catalog=catalog,
                sequence=seq,
                step=s,
                channel=ch,
                sample=prospect,
            )
            if msg is None:
                pass
            elif ch is Channel.SMS:
                title = (
                    f"{s.id} · sms · {len(msg.text)} chars · {sms_encoding(msg.text)} · "
                    f"{msg.segments} segment(s)"
                )
                console.print(Panel(escape(msg.text), title=escape(title), expand=False))
            else:
                title = f"{s.id} · email · Subject: {msg.subject}"
                console.print(Panel(escape(msg.text), title=escape(title), expand=False))
            for finding in findings:
                failed = failed or finding.is_error
                colour = "red" if finding.is_error else "yellow"
                err_console.print(
                    f"[{colour}]{escape(finding.line_text())}[/{colour}]",
                    highlight=False,
                    soft_wrap=True,
                )
    if failed:
        raise typer.Exit(1)


@app.command()
def timeline(
    sequence: str = typer.Argument(..., help="Sequence id."),
    start: str | None = typer.Option(None, help="Enrollment time, ISO 8601 (default: now)."),
    timezone: str | None = typer.Option(None, help="Recipient's IANA zone (default: clinic's)."),
) -> None:
    """When each message of a sequence would go, for a prospect enrolled at --start."""
    catalog = _catalog()
    seq = catalog.get(sequence)
    try:
        tz = resolve_timezone(timezone, None, catalog.clinic.timezone)
    except UnknownTimezoneError as exc:
        raise fail(str(exc)) from None
    if start is None:
        begin = datetime.now(UTC)
    else:
        try:
            begin = datetime.fromisoformat(start)
        except ValueError:
            raise fail(f"invalid --start {start!r}: use ISO 8601, e.g. 2026-03-02T10:00") from None
        if begin.tzinfo is None:
            begin = begin.replace(tzinfo=tz)
    plan = plan_schedule(
        seq,
        catalog.clinic,
        start=begin.astimezone(UTC),
        tz=tz,
        region=None,
        addresses={Channel.EMAIL: SAMPLE_CONTACT.email, Channel.SMS: SAMPLE_CONTACT.phone},
    )
    table = Table(title=f"{seq.name} — enrolled {begin.astimezone(tz):%a %Y-%m-%d %H:%M} {tz.key}")
    for column in ("step", "channel", "local time", "after start"):
        table.add_column(column)
    for p in plan:
        local = p.due_at.astimezone(tz)
        delta = p.due_at - begin
        table.add_row(
            p.step_id,
            p.channel.value,
            f"{local:%a %Y-%m-%d %H:%M %Z}",
            _human(delta.total_seconds()),
        )
    console.print(table)


def _human(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return " ".join(
        p
        for p in (
            f"{days}d" if days else "",
            f"{hours}h" if hours else "",
            f"{minutes}m" if minutes or not (days or hours) else "",
        )
        if p
    )
