"""The proposed catalog (the files on disk with every draft laid over them) loaded and
checked exactly as a send and `nurture validate` load and check the files: what an editor
shows after a save is what a publish would make."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nurture.content.findings import Finding
from nurture.content.render import Renderer
from nurture.content.validate import run_checks
from nurture.edit.drafts import Drafts
from nurture.edit.proposed import proposed_folders
from nurture.schedule.catalog import Catalog, Scan, scan_catalog


@dataclass(frozen=True)
class Proposed:
    """The proposed folders, what loaded from them, and every finding of the set."""

    schedules_dir: Path
    templates_dir: Path
    scan: Scan
    findings: tuple[Finding, ...]

    @property
    def root(self) -> Path:
        """The folder holding both: findings name files relative to it (schedules/x.yaml)."""
        return self.schedules_dir.parent

    def catalog(self, fallback: Catalog | None = None) -> Catalog | None:
        """The sequences that load, with the clinic (the live one's when clinic.yaml of the
        set does not load); None when there is no clinic at all."""
        clinic = self.scan.clinic or (fallback.clinic if fallback is not None else None)
        if clinic is None:
            return None
        return Catalog(clinic=clinic, sequences=self.scan.sequences, files=self.scan.files)


@lru_cache(maxsize=8)
def _checked(schedules_dir: Path, templates_dir: Path) -> Proposed:
    # The folders are named by the hash of their files (written once per set): the same
    # folders are the same files, so their findings are kept.
    scan = scan_catalog(schedules_dir)
    report = run_checks(schedules_dir, templates_dir, renderer=Renderer(templates_dir), scan=scan)
    return Proposed(schedules_dir, templates_dir, scan, tuple(report.findings))


def check_proposed(drafts: Drafts, root: Path) -> Proposed:
    """The proposed set written under `root` (e.g. var/studio), loaded and checked."""
    return _checked(*proposed_folders(drafts, root))
