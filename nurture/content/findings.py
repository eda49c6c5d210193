"""A finding: one problem `nurture validate`, the lint, the studio or the live catalog reports,
with where it is (file, line; sequence, step, channel) and what to do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from nurture.errors import ScheduleError, TemplateError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem. `message` says what is wrong AND what to do."""

    severity: Severity
    code: str
    message: str
    file: str | None
    line: int | None
    sequence_id: str | None = None
    step_id: str | None = None
    channel: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def where(self) -> str:
        """`file:line` (or the sequence/step/channel when there is no file)."""
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        parts = [p for p in (self.sequence_id, self.step_id, self.channel) if p]
        return "/".join(parts) or "schedules"

    def line_text(self) -> str:
        """`file:line: error: message`, the form `nurture validate` prints."""
        about = "/".join(p for p in (self.sequence_id, self.step_id, self.channel) if p)
        about = f"[{about}] " if about and self.file else ""
        return f"{self.where()}: {self.severity}: {about}{self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def from_schedule_error(error: ScheduleError, severity: Severity = "error") -> Finding:
    message = f"{error.field}: {error.reason}" if error.field else error.reason
    return Finding(severity, "schedule", message, error.file, error.line)


def from_template_error(
    error: TemplateError,
    templates_dir: str,
    *,
    sequence_id: str | None,
    step_id: str | None,
    channel: str | None,
) -> Finding:
    file = f"{templates_dir}/{error.template}" if error.template else None
    return Finding(
        "error",
        "template",
        f"{error.reason}: fix the template, then run `nurture validate` again",
        file,
        error.line,
        sequence_id,
        step_id,
        channel,
    )


def has_errors(findings: list[Finding]) -> bool:
    return any(f.is_error for f in findings)
