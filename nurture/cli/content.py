"""For the clinic: validate, preview and timeline of the schedule files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.panel import Panel

from nurture.cli import app, console, err_console, fail
from nurture.cli.tables import Table
from nurture.config import get_settings
from nurture.content.compose import Composer
from nurture.content.context import StepChannel
from nurture.content.render import Renderer
from nurture.content.samples import DEFAULT_SAMPLE, SAMPLES, find_sample
from nurture.content.sms import sms_encoding
from nurture.content.validate import check_step, run_checks
from nurture.core.inputs import within_range
from nurture.core.states import Channel
from nurture.core.zones import resolve_timezone
from nurture.errors import InvalidValueError, NotFoundError, UnknownTimezoneError
from nurture.schedule.catalog import Catalog, load_catalog
from nurture.schedule.timeline import timeline as plan_timeline


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
    try:
        prospect = find_sample(sample)
    except NotFoundError as exc:
        raise fail(str(exc)) from None
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
    failed = False
    for s in steps:
        for ch in s.channels:
            if channel is not None and ch is not channel:
                continue
            composer = Composer(renderer, settings, catalog)
            msg, findings = check_step(composer, StepChannel(seq, s, ch), prospect)
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
    timezone: str | None = typer.Option(
        None, help="Recipient's IANA zone (default: the phone's, else the clinic's)."
    ),
    phone: str | None = typer.Option(None, help="Recipient's number, E.164 (SMS hours by state)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of the messages."),
) -> None:
    """When each message of a sequence would go, and why it moved, for an enrollment at --start."""
    catalog = _catalog()
    seq = catalog.get(sequence)
    try:
        tz = resolve_timezone(timezone, phone, catalog.clinic.timezone)
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
        try:
            within_range(begin.astimezone(UTC), "--start")
        except (InvalidValueError, OverflowError):
            raise fail(f"invalid --start {start!r}: use a time from 1970 to 2999") from None
    rows = plan_timeline(seq, catalog.clinic, begin, tz.key, phone)
    if as_json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return
    table = Table(title=f"{seq.name} — enrolled {begin.astimezone(tz):%a %Y-%m-%d %H:%M} {tz.key}")
    for column in ("step", "channel", "local time", "UTC", "after start", "moved by"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.step_id,
            r.channel,
            f"{r.local:%a %Y-%m-%d %H:%M %Z}",
            f"{r.utc:%Y-%m-%d %H:%M}",
            _human((r.utc - begin).total_seconds()),
            ", ".join(r.reasons),
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
