"""`nurture validate`: every problem of every schedule file, step, channel and template at
once, each with its file and line and what to do.

`validate_all` loads the schedules folder collecting every problem (`schedule.catalog.scan`),
then renders every (sequence, step, channel) for every sample prospect through the send
path's own code (`compose`) and runs the lint on each message. `check_step` is one message
of that, for previews and the studio.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from jinja2.exceptions import TemplateError as JinjaError

from nurture.config import Settings, get_settings
from nurture.content.compose import Composer
from nurture.content.context import StepChannel
from nurture.content.findings import (
    Finding,
    from_schedule_error,
    from_template_error,
)
from nurture.content.lint import lint_message, terms_for
from nurture.content.render import RenderedMessage, Renderer
from nurture.content.samples import SAMPLES, SampleProspect
from nurture.core.states import Channel
from nurture.errors import TemplateError
from nurture.schedule import Catalog, Sequence, Step
from nurture.schedule.catalog import Scan, scan_catalog
from nurture.schedule.form import choice_problems
from nurture.schedule.sequence import first_sms_step
from nurture.schedule.yaml_lines import line_of

#: A fixed instant for composing previews (nothing here reads the clock).
_PREVIEW_NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class StepCheck:
    """One message rendered for the default sample: its size, for `validate`'s table."""

    sequence: str
    step: str
    channel: Channel
    segments: int
    chars: int


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checks: list[StepCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)


def validate_all(
    schedules_dir: Path,
    templates_dir: Path,
    *,
    settings: Settings | None = None,
    renderer: Renderer | None = None,
) -> list[Finding]:
    """Every problem of the schedules and templates folders, errors and warnings."""
    return run_checks(schedules_dir, templates_dir, settings=settings, renderer=renderer).findings


def run_checks(
    schedules_dir: Path,
    templates_dir: Path,
    *,
    settings: Settings | None = None,
    renderer: Renderer | None = None,
    scan: Scan | None = None,
    samples: tuple[str, ...] | None = None,
) -> Report:
    """`validate_all`, with the size of each message for the default sample.

    `samples` narrows the sample prospects (default: all of them).
    """
    settings = settings or get_settings()
    renderer = renderer or Renderer(templates_dir)
    scan = scan or scan_catalog(schedules_dir)
    report = Report()
    report.findings += [from_schedule_error(e) for e in scan.errors]
    report.findings += [from_schedule_error(w, "warning") for w in scan.warnings]
    if scan.clinic is not None:
        catalog = Catalog(clinic=scan.clinic, sequences=scan.sequences, files=scan.files)
        for sequence in scan.sequences.values():
            _check_sequence(report, renderer, settings, catalog, sequence, samples)
        # A sequence the hosted form cannot offer: requests by the API still reach it.
        report.findings += [
            Finding("warning", "form-choice", message, None, None)
            for message in choice_problems(catalog)
        ]
    else:
        for sequence in scan.sequences.values():
            for step in sequence.steps:
                file = scan.files[sequence.id]
                report.findings += _files_of(renderer, file, sequence.id, step, sequence)
    for file, sequence_id, step in scan.loose_steps:
        report.findings += _files_of(renderer, file, sequence_id, step, None)
    report.findings = _unique(report.findings)
    return report


def check_step(
    composer: Composer, target: StepChannel, sample: SampleProspect
) -> tuple[RenderedMessage | None, list[Finding]]:
    """One message rendered for `sample` by the send path's code, and its findings."""
    sequence, step, channel = target.sequence, target.step, target.channel
    settings, catalog = composer.settings, composer.catalog
    ids = {"sequence_id": sequence.id, "step_id": step.id, "channel": channel.value}
    try:
        rendered, message = composer.sample(target, sample.contact, _PREVIEW_NOW)
    except TemplateError as exc:
        templates = str(composer.renderer.templates_dir)
        return None, [from_template_error(exc, templates, **ids)]
    findings = lint_message(
        message,
        clinic=catalog.clinic,
        terms=terms_for(catalog.clinic),
        first_sms=channel is Channel.SMS and step.id == first_sms_step(sequence),
        own_url=settings.public_url,
        sequence_id=sequence.id,
        step_id=step.id,
        segments=rendered.segments,
    )
    return rendered, findings


