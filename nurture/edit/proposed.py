"""The catalog as a publish would make it, in folders, for the preview, lint and validation
to read exactly as a send and `nurture validate` do.

`proposed_folders` writes the proposed set (the files on disk with every draft laid over
them) once per distinct set under `var/studio/<hash>/` and returns its schedules and
templates folders. Other files beside the schedules (the form's logo) are copied in, so a
check that reads them finds them.

Each new set prunes the old ones: the newest `KEEP` sets stay, and a set is only removed
once it is `KEEP_S` seconds old (another request may still be reading it).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from nurture.edit.drafts import Drafts
from nurture.schedule.versions import files_sha256, write_version

#: How many proposed sets stay under the root, and how old a set must be to go.
KEEP = 16
KEEP_S = 600
_SET = re.compile(r"^[0-9a-f]{16}$")


def prune(root: Path, *, keep: int = KEEP, older_than_s: float = KEEP_S) -> int:
    """Remove the proposed sets under `root` beyond the newest `keep` that are older than
    `older_than_s`; how many were removed."""
    sets = sorted(
        (p for p in root.iterdir() if p.is_dir() and _SET.match(p.name)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    cutoff = time.time() - older_than_s
    removed = 0
    for old in sets[keep:]:
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old)
                removed += 1
        except FileNotFoundError:
            continue  # another process pruned it first
    return removed


def folders_for(files: dict[str, str], root: Path, schedules_dir: Path) -> tuple[Path, Path]:
    """`files` (a version) as schedules and templates folders under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    new = not (root / files_sha256(files)[:16]).is_dir()
    schedules, templates = write_version(files, root)
    if new:
        prune(root)
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
