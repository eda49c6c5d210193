"""A catalog version as files: read from the folders, identified by a hash, written back.

A version is `{"schedules/clinic.yaml": text, "templates/hip-pain/booking.sms.j2": text, …}`:
the schedule files `scan_catalog` reads and every template source. `LiveCatalog` keeps the
last one that validated through a `VersionStore` (the database's `catalog_versions`), and a
process that finds the folders broken loads that version from a folder of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Protocol

from nurture.errors import ScheduleError

SCHEDULES = "schedules"
TEMPLATES = "templates"


class VersionStore(Protocol):
    """Where the last good version is kept, for every process to load."""

    def store(self, files: dict[str, str]) -> int: ...

    def latest(self) -> dict[str, str] | None: ...


def read_version(schedules_dir: Path, templates_dir: Path) -> dict[str, str]:
    """The files of the catalog in these folders, by their version path."""
    files = {
        f"{SCHEDULES}/{path.name}": path.read_text(encoding="utf-8")
        for path in sorted(schedules_dir.glob("*.y*ml"))
        if path.is_file()
    }
    for path in sorted(templates_dir.rglob("*.j2")):
        if path.is_file():
            name = path.relative_to(templates_dir).as_posix()
            files[f"{TEMPLATES}/{name}"] = path.read_text(encoding="utf-8")
    return files


def files_sha256(files: dict[str, str]) -> str:
    """The hash that names a version: the same files, the same hash."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def write_version(files: dict[str, str], root: Path) -> tuple[Path, Path]:
    """The version's folders under `root/<hash>` (schedules, templates), written once and
    whole (a temporary folder renamed into place, so another process never sees half)."""
    folder = root / files_sha256(files)[:16]
    if not folder.is_dir():
        tmp = root / f".{uuid.uuid4().hex}"
        for name, text in files.items():
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts or path.parts[0] not in _TOPS:
                raise ScheduleError(f"catalog version has an unexpected file name: {name!r}")
            target = tmp.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for top in _TOPS:
            (tmp / top).mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process wrote the same version first
            shutil.rmtree(tmp, ignore_errors=True)
    return folder / SCHEDULES, folder / TEMPLATES


_TOPS = (SCHEDULES, TEMPLATES)
