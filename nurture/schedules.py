"""Schedule files: `schedules/*.yaml` (sequences) and `schedules/clinic.yaml` (the clinic).

Loading validates everything a clinic can get wrong and names the file, line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nurture.errors import ScheduleError
from nurture.models import Channel
from nurture.timing import (
    WEEKDAYS,
    ClosedDays,
    Delay,
    DelayError,
    SendWindow,
    parse_delay,
    window_allows_sms,
)

CLINIC_FILE = "clinic.yaml"
PLACEHOLDER = "CHANGE-ME"
_SLUG = r"^[a-z0-9][a-z0-9_-]*$"
_TEMPLATE_NAME = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"
_expressions = SandboxedEnvironment()
_M = TypeVar("_M", bound=BaseModel)


StopReason = Literal["booked", "unsubscribed", "replied"]


def _default_stop_on() -> list[StopReason]:
    return ["booked", "unsubscribed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_clock(value: str) -> time:
    if not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ValueError(f"invalid time {value!r}: use HH:MM, e.g. 09:00")
    hours, minutes = int(value[:2]), int(value[3:])
    if hours == 24 and minutes == 0:
        return time.max
    return time(hours, minutes)


def _weekday(value: str) -> int:
    name = str(value).strip().lower()[:3]
    if name not in WEEKDAYS:
        raise ValueError(f"unknown day {value!r}: use {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


class WindowSpec(_Strict):
    start: str = "00:00"
    end: str = "24:00"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))

    def to_window(self) -> SendWindow:
        return SendWindow(
            start=_parse_clock(self.start),
            end=_parse_clock(self.end),
            days=frozenset(_weekday(d) for d in self.days),
        )

    @model_validator(mode="after")
    def _check(self) -> WindowSpec:
        self.to_window()  # raises ValueError with the reason
        return self


class Step(_Strict):
    """One message of a sequence, on one or more channels."""

    id: str = Field(pattern=_SLUG, max_length=100)
    after: Delay
    channels: list[Channel] = Field(min_length=1)
    template: str = Field(pattern=_TEMPLATE_NAME)
    when: str | None = None
    description: str | None = None

    @field_validator("after", mode="before")
    @classmethod
    def _parse_after(cls, value: Any) -> Delay:
        if isinstance(value, Delay):
            return value
        try:
            return parse_delay(str(value))
        except DelayError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @field_validator("when")
    @classmethod
    def _compile_when(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _expressions.compile_expression(value)
            except TemplateSyntaxError as exc:
                raise ValueError(f"invalid expression {value!r}: {exc.message}") from None
        return value


class Sequence(_Strict):
    """A follow-up sequence: which requests it takes, when it stops, and its steps."""

    id: str = Field(pattern=_SLUG, max_length=100)
    name: str
    match: dict[Literal["concern", "source"], list[str]] | None = None
    default: bool = False
    stop_on: list[StopReason] = Field(default_factory=_default_stop_on)
    send_window: WindowSpec | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Sequence:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        if not self.default and not self.match:
            raise ValueError("give `match` (which requests enroll here) or `default: true`")
        uses_sms = any(Channel.SMS in s.channels for s in self.steps)
        if uses_sms and not window_allows_sms(self.window):
            raise ValueError(
                "send_window leaves no time for SMS, which may only go 08:00-21:00 local time"
            )
        return self

    @property
    def window(self) -> SendWindow | None:
        return self.send_window.to_window() if self.send_window else None

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def matches(self, concern: str | None, source: str | None) -> bool:
        """Whether a request with this concern/source enrolls here (whole words, any case)."""
        if not self.match:
            return False
        given = {"concern": concern or "", "source": source or ""}
        for key, terms in self.match.items():
            text = given[key].lower()
            if any(re.search(rf"\b{re.escape(t.lower())}\b", text) for t in terms):
                return True
        return False


class Clinic(_Strict):
    """The clinic: who the messages come from and where their links lead."""

    name: str
    practitioner: str
    address: str
    phone: str
    from_email: EmailStr
    from_name: str
    reply_to: EmailStr | None = None
    timezone: str
    website: str
    booking_url: str
    phone_consultation_url: str
    remote_evaluation_url: str
    service_area: str = "our area"
    videos: dict[str, str] = Field(default_factory=dict)
    closed_days: list[str | date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}: use an IANA name such as America/New_York"
            ) from None
        return value

    @field_validator("closed_days", mode="before")
    @classmethod
    def _check_days(cls, value: Any) -> list[str | date]:
        if not isinstance(value, list):
            raise ValueError("must be a list of weekday names and/or ISO dates")
        days: list[str | date] = []
        for item in value:
            if isinstance(item, date):
                days.append(item)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(item)):
                try:
                    days.append(date.fromisoformat(str(item)))
                except ValueError:
                    raise ValueError(f"invalid date {item!r}") from None
            else:
                _weekday(str(item))
                days.append(str(item))
        return days

    @property
    def closed(self) -> ClosedDays:
        return ClosedDays(
            weekdays=frozenset(_weekday(d) for d in self.closed_days if not isinstance(d, date)),
            dates=frozenset(d for d in self.closed_days if isinstance(d, date)),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Catalog:
    """Every sequence and the clinic, as loaded from one schedules folder."""

    clinic: Clinic
    sequences: dict[str, Sequence]
    files: dict[str, str] = field(default_factory=dict)  # sequence id -> file name
    warnings: tuple[str, ...] = ()

    def get(self, sequence_id: str) -> Sequence:
        try:
            return self.sequences[sequence_id]
        except KeyError:
            known = ", ".join(sorted(self.sequences)) or "none"
            raise ScheduleError(f"no sequence {sequence_id!r} (known: {known})") from None

    def route(self, concern: str | None, source: str | None = None) -> Sequence:
        """The sequence a request enrolls in: the first file that matches, else the default."""
        for sequence in self.sequences.values():
            if sequence.matches(concern, source):
                return sequence
        for sequence in self.sequences.values():
            if sequence.default:
                return sequence
        raise ScheduleError(f"no sequence matches concern {concern!r} and none is `default: true`")


def load_catalog(directory: Path) -> Catalog:
    """Load and validate every schedule file in `directory`; the first problem raises."""
    if not directory.is_dir():
        raise ScheduleError(f"schedules folder {str(directory)!r} does not exist")
    clinic_path = directory / CLINIC_FILE
    if not clinic_path.exists():
        raise ScheduleError(
            "missing; it holds the clinic's name, address and links", file=str(clinic_path)
        )
    clinic = _load_model(clinic_path, Clinic)
    warnings = [
        f"{clinic_path}: {key} still holds a {PLACEHOLDER} placeholder"
        for key, value in clinic.model_dump().items()
        if PLACEHOLDER in str(value)
    ]
    sequences: dict[str, Sequence] = {}
    files: dict[str, str] = {}
    default_file: str | None = None
    for path in sorted(directory.glob("*.y*ml")):
        if path.name == CLINIC_FILE or path.suffix not in (".yaml", ".yml"):
            continue
        sequence = _load_model(path, Sequence)
        if sequence.id in sequences:
            raise ScheduleError(
                f"sequence id {sequence.id!r} is also used by {files[sequence.id]}",
                file=str(path),
                line=_line_of(path, ("id",)),
                field="id",
            )
        if sequence.default:
            if default_file:
                raise ScheduleError(
                    f"only one sequence may be `default: true`; {default_file} is",
                    file=str(path),
                    line=_line_of(path, ("default",)),
                    field="default",
                )
            default_file = str(path)
        sequences[sequence.id] = sequence
        files[sequence.id] = str(path)
    if not sequences:
        raise ScheduleError(f"no sequence files (*.yaml besides {CLINIC_FILE}) in {directory}")
    return Catalog(clinic=clinic, sequences=sequences, files=files, warnings=tuple(warnings))


def _load_model(path: Path, model: type[_M]) -> _M:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ScheduleError(
            f"not valid YAML: {exc.problem}", file=str(path), line=mark.line + 1 if mark else None
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise ScheduleError(f"cannot be read: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ScheduleError(
            "must be a mapping of keys (id, name, steps, ...)", file=str(path), line=1
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif error["type"] == "missing":
            message = "required field is missing"
        raise _located(path, loc, message) from None


def _located(path: Path, loc: tuple[Any, ...], message: str) -> ScheduleError:
    dotted = ""
    for part in loc:
        dotted += f"[{part}]" if isinstance(part, int) else f".{part}" if dotted else str(part)
    return ScheduleError(message, file=str(path), line=_line_of(path, loc), field=dotted or None)


def _line_of(path: Path, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc` (or its nearest existing parent)."""
    try:
        node: Any = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
