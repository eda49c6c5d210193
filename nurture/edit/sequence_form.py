"""The sequence editor's form: a schedule file's values as the form shows them
(`fields_of`), the posted form read back (`read_form`), and every value checked the way the
loader checks it, each problem named by its form field (`check_fields`): `name`,
`concern`, `window_end`, `step.<id>.after`, `new.id`, .... Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml
from pydantic import ValidationError

from nurture.core.states import Channel
from nurture.errors import DelayError, ScheduleError
from nurture.schedule.delays import WEEKDAYS, parse_delay
from nurture.schedule.routing import words
from nurture.schedule.sequence import Sequence, Step, WindowSpec

#: `stop_on` values, as the form's checkboxes say them.
STOP_WORDS: dict[str, str] = {
    "booked": "when they book",
    "unsubscribed": "when they unsubscribe",
    "replied": "when they write back",
}
CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
#: What a file without `stop_on` stops on (the loader's default).
DEFAULT_STOP_ON: tuple[str, ...] = ("booked", "unsubscribed")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")

#: Each form field as the page labels it, for the list of what to fix.
FIELD_WORDS: dict[str, str] = {
    "name": "Name",
    "concern": "Matching words",
    "stop_on": "Stop sending",
    "window_start": "Send window: from",
    "window_end": "Send window: until",
    "window_days": "Send window: days",
    "id": "Its id",
    "description": "What it is about",
    "after": "Goes out after",
    "channels": "Sends",
    "when": "Only if",
}


def field_words(name: str) -> str:
    """A form field's name as the page labels it: "step.self-test.after" is
    "Step self-test: goes out after", "new.id" is "New step: its id"."""
    if name.startswith("step."):
        step_id, _, part = name.removeprefix("step.").rpartition(".")
        return f"Step {step_id}: {FIELD_WORDS.get(part, part).lower()}"
    if name.startswith("new."):
        part = name.removeprefix("new.")
        return f"New step: {FIELD_WORDS.get(part, part).lower()}"
    return FIELD_WORDS.get(name, name)


class EditError(ScheduleError):
    """A form that cannot be applied: `errors` maps each form field to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class StepFields:
    """One step as the form shows it (`template` is shown, not edited)."""

    id: str
    description: str = ""
    after: str = ""
    channels: tuple[str, ...] = ()
    when: str = ""
    template: str = ""

    @property
    def blank(self) -> bool:
        """Nothing typed (the "Add a step" fieldset left as it was)."""
        return not (self.id or self.description or self.after or self.when)


@dataclass(frozen=True)
class SequenceFields:
    """A sequence as its editor's form shows it."""

    name: str
    concern: str
    stop_on: tuple[str, ...]
    window_start: str
    window_end: str
    window_days: tuple[str, ...]
    steps: tuple[StepFields, ...]
    new: StepFields = field(default_factory=lambda: StepFields("", channels=CHANNELS))

    @property
    def terms(self) -> list[str]:
        """The matching words: comma- or line-separated, each once, as typed."""
        seen: dict[str, str] = {}
        for term in re.split(r"[,\n]", self.concern):
            term = " ".join(term.split())
            if term and term.lower() not in seen:
                seen[term.lower()] = term
        return list(seen.values())


def editable(text: str, *, name: str = "file") -> str | None:
    """Why the form cannot edit the sequence file `text` (it does not load as a sequence,
    so the form could not show all of it), or None when it can."""
    try:
        Sequence.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        return f"{name} is not valid YAML: {exc}"
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        return f"{name} does not load as a sequence ({problems})"
    return None


def fields_of(text: str, *, name: str = "file") -> SequenceFields:
    """The form's values for the sequence in `text` (one that is `editable`)."""
    data = yaml.safe_load(text) or {}
    window = data.get("send_window") or {}
    return SequenceFields(
        name=str(data.get("name") or ""),
        concern=", ".join(str(t) for t in (data.get("match") or {}).get("concern") or []),
        stop_on=tuple(data.get("stop_on", DEFAULT_STOP_ON) or ()),
        window_start=str(window.get("start", "")),
        window_end=str(window.get("end", "")),
        window_days=tuple(str(d).lower()[:3] for d in window.get("days", [])) if window else (),
        steps=tuple(
            StepFields(
                id=str(s.get("id", "")),
                description=str(s.get("description") or ""),
                after=str(s.get("after", "")),
                channels=tuple(str(c) for c in s.get("channels") or ()),
                when=str(s.get("when") or ""),
                template=str(s.get("template", "")),
            )
            for s in data.get("steps") or []
            if isinstance(s, dict)
        ),
    )


