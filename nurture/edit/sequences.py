"""The sequence editor's work, pure: a schedule file's values as a form shows them, and the
form's changes applied to the file's text (comments, key order and quoting kept).

`edit_sequence` checks every value the way the loader does and names the form field that is
wrong (`name`, `concern`, `window_end`, `step.<id>.after`, `new.id`, ...); the text it
returns loads as a `Sequence`. A step's id never changes once the step exists (deliveries
written at enrollment name it); a new step gets its template files from a short starter
text (`starters.py`). `copy_sequence` lives in `copying.py`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString

from nurture.core.states import Channel
from nurture.edit import yamltext
from nurture.edit.starters import missing_starters
from nurture.edit.steplist import StepList
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
ACTIONS = ("save", "add")
MOVES = ("up", "down", "remove")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
#: A text YAML 1.1 (the loader) and 1.2 (ruamel) both read as that same text, unquoted.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/()'-]*|[0-9]{1,20}(?:s|m|h|d|bd)")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none"}


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


@dataclass(frozen=True)
class Edit:
    """What a form did to a sequence file: the new texts by path, or the errors by field."""

    path: str
    fields: SequenceFields
    errors: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    sequence: Sequence | None = None
    added: str | None = None


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


def scalar(old: object, value: str) -> str:
    """`value` to write where `old` was: quoted as `old` was, else plain only when both YAML
    readers agree it is that text (never "10:00" read as a number, "on" as a boolean)."""
    if isinstance(old, ScalarString):
        quoted: str = type(old)(value)
        return quoted
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML11_WORDS:
        return value
    quoted_text: str = DoubleQuotedScalarString(value)
    return quoted_text


def _set_list(parent: CommentedMap, key: str, values: list[str], *, flow: bool = True) -> None:
    """Replace the list at `key` in place (its flow or block style kept)."""
    current = parent.get(key)
    if isinstance(current, CommentedSeq):
        old = list(current)
        if [str(v) for v in old] == values:
            return  # unchanged: left exactly as written (a list folded over lines stays so)
        current.clear()
        current.extend(scalar(old[i] if i < len(old) else None, v) for i, v in enumerate(values))
        return
    seq = CommentedSeq(scalar(None, v) for v in values)
    if flow:
        seq.fa.set_flow_style()
    parent[key] = seq


def _put(parent: CommentedMap, key: str, value: Any, *, before: str | None = None) -> None:
    """Set `key`, inserting a new key before `before` (else at the end)."""
    if key in parent or before is None or before not in parent:
        parent[key] = value
        return
    parent.insert(list(parent).index(before), key, value)


def _set_optional(step: CommentedMap, key: str, value: str, *, before: str) -> None:
    if value:
        # A new description or condition is quoted, as the shipped files write them.
        quoted = scalar(step[key], value) if key in step else DoubleQuotedScalarString(value)
        _put(step, key, quoted, before=before)
    elif key in step:
        del step[key]


def _apply_window(doc: CommentedMap, fields: SequenceFields) -> None:
    if not (fields.window_start or fields.window_end or fields.window_days):
        doc.pop("send_window", None)
        return
    window = doc.get("send_window")
    if not isinstance(window, CommentedMap):
        window = CommentedMap()
        window.fa.set_flow_style()
        _put(doc, "send_window", window, before="steps")
    window["start"] = DoubleQuotedScalarString(fields.window_start)
    window["end"] = DoubleQuotedScalarString(fields.window_end)
    days = [d for d in WEEKDAYS if d in fields.window_days]
    _set_list(window, "days", days)


def _apply_match(doc: CommentedMap, terms: list[str]) -> None:
    match = doc.get("match")
    if not isinstance(match, CommentedMap):
        if not terms and doc.get("default"):
            return
        match = CommentedMap()
        _put(doc, "match", match, before="stop_on" if "stop_on" in doc else "steps")
    _set_list(match, "concern", terms)


def _apply_stop_on(doc: CommentedMap, reasons: list[str]) -> None:
    if "stop_on" not in doc:
        if reasons == list(DEFAULT_STOP_ON):
            return  # the file leaves it to the default, which is what the form chose
        seq = CommentedSeq()
        seq.fa.set_flow_style()
        _put(doc, "stop_on", seq, before="send_window" if "send_window" in doc else "steps")
    _set_list(doc, "stop_on", reasons)


def _template_folder(doc: CommentedMap) -> str:
    """The folder most of the sequence's templates are in (new steps' go there too)."""
    folders = Counter(
        str(s["template"]).rpartition("/")[0] or str(s["template"])
        for s in doc.get("steps") or []
        if isinstance(s, dict) and s.get("template")
    )
    return folders.most_common(1)[0][0] if folders else str(doc.get("id"))


def _new_step(fields: StepFields, template: str) -> CommentedMap:
    step = CommentedMap()
    step["id"] = fields.id
    if fields.description:
        step["description"] = DoubleQuotedScalarString(fields.description)
    step["after"] = fields.after
    channels = CommentedSeq(c for c in CHANNELS if c in fields.channels)
    channels.fa.set_flow_style()
    step["channels"] = channels
    if fields.when:
        step["when"] = DoubleQuotedScalarString(fields.when)
    step["template"] = template
    return step


def _moved(steps: tuple[StepFields, ...], action: str) -> tuple[StepFields, ...]:
    """The steps after a move button (`up:<id>`, `down:<id>`, `remove:<id>`)."""
    verb, _, step_id = action.partition(":")
    order = list(steps)
    index = next((i for i, s in enumerate(order) if s.id == step_id), None)
    if index is None:
        raise EditError({"steps": f"there is no step {step_id!r} in this sequence"})
    if verb == "remove":
        if len(order) == 1:
            raise EditError({"steps": "a sequence needs at least one step: add another first"})
        del order[index]
    else:
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(order):
            order[index], order[other] = order[other], order[index]
    return tuple(order)


def _loader_errors(text: str, path: str, ids: list[str]) -> tuple[Sequence | None, dict[str, str]]:
    """The new text loaded as the loader loads it; its errors by form field."""
    try:
        return Sequence.model_validate(yaml.safe_load(text)), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = error["loc"]
            message = error["msg"].removeprefix("Value error, ")
            if loc and loc[0] == "steps" and len(loc) > 2 and isinstance(loc[1], int):
                key = f"step.{ids[loc[1]]}.{loc[2]}" if loc[1] < len(ids) else "steps"
            elif loc and loc[0] in ("name", "stop_on"):
                key = str(loc[0])
            elif (loc and loc[0] == "match") or "`match`" in message:
                key = "concern"
            elif (loc and loc[0] == "send_window") or "send_window" in message:
                key = "window_start"
            else:
                key = "steps"
            errors.setdefault(key, message)
        return None, errors


def edit_sequence(
    files: Mapping[str, str], path: str, fields: SequenceFields, action: str = "save"
) -> Edit:
    """`fields` (and a button's `action`: save, add, up:/down:/remove:<step>) applied to the
    schedule file `path` of `files` (the proposed set: disk and drafts). The result's
    `texts` are the files to save as drafts: the schedule file and the starter templates
    of a new step or a newly ticked channel; or `errors` by form field, nothing to save."""
    text = files.get(path)
    if text is None:
        return Edit(path, fields, errors={"file": f"{path} does not exist"})
    problem = editable(text, name=path)
    if problem is not None:
        return Edit(path, fields, errors={"file": problem})
    doc = yamltext.load(text, name=path)
    on_file = [str(s.get("id")) for s in doc.get("steps") or [] if isinstance(s, dict)]
    if sorted(s.id for s in fields.steps) != sorted(on_file):
        return Edit(
            path,
            fields,
            errors={
                "steps": "the sequence changed since this page was opened (its steps are "
                f"now {', '.join(on_file)}): open it again; nothing was saved"
            },
        )
    adding = action == "add" or not fields.new.blank
    errors = check_fields(fields, adding)
    try:
        steps = _moved(fields.steps, action) if action.partition(":")[0] in MOVES else fields.steps
    except EditError as exc:
        errors.update(exc.errors)
        steps = fields.steps
    if action not in ACTIONS and action.partition(":")[0] not in MOVES:
        errors["steps"] = f"unknown button {action!r}"
    if errors:
        return Edit(path, fields, errors=errors)

    doc["name"] = scalar(doc.get("name"), fields.name)
    _apply_match(doc, fields.terms)
    _apply_stop_on(doc, [s for s in STOP_WORDS if s in fields.stop_on])
    _apply_window(doc, fields)
    step_list = StepList(doc)
    by_id = {str(s["id"]): s for s in doc["steps"]}
    rows = []
    for form_step in steps:
        row = by_id[form_step.id]
        _set_optional(row, "description", form_step.description, before="after")
        row["after"] = scalar(row.get("after"), form_step.after)
        _set_list(row, "channels", [c for c in CHANNELS if c in form_step.channels])
        _set_optional(row, "when", form_step.when, before="template")
        rows.append(row)
    template_of = {str(r["id"]): str(r["template"]) for r in rows}
    added = None
    if adding:
        added = fields.new.id
        template_of[added] = f"{_template_folder(doc)}/{added}"
        rows.append(_new_step(fields.new, template_of[added]))
    doc["steps"].clear()
    doc["steps"].extend(rows)
    step_list.close()
    new_text = yamltext.dump(doc)
    if yaml.safe_load(new_text) == yaml.safe_load(text):
        # Nothing changed: the file exactly as written (ruamel joins a flow list folded
        # over two lines into one when it writes it again).
        new_text = text
    order = [str(r["id"]) for r in rows]
    sequence, errors = _loader_errors(new_text, path, order)
    if sequence is None:
        return Edit(path, fields, errors=errors)
    texts = {path: new_text}
    for step in sequence.steps:
        texts.update(missing_starters(files, step.template, list(step.channels)))
    return Edit(path, fields_of(new_text), texts=texts, sequence=sequence, added=added)
