"""`copy_sequence`: a sequence and its messages copied under a new id, as drafts.

The copy is a new schedule file `schedules/<new id>.yaml` (the original's comments and order
kept) whose steps use templates copied to `templates/<new id>/<step id>.*`. Its matching
words start empty, so requests keep going to the original until the clinic gives the copy
words of its own; it is never the default sequence, and its form label (the choice on the
hosted form, once it has words) is its new name.
Pure: it reads and returns texts by version path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml
from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from nurture.edit import yamltext
from nurture.edit.sequence_form import EditError
from nurture.edit.sequences import scalar
from nurture.schedule.catalog import CLINIC_FILE
from nurture.schedule.sequence import Sequence

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


def sequence_paths(files: Mapping[str, str]) -> dict[str, str]:
    """Each sequence id in `files` (a version) and its schedule file's path."""
    found: dict[str, str] = {}
    for path, text in sorted(files.items()):
        top, _, name = path.partition("/")
        if top != "schedules" or name == CLINIC_FILE or not name.endswith((".yaml", ".yml")):
            continue
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            found.setdefault(data["id"], path)
    return found


def _refusals(
    files: Mapping[str, str], source_id: str, new_id: str, new_name: str
) -> dict[str, str]:
    errors: dict[str, str] = {}
    paths = sequence_paths(files)
    if source_id not in paths:
        known = ", ".join(sorted(paths)) or "none"
        errors["from"] = f"there is no sequence {source_id!r} to copy (sequences: {known})"
    if not new_id:
        errors["id"] = "give the copy an id, e.g. hip-pain-spring"
    elif not _SLUG.fullmatch(new_id):
        errors["id"] = (
            f"{new_id!r}: use lower-case letters, digits and dashes, starting with a letter or "
            "digit (e.g. hip-pain-spring)"
        )
    elif new_id in paths:
        errors["id"] = f"the id {new_id!r} is taken by {paths[new_id]}: choose another"
    elif f"schedules/{new_id}.yaml" in files:
        errors["id"] = f"schedules/{new_id}.yaml already exists: choose another id"
    elif any(p.startswith(f"templates/{new_id}/") for p in files):
        errors["id"] = f"the template folder templates/{new_id}/ is taken: choose another id"
    if not new_name.strip():
        errors["name"] = "give the copy a name (staff see it; prospects do not)"
    elif len(new_name) > 200:
        errors["name"] = "at most 200 characters"
    return errors


def copy_sequence(
    files: Mapping[str, str], source_id: str, new_id: str, new_name: str
) -> dict[str, str]:
    """The files a copy of `source_id` adds to `files`, by path (the schedule file first);
    EditError naming the fields (`from`, `id`, `name`) when it cannot be made."""
    new_id, new_name = new_id.strip(), " ".join(new_name.split())
    errors = _refusals(files, source_id, new_id, new_name)
    if errors:
        raise EditError(errors)
    source = sequence_paths(files)[source_id]
    doc = yamltext.load(files[source], name=source)
    doc["id"] = new_id
    doc["name"] = scalar(doc.get("name"), new_name)
    doc.pop("default", None)
    if "form_label" in doc:  # the choice it would be on the form once it has words
        doc["form_label"] = scalar(doc["form_label"], new_name[:80])
    concern = CommentedSeq()
    concern.fa.set_flow_style()
    match = doc.get("match")
    if isinstance(match, CommentedMap):
        match.clear()
        match["concern"] = concern
    else:
        match = CommentedMap(concern=concern)
        doc.insert(list(doc).index("name") + 1, "match", match)
    texts: dict[str, str] = {}
    for step in doc.get("steps") or []:
        old, new = str(step["template"]), f"{new_id}/{step['id']}"
        step["template"] = new
        for path in sorted(files):
            if path.startswith(f"templates/{old}."):
                texts[f"templates/{new}.{path.removeprefix(f'templates/{old}.')}"] = files[path]
    text = yamltext.dump(doc)
    try:
        Sequence.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        raise EditError(
            {"from": f"{source} does not load, so it cannot be copied: {exc}"}
        ) from None
    return {f"schedules/{new_id}.yaml": text, **texts}