def _check_sequence(
    report: Report,
    renderer: Renderer,
    settings: Settings,
    catalog: Catalog,
    sequence: Sequence,
    names: tuple[str, ...] | None,
) -> None:
    file = catalog.files[sequence.id]
    for index, step in enumerate(sequence.steps):
        missing = _files_of(renderer, file, sequence.id, step, sequence)
        report.findings += missing
        report.findings += _when(renderer, file, index, sequence, step)
        for channel in step.channels:
            if any(f.channel == channel.value for f in missing):
                continue
            by_finding: dict[Finding, list[str]] = {}
            samples = [
                s
                for s in SAMPLES.values()
                if channel in s.channels and (names is None or s.name in names)
            ]
            for sample in samples:
                composer = Composer(renderer, settings, catalog)
                target = StepChannel(sequence, step, channel)
                rendered, findings = check_step(composer, target, sample)
                for finding in findings:
                    by_finding.setdefault(finding, []).append(sample.name)
                if rendered is not None and sample is samples[0]:
                    report.checks.append(
                        StepCheck(
                            sequence.id, step.id, channel, rendered.segments, len(rendered.text)
                        )
                    )
            for finding, seen_by in by_finding.items():
                if len(seen_by) < len(samples):
                    who = ", ".join(seen_by)
                    finding = replace(finding, message=f"{finding.message} (sample: {who})")
                report.findings.append(finding)


def _files_of(
    renderer: Renderer, file: str, sequence_id: str | None, step: Step, sequence: Sequence | None
) -> list[Finding]:
    """Missing template files of a step (or both forms of one), at the step's `template:`."""
    path = Path(file)

    def line() -> int | None:
        index = sequence.steps.index(step) if sequence else _index_in(path, step.id)
        return line_of(path, ("steps", index, "template")) if index is not None else None

    out: list[Finding] = []
    for channel in step.channels:
        try:
            missing = renderer.check(step.template, channel)
        except TemplateError as exc:
            out.append(
                Finding(
                    "error",
                    "template-form",
                    exc.reason,
                    file,
                    line(),
                    sequence_id,
                    step.id,
                    channel.value,
                )
            )
            continue
        if missing:
            names = ", ".join(f"{renderer.templates_dir}/{name}" for name in missing)
            instead = ""
            body = {f"{step.template}.html.j2", f"{step.template}.txt.j2"}
            if channel is Channel.EMAIL and body & set(missing):
                # Either form of an email body will do: the two files, or one Markdown file.
                md_file = f"{renderer.templates_dir}/{step.template}.md.j2"
                instead = f" (or, for the body, one {md_file} in place of the .html.j2 and .txt.j2)"
            out.append(
                Finding(
                    "error",
                    "missing-template",
                    f"step {step.id!r} ({channel.value}) needs {names}{instead}, which does not "
                    "exist: create it, or fix the step's `template:`",
                    file,
                    line(),
                    sequence_id,
                    step.id,
                    channel.value,
                )
            )
    return out


def _index_in(path: Path, step_id: str) -> int | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        ids = [s.get("id") if isinstance(s, dict) else None for s in data["steps"]]
        return ids.index(step_id)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return None


def _when(
    renderer: Renderer, file: str, index: int, sequence: Sequence, step: Step
) -> list[Finding]:
    """A `when` that fails on a sample prospect (an unknown name, a bad operation)."""
    if not step.when:
        return []
    contact = SAMPLES["email-and-phone"].contact
    try:
        expression = renderer.env.compile_expression(step.when, undefined_to_none=False)
        bool(expression(contact=contact, step={"id": step.id}, sequence={"id": sequence.id}))
    except (JinjaError, TypeError, ValueError, AttributeError) as exc:
        return [
            Finding(
                "error",
                "bad-when",
                f"`when: {step.when}` fails: {exc}; it may use contact.*, step.id and "
                "sequence.id, e.g. `not contact.booked`",
                file,
                line_of(Path(file), ("steps", index, "when")),
                sequence.id,
                step.id,
            )
        ]
    return []


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
