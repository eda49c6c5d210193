"""The sequence editor's changes applied to a schedule file's text (comments, key order
and quoting kept): `edit_sequence` takes the form (`sequence_form.py`) and a button's
action, and returns the texts to save as drafts, or the errors by form field. The text it
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

from nurture.edit import yamltext
from nurture.edit.sequence_form import (
    CHANNELS,
    DEFAULT_STOP_ON,
    STOP_WORDS,
    EditError,
    SequenceFields,
    StepFields,
    check_fields,
    editable,
    fields_of,
)
from nurture.edit.starters import missing_starters
from nurture.edit.steplist import StepList
from nurture.schedule.delays import WEEKDAYS
from nurture.schedule.sequence import Sequence

ACTIONS = ("save", "add")
MOVES = ("up", "down", "remove")
#: A text YAML 1.1 (the loader) and 1.2 (ruamel) both read as that same text, unquoted.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/()'-]*|[0-9]{1,20}(?:s|m|h|d|bd)")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none"}


@dataclass(frozen=True)
class Edit:
    """What a form did to a sequence file: the new texts by path, or the errors by field."""

    path: str
    fields: SequenceFields
    errors: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    sequence: Sequence | None = None
    added: str | None = None


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
