"""Loading the schedules folder: `schedules/*.yaml` (sequences) and `clinic.yaml` (the clinic).

Loading validates everything a clinic can get wrong and names the file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nurture.errors import ScheduleError
from nurture.schedule.clinic import Clinic
from nurture.schedule.routing import route, shadowed_terms
from nurture.schedule.sequence import Sequence
from nurture.schedule.yaml_lines import line_of, located

CLINIC_FILE = "clinic.yaml"
PLACEHOLDER = "CHANGE-ME"
_M = TypeVar("_M", bound=BaseModel)


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
        """The sequence a request enrolls in (the rules are in `schedule/routing.py`)."""
        chosen = route(self.sequences.values(), concern, source)
        if chosen is not None:
            return chosen
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
                line=line_of(path, ("id",)),
                field="id",
            )
        if sequence.default:
            if default_file:
                raise ScheduleError(
                    f"only one sequence may be `default: true`; {default_file} is",
                    file=str(path),
                    line=line_of(path, ("default",)),
                    field="default",
                )
            default_file = str(path)
        sequences[sequence.id] = sequence
        files[sequence.id] = str(path)
    if not sequences:
        raise ScheduleError(f"no sequence files (*.yaml besides {CLINIC_FILE}) in {directory}")
    warnings += shadowed_terms(list(sequences.values()))
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
        raise located(path, loc, message) from None
