"""The clinic's settings (clinic.yaml) as a form: every field with its label, help and check,
what the file holds now, and `apply`, the file's text with new values written in, comments,
order and quoting kept.

A value typed is checked on its own first (a phone number, an email address, an https link,
a timezone, a date), each problem named with its field; then the whole file as it would be
is loaded as a `Clinic`, so what is saved always loads. An empty box whose value is still
the example (`CHANGE-ME`) leaves it as it is: a manager may fill the form in over several
visits. Nothing here saves: the studio keeps the result as a draft (`edit/drafts.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from pydantic import ValidationError

from nurture.edit import checks, clinicyaml
from nurture.edit.fields import FIELDS, Field, by_name
from nurture.edit.yamltext import dump, load
from nurture.errors import ScheduleError
from nurture.schedule.catalog import PLACEHOLDER
from nurture.schedule.clinic import Clinic
from nurture.schedule.delays import WEEKDAYS
from nurture.schedule.wording import ConsentWording

__all__ = ["FIELDS", "Edit", "Field", "apply", "current", "edit", "examples", "is_example"]

_ONE: dict[str, Callable[[str], Any]] = {
    "phone": checks.check_phone,
    "email": checks.check_email,
    "url": checks.check_https,
    "zone": checks.check_timezone,
}
_EACH: dict[str, Callable[[str], Any]] = {
    "emails": checks.check_email,
    "phones": checks.to_e164,
    "dates": checks.check_date,
    "weekdays": checks.check_weekday,
    "terms": checks.check_term,
}


def is_example(value: object) -> bool:
    """Whether a value is still the shipped example (holds CHANGE-ME)."""
    return PLACEHOLDER in str(value)


def _plain(value: object) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, date) else str(value)


def current(text: str) -> dict[str, Any]:
    """Every field's value in clinic.yaml's `text` (the model's default where it is unset)."""
    doc = load(text, name="clinic.yaml")
    values: dict[str, Any] = {}
    defaults = ConsentWording()
    for f in FIELDS:
        node: Any = doc
        for key in f.path:
            node = node.get(key) if isinstance(node, dict) else None
        node = _plain(node)
        if f.kind == "videos":
            values[f.name] = list((node or {}).items())
        elif f.name in ("closed_weekdays", "closed_dates"):
            days = [d.isoformat() if isinstance(d, date) else d for d in node or []]
            weekdays = [d for d in days if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)]
            dates = [date.fromisoformat(d) for d in days if d not in weekdays]
            values[f.name] = weekdays if f.name == "closed_weekdays" else dates
        elif f.kind in _EACH:
            values[f.name] = list(node or [])
        elif f.kind == "wording" and node is None:
            values[f.name] = getattr(defaults, f.path[-1])
        else:
            values[f.name] = node.rstrip("\n") if isinstance(node, str) else node
    return values


def examples(values: dict[str, Any]) -> list[Field]:
    """The fields still holding the shipped example (CHANGE-ME)."""
    return [f for f in FIELDS if is_example(values.get(f.name))]


def _check_one(f: Field, raw: object, now: Any) -> Any:
    """The value of `f` typed as `raw`, checked (BadValue says what is wrong)."""
    if f.kind == "videos":
        return _check_videos(raw, now)
    if f.kind in _EACH:
        items = [_EACH[f.kind](item) for item in checks.split_items(raw)]
        return sorted(items, key=WEEKDAYS.index) if f.kind == "weekdays" else items
    text = "" if raw is None else str(raw).strip()
    if f.kind == "lines":
        text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    else:
        text = " ".join(text.split())
    longest = 1000 if f.kind == "wording" else 300
    if len(text) > longest:
        raise checks.BadValue(f"is {len(text)} characters long; at most {longest}")
    if isinstance(now, str) and text == now:
        return now  # as the file has it (an example sent back as it was stays)
    if not text:
        if is_example(now):
            return now  # still the example: left for later
        if f.required:
            raise checks.BadValue("cannot be left empty")
        return None
    if f.kind in _ONE:
        return _ONE[f.kind](text)
    return checks.no_placeholder(text)


