"""A sequence file's shape: which requests it takes, its send window, its steps.

pydantic models, strict (an unknown key is an error that names it); `catalog.py` loads them.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nurture.core.states import Channel
from nurture.errors import DelayError
from nurture.schedule.delays import WEEKDAYS, Delay, parse_delay
from nurture.schedule.windows import SendWindow, window_allows_sms

_SLUG = r"^[a-z0-9][a-z0-9_-]*$"
_TEMPLATE_NAME = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$"
_expressions = SandboxedEnvironment()


StopReason = Literal["booked", "unsubscribed", "replied"]
MatchKey = Literal["concern", "source"]  # what a `match:` may name; see routing.py


def _default_stop_on() -> list[StopReason]:
    return ["booked", "unsubscribed"]


class Strict(BaseModel):
    """A file's model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_clock(value: str) -> time:
    if not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ValueError(f"invalid time {value!r}: use HH:MM, e.g. 09:00")
    hours, minutes = int(value[:2]), int(value[3:])
    if hours == 24 and minutes == 0:
        return time.max
    return time(hours, minutes)


def weekday(value: str) -> int:
    """A day as written in a file ("mon", "Monday") as its `date.weekday()` index."""
    name = str(value).strip().lower()[:3]
    if name not in WEEKDAYS:
        raise ValueError(f"unknown day {value!r}: use {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


class WindowSpec(Strict):
    start: str = "00:00"
    end: str = "24:00"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))

    def to_window(self) -> SendWindow:
        return SendWindow(
            start=_parse_clock(self.start),
            end=_parse_clock(self.end),
            days=frozenset(weekday(d) for d in self.days),
        )

    @model_validator(mode="after")
    def _check(self) -> WindowSpec:
        self.to_window()  # raises ValueError with the reason
        return self


class Step(Strict):
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


class Sequence(Strict):
    """A follow-up sequence: which requests it takes, when it stops, and its steps."""

    id: str = Field(pattern=_SLUG, max_length=100)
    name: str
    #: The choice a prospect picks on the hosted form ("Outer hip pain"); else `name`.
    form_label: str | None = Field(default=None, min_length=1, max_length=80)
    match: dict[MatchKey, list[str]] | None = None
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


def first_sms_step(sequence: Sequence) -> str | None:
    """The id of the sequence's first SMS step: its message ends with the opt-out line."""
    for step in sequence.steps:
        if Channel.SMS in step.channels:
            return step.id
    return None