def read_form(form: Mapping[str, list[str]]) -> SequenceFields:
    """The editor's posted fields (each name with every value it was sent with)."""

    def one(key: str) -> str:
        values = form.get(key) or [""]
        return values[0].strip()

    def step(prefix: str, step_id: str) -> StepFields:
        return StepFields(
            id=step_id,
            description=one(f"{prefix}.description"),
            after=one(f"{prefix}.after"),
            channels=tuple(form.get(f"{prefix}.channels", [])),
            when=one(f"{prefix}.when"),
        )

    return SequenceFields(
        name=one("name"),
        concern=(form.get("concern") or [""])[0],
        stop_on=tuple(form.get("stop_on", [])),
        window_start=one("window_start"),
        window_end=one("window_end"),
        window_days=tuple(form.get("window_days", [])),
        steps=tuple(step(f"step.{key}", key) for key in form.get("steps", [])),
        new=step("new", one("new.id")),
    )


def _step_errors(prefix: str, fields: StepFields) -> dict[str, str]:
    """A step's values checked as the loader checks them, by form field."""
    errors: dict[str, str] = {}
    try:
        parse_delay(fields.after)
    except DelayError as exc:
        errors[f"{prefix}.after"] = str(exc)
    unknown = [c for c in fields.channels if c not in CHANNELS]
    if unknown or not fields.channels:
        errors[f"{prefix}.channels"] = (
            f"unknown channel {unknown[0]!r}" if unknown else "tick at least one: email or text"
        )
    if len(fields.description) > 300:
        errors[f"{prefix}.description"] = "at most 300 characters"
    if fields.when:
        try:
            Step.model_validate(
                {
                    "id": "x",
                    "after": "0m",
                    "channels": ["email"],
                    "template": "x",
                    "when": fields.when,
                }
            )
        except ValidationError as exc:
            errors[f"{prefix}.when"] = exc.errors()[0]["msg"].removeprefix("Value error, ")
    return errors


def _window_errors(fields: SequenceFields) -> dict[str, str]:
    if not (fields.window_start or fields.window_end or fields.window_days):
        return {}
    errors: dict[str, str] = {}
    for key, spec in (
        ("window_start", {"start": fields.window_start or "?"}),
        ("window_end", {"end": fields.window_end or "?"}),
    ):
        try:
            WindowSpec.model_validate(
                {"start": "00:00", "end": "24:00", **spec} if key == "window_end" else spec
            )
        except ValidationError as exc:
            errors[key] = exc.errors()[0]["msg"].removeprefix("Value error, ")
    unknown = [d for d in fields.window_days if d not in WEEKDAYS]
    if unknown or not fields.window_days:
        errors["window_days"] = (
            f"unknown day {unknown[0]!r}" if unknown else "tick at least one day to send on"
        )
    if not errors:
        try:
            WindowSpec(start=fields.window_start, end=fields.window_end)
        except ValidationError:
            errors["window_end"] = (
                f"the window ends ({fields.window_end}) before it starts "
                f"({fields.window_start}): give an end after the start"
            )
    return errors


def check_fields(fields: SequenceFields, adding: bool) -> dict[str, str]:
    """Every value of the form checked on its own; field -> what is wrong."""
    errors: dict[str, str] = {}
    if not fields.name:
        errors["name"] = "give the sequence a name (staff see it; prospects do not)"
    elif len(fields.name) > 200:
        errors["name"] = "at most 200 characters"
    for term in fields.terms:
        if not words(term):
            errors["concern"] = f"{term!r} has no letters or digits to match a request with"
        elif len(term) > 100:
            errors["concern"] = f"{term[:20]!r}... is over 100 characters: use a few words"
    bad_stop = [s for s in fields.stop_on if s not in STOP_WORDS]
    if bad_stop:
        errors["stop_on"] = f"unknown reason to stop {bad_stop[0]!r}"
    errors.update(_window_errors(fields))
    for step in fields.steps:
        errors.update(_step_errors(f"step.{step.id}", step))
    if adding:
        new = fields.new
        taken = {s.id for s in fields.steps}
        if not new.id:
            errors["new.id"] = "give the new step an id, e.g. week-two"
        elif not _SLUG.fullmatch(new.id):
            errors["new.id"] = (
                f"{new.id!r}: use lower-case letters, digits and dashes, starting with a "
                "letter or digit (e.g. week-two)"
            )
        elif new.id in taken:
            errors["new.id"] = f"a step called {new.id!r} is already in this sequence"
        errors.update(_step_errors("new", new))
    return errors