def _check_videos(raw: object, now: list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = list(raw.items()) if isinstance(raw, dict) else raw or []
    if not isinstance(pairs, list | tuple) or not all(
        isinstance(p, list | tuple) and len(p) == 2 for p in pairs
    ):
        raise checks.BadValue('give them as {"name": "https://…"}, a name and a link each')
    old = dict(now)
    videos: list[tuple[str, str]] = []
    for pair in pairs:
        name, url = (" ".join(str(p or "").split()) for p in pair)
        if not name and not url:
            continue
        if not name:
            raise checks.BadValue(f"the video at {url} needs a name")
        checks.check_video_name(name)
        if not url and is_example(old.get(name)):
            url = old[name]
        elif not url:
            raise checks.BadValue(f"the video {name!r} needs its link")
        else:
            url = checks.check_https(url)
        if name in dict(videos):
            raise checks.BadValue(f"two videos are called {name!r}: give each its own name")
        videos.append((name, url))
    return videos


@dataclass(frozen=True)
class Edit:
    """What a settings save would do: the new text, the fields it changes, or the errors
    (field name to message; nothing is to be saved when there is any)."""

    text: str
    changed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def edit(text: str, raw: dict[str, Any]) -> Edit:
    """clinic.yaml's `text` with the typed values `raw` ({field: value}) checked and written."""
    now = current(text)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in raw.items():
        f = by_name(name)
        if f is None:
            errors[name] = f"{name!r} is not a setting (known: {', '.join(x.name for x in FIELDS)})"
            continue
        try:
            values[name] = _check_one(f, value, now[name])
        except checks.BadValue as exc:
            errors[name] = f"{f.label}: {exc}"
    if errors:
        return Edit(text, errors=errors)
    changed = [name for name, value in values.items() if value != now[name]]
    if not changed:
        return Edit(text)
    new = apply(text, {name: values[name] for name in changed})
    problems = _problems(new)
    return Edit(new, changed) if not problems else Edit(text, errors=problems)


def _problems(text: str) -> dict[str, str]:
    """Every reason clinic.yaml's `text` would not load, by field."""
    try:
        Clinic.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        found: dict[str, str] = {}
        for error in exc.errors():
            loc = tuple(str(p) for p in error["loc"])
            f = next((f for f in FIELDS if loc[: len(f.path)] == f.path), None)
            name = f.name if f is not None else "_file"
            label = f.label if f is not None else ".".join(loc) or "clinic.yaml"
            found.setdefault(name, f"{label}: {error['msg']}")
        return found
    except yaml.YAMLError as exc:
        return {"_file": f"clinic.yaml would not load: {exc}"}
    return {}


def _top_value(top: str, merged: dict[str, Any]) -> Any:
    """The new value of top-level key `top` from every field's value."""
    if top == "closed_days":
        return [*merged["closed_weekdays"], *sorted(merged["closed_dates"])]
    if top == "videos":
        return dict(merged["videos"])
    nested = [f for f in FIELDS if f.path[0] == top and len(f.path) > 1]
    if nested:
        return {f.path[1]: merged[f.name] for f in nested}
    return merged[next(f.name for f in FIELDS if f.path == (top,))]


def apply(text: str, values: dict[str, Any]) -> str:
    """clinic.yaml's `text` with the checked `values` ({field: value}) written in; every
    other byte (comments, order, quoting) as it was."""
    for name in values:
        if by_name(name) is None:
            raise ScheduleError(f"{name!r} is not a setting")
    now = current(text)
    merged = {**now, **values}
    tops = list(dict.fromkeys(by_name(n).path[0] for n in values))  # type: ignore[union-attr]
    for top in tops:
        if top not in load(text, name="clinic.yaml"):
            text = clinicyaml.uncomment(text, top)
    doc = load(text, name="clinic.yaml")
    for top in tops:
        value = _top_value(top, merged)
        if top == "consent":
            # Only the wordings the clinic changed: the others keep following the default.
            old = doc.get("consent") or {}
            value = {k: v for k, v in value.items() if k in old or v != now[f"consent_{k}"]}
        clinicyaml.set_key(doc, top, value)
    return dump(doc)
