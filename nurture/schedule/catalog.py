"""Loading the schedules folder: `schedules/*.yaml` (sequences) and `clinic.yaml` (the clinic).

Loading validates everything a clinic can get wrong and names the file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from nurture.errors import ScheduleError
from nurture.schedule.brand import LOGO_MAX_BYTES
from nurture.schedule.clinic import Clinic
from nurture.schedule.routing import route, shadowed_terms
from nurture.schedule.sequence import Sequence, Step
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


@dataclass(frozen=True)
class Scan:
    """Every problem of a schedules folder at once, and what loaded despite them.

    `catalog` is None when there is any error. `sequences` holds the files that loaded;
    `loose_steps` the steps that parsed in files that did not (their templates can still be
    checked). `warnings` are problems that send nothing wrong (placeholders).
    """

    catalog: Catalog | None
    clinic: Clinic | None
    sequences: dict[str, Sequence]
    files: dict[str, str]
    loose_steps: list[tuple[str, str | None, Step]]  # (file, sequence id if known, step)
    errors: list[ScheduleError]
    warnings: list[ScheduleError]


def load_catalog(directory: Path) -> Catalog:
    """Load and validate every schedule file in `directory`; the first problem raises."""
    scan = scan_catalog(directory)
    if scan.errors:
        raise scan.errors[0]
    assert scan.catalog is not None
    return scan.catalog


def scan_catalog(directory: Path) -> Scan:
    """Load every schedule file in `directory`, collecting every problem instead of stopping."""
    errors: list[ScheduleError] = []
    if not directory.is_dir():
        errors.append(ScheduleError(f"schedules folder {str(directory)!r} does not exist"))
        return Scan(None, None, {}, {}, [], errors, [])
    clinic_path = directory / CLINIC_FILE
    clinic: Clinic | None = None
    warnings: list[ScheduleError] = []
    if not clinic_path.exists():
        errors.append(
            ScheduleError(
                "missing; it holds the clinic's name, address and links", file=str(clinic_path)
            )
        )
    else:
        clinic, problems = _load_all(clinic_path, Clinic)
        errors.extend(problems)
        if clinic is not None:
            errors.extend(_check_logo(directory, clinic, clinic_path))
            warnings = [
                ScheduleError(
                    f"still holds a {PLACEHOLDER} placeholder: put the clinic's real value "
                    "here before real messages go out",
                    file=str(clinic_path),
                    line=line_of(clinic_path, (key,)),
                    field=key,
                )
                for key, value in clinic.model_dump().items()
                if PLACEHOLDER in str(value)
            ]
    sequences: dict[str, Sequence] = {}
    files: dict[str, str] = {}
    loose: list[tuple[str, str | None, Step]] = []
    default_file: str | None = None
    for path in sorted(directory.glob("*.y*ml")):
        if path.name == CLINIC_FILE or path.suffix not in (".yaml", ".yml"):
            continue
        sequence, problems = _load_all(path, Sequence)
        errors.extend(problems)
        if sequence is None:
            loose.extend(_loose_steps(path, errors))
            continue
        if sequence.id in sequences:
            errors.append(
                ScheduleError(
                    f"sequence id {sequence.id!r} is also used by {files[sequence.id]}: "
                    "give this file its own id",
                    file=str(path),
                    line=line_of(path, ("id",)),
                    field="id",
                )
            )
            continue
        if sequence.default:
            if default_file:
                errors.append(
                    ScheduleError(
                        f"only one sequence may be `default: true`; {default_file} is",
                        file=str(path),
                        line=line_of(path, ("default",)),
                        field="default",
                    )
                )
            default_file = str(path)
        sequences[sequence.id] = sequence
        files[sequence.id] = str(path)
    if not sequences and not loose and not errors:
        errors.append(
            ScheduleError(f"no sequence files (*.yaml besides {CLINIC_FILE}) in {directory}")
        )
    for seq_id, index, message in shadowed_terms(list(sequences.values())):
        path = Path(files[seq_id])
        loc = ("match", "concern", index)
        warnings.append(
            ScheduleError(
                message,
                file=str(path),
                line=line_of(path, loc),
                field=f"match.concern[{index}]",
            )
        )
    catalog = None
    if not errors and clinic is not None:
        catalog = Catalog(
            clinic=clinic,
            sequences=sequences,
            files=files,
            warnings=tuple(str(w) for w in warnings),
        )
    return Scan(catalog, clinic, sequences, files, loose, errors, warnings)


def _check_logo(directory: Path, clinic: Clinic, clinic_path: Path) -> list[ScheduleError]:
    """The hosted form's logo is a file beside clinic.yaml, and small."""
    if clinic.brand.logo is None:
        return []
    logo = directory / clinic.brand.logo
    problem = None
    if not logo.is_file():
        problem = f"no file {str(logo)!r}"
    elif logo.stat().st_size > LOGO_MAX_BYTES:
        problem = f"{logo.name} is over {LOGO_MAX_BYTES // 1024} KB; use a smaller image"
    if problem is None:
        return []
    return [
        ScheduleError(
            problem,
            file=str(clinic_path),
            line=line_of(clinic_path, ("brand", "logo")),
            field="brand.logo",
        )
    ]


def _read(path: Path) -> tuple[object, ScheduleError | None]:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        return None, ScheduleError(f"not valid YAML: {exc.problem}", file=str(path), line=line)
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        return None, ScheduleError(f"cannot be read: {exc}", file=str(path))
    if not isinstance(data, dict):
        return None, ScheduleError(
            "must be a mapping of keys (id, name, steps, ...)", file=str(path), line=1
        )
    return data, None


def _load_all(path: Path, model: type[_M]) -> tuple[_M | None, list[ScheduleError]]:
    """The model in `path`, or None and every problem pydantic finds in it."""
    data, problem = _read(path)
    if problem is not None:
        return None, [problem]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [_located(path, error) for error in exc.errors()]


def _located(path: Path, error: ErrorDetails) -> ScheduleError:
    loc = tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (check its spelling, or remove it)"
    elif error["type"] == "missing":
        message = "required field is missing: add it"
    elif (quoted := _quoted(error.get("input"))) not in message:
        # Every finding quotes what the file holds ("Input should be 'email' or 'sms'"
        # alone leaves the reader to find the value).
        message = f"{message}, got {quoted}"
    return located(path, loc, message)


def _quoted(value: object) -> str:
    """The value a finding is about, as the file holds it (shortened when long)."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _loose_steps(path: Path, errors: list[ScheduleError]) -> list[tuple[str, str | None, Step]]:
    """The steps that parse in a file whose sequence does not, and its duplicate step ids
    (the sequence's own check, which pydantic skips while a field is wrong)."""
    data, _ = _read(path)
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return []
    sequence_id = data.get("id") if isinstance(data.get("id"), str) else None
    steps: list[tuple[str, str | None, Step]] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["steps"]):
        step_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(step_id, str):
            if step_id in seen:
                errors.append(
                    located(
                        path,
                        ("steps", index, "id"),
                        f"step id {step_id!r} is used twice: give each step its own id",
                    )
                )
            seen.add(step_id)
        try:
            steps.append((str(path), sequence_id, Step.model_validate(raw)))
        except ValidationError:
            continue  # already reported with the whole file
    return steps
