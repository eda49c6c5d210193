"""The studio's editable files for tests: a copy of the shipped templates beside the test's
schedules copy (tests never write the repository's own files), and a draft's helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

from nurture.config import get_settings
from nurture.edit.drafts import Drafts
from nurture.edit.files import CatalogFiles

ROOT = Path(__file__).resolve().parent.parent.parent
HIP_SMS = "templates/hip-pain/self-test.sms.j2"
HIP_SUBJECT = "templates/hip-pain/booking.subject.j2"
HIP_FILE = "schedules/hip-pain-consultation.yaml"
NECK_SMS = "templates/neck/booking.sms.j2"


def copy_templates(folder: Path) -> Path:
    """The shipped templates, copied into `folder`."""
    shutil.copytree(ROOT / "templates", folder)
    return folder


def studio_files() -> tuple[CatalogFiles, Drafts]:
    """The configured catalog's files and their drafts."""
    files = CatalogFiles.of(get_settings())
    return files, Drafts(files)


def replaced(files: CatalogFiles, path: str, old: str, new: str) -> str:
    """`path`'s text with `old` (which must be there) replaced by `new`."""
    text = files.read(path)
    assert text is not None and old in text, f"{old!r} not in {path}"
    return text.replace(old, new, 1)
