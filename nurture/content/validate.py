"""`nurture validate`: load every schedule and render every step's templates on sample data.

A template error is found here, at validation, rather than at send time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nurture.config import Settings
from nurture.content.compose import render_step
from nurture.content.context import SAMPLE_CONTACT
from nurture.content.render import Renderer
from nurture.core.states import Channel
from nurture.errors import TemplateError
from nurture.schedule import Catalog
from nurture.schedule.form import choice_problems

MAX_SMS_SEGMENTS = 3


@dataclass(frozen=True)
class StepCheck:
    sequence: str
    step: str
    channel: Channel
    segments: int
    chars: int


@dataclass
class Report:
    checks: list[StepCheck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_catalog(catalog: Catalog, renderer: Renderer, settings: Settings) -> Report:
    """Render every (sequence, step, channel) with the sample contact; collect every problem."""
    # A sequence the hosted form cannot offer is a warning: requests by the API still reach it.
    report = Report(warnings=[*catalog.warnings, *choice_problems(catalog)])
    for sequence in catalog.sequences.values():
        for step in sequence.steps:
            for channel in step.channels:
                missing = renderer.check(step.template, channel)
                if missing:
                    report.errors.append(
                        f"{catalog.files[sequence.id]}: step {step.id!r} ({channel.value}) "
                        f"needs {', '.join(missing)} in {settings.templates_dir}"
                    )
                    continue
                try:
                    rendered = render_step(
                        renderer,
                        settings=settings,
                        catalog=catalog,
                        sequence=sequence,
                        step=step,
                        channel=channel,
                        contact=SAMPLE_CONTACT,
                        delivery_id=0,
                    )
                except TemplateError as exc:
                    report.errors.append(f"{sequence.id}/{step.id} ({channel.value}): {exc}")
                    continue
                segments = rendered.segments
                report.checks.append(
                    StepCheck(sequence.id, step.id, channel, segments, len(rendered.text))
                )
                if segments > MAX_SMS_SEGMENTS:
                    report.warnings.append(
                        f"{sequence.id}/{step.id}: the SMS takes {segments} segments "
                        f"(over {MAX_SMS_SEGMENTS} costs more and may arrive split)"
                    )
    return report
