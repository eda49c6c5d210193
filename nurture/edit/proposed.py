"""The catalog as a publish would make it, in folders, for the preview, lint and validation
to read exactly as a send and `nurture validate` do.

`proposed_folders` writes the proposed set (the files on disk with every draft laid over
them) once per distinct set under `var/studio/<hash>/` and returns its schedules and
templates folders. Other files beside the schedules (the form's logo) are copied in, so a
check that reads them finds them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nurture.edit.drafts import Drafts
from nurture.schedule.versions import write_version


def folders_for(files: dict[str, str], root: Path, schedules_dir: Path) -> tuple[Path, Path]:
    """`files` (a version) as schedules and templates folders under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    schedules, templates = write_version(files, root)
    if schedules_dir.is_dir():
        for extra in schedules_dir.iterdir():
            if extra.is_file() and extra.suffix not in (".yaml", ".yml"):
                target = schedules / extra.name
                if not target.exists():
                    shutil.copyfile(extra, target)
    return schedules, templates


def proposed_folders(drafts: Drafts, root: Path) -> tuple[Path, Path]:
    """The proposed catalog (disk + drafts) as folders under `root` (e.g. var/studio)."""
    return folders_for(drafts.proposed(), root, drafts.files.schedules_dir)
