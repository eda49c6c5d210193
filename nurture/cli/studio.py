"""For the clinic: `nurture send-test`, one step's message sent to yourself as a test."""

from __future__ import annotations

import typer

from nurture.cli import app, console
from nurture.cli.audit import record_cli
from nurture.config import get_settings
from nurture.content.render import Renderer
from nurture.content.samples import DEFAULT_SAMPLE, SAMPLES
from nurture.core.clock import utcnow
from nurture.people.audit import AuditAction
from nurture.schedule.catalog import load_catalog
from nurture.send.ratelimit import make_limiter
from nurture.send.test_send import parse_channel, send_test


@app.command("send-test")
def send_test_command(
    sequence: str = typer.Argument(..., help="Sequence id, e.g. hip-pain-consultation."),
    step: str = typer.Argument(..., help="Step id, e.g. self-test."),
    channel: str = typer.Option(..., help="email or sms."),
    to: str = typer.Option(..., help="Your email address or mobile number."),
    sample: str = typer.Option(
        DEFAULT_SAMPLE, help=f"Sample prospect to render for: {', '.join(SAMPLES)}."
    ),
) -> None:
    """Send one step's message to yourself, subject prefixed [TEST]; no prospect is touched."""
    settings = get_settings()
    result = send_test(
        settings=settings,
        catalog=load_catalog(settings.schedules_dir),
        renderer=Renderer(settings.templates_dir),
        limiter=make_limiter(settings),
        sequence_id=sequence,
        step_id=step,
        channel=parse_channel(channel),
        to=to,
        sample=sample,
        now=utcnow(),
    )
    detail = {"step": step, "channel": result.channel.value, "sample": result.sample}
    record_cli(None, AuditAction.TEST_SEND, target=f"sequence:{sequence}", detail=detail)
    console.print(
        f"sent: test {result.channel.value} of {sequence}/{step} for sample {result.sample} "
        f"to {result.to_masked} via {result.provider} ({result.message_id})",
        highlight=False,
    )
