"""The catalog's files by version path, as the studio reads and writes them.

A version path is 'schedules/<name>.yaml' or 'templates/<folder>/<name>.j2' (the same keys
`schedule/versions.py` uses). Writes are atomic: the text goes to a temporary file in the
same folder, is flushed to disk, then `os.replace`d over the old file, so a reader (the
worker's `LiveCatalog`) sees the old file or the new one, never half of either.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nurture.config import Settings
from nurture.errors import NurtureError
from nurture.schedule.versions import SCHEDULES, TEMPLATES, read_version

#: A file name part: letters, digits, '-', '_' and '.', not starting with a dot.
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_SUFFIXES = {SCHEDULES: (".yaml", ".yml"), TEMPLATES: (".j2",)}


class BadPath(NurtureError):
    """A version path outside the schedules and templates folders, or of a kind not edited."""


def sha256_of(text: str | None) -> str | None:
    """The hash a draft compares: None for a file that does not exist."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_path(path: str) -> str:
    """`path` if it names a schedule (.yaml) or template (.j2) file inside its folder."""
    parts = PurePosixPath(path).parts
    if (
        len(parts) < 2
        or parts[0] not in _SUFFIXES
        or not all(_PART.match(part) for part in parts[1:])
        or (parts[0] == SCHEDULES and len(parts) != 2)
        or not parts[-1].endswith(_SUFFIXES[parts[0]])
    ):
        raise BadPath(
            f"{path!r} is not a schedule file (schedules/NAME.yaml) "
            "or a template file (templates/FOLDER/NAME.j2)"
        )
    return path


@dataclass(frozen=True)
class CatalogFiles:
    """The schedules and templates folders, addressed by version path."""

    schedules_dir: Path
    templates_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> CatalogFiles:
        return cls(settings.schedules_dir, settings.templates_dir)

    def location(self, path: str) -> Path:
        """The file on disk for a version path."""
        top, _, rest = check_path(path).partition("/")
        return (self.schedules_dir if top == SCHEDULES else self.templates_dir) / rest

    def read(self, path: str) -> str | None:
        """The file's text now, or None when it does not exist."""
        try:
            return self.location(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def sha256(self, path: str) -> str | None:
        return sha256_of(self.read(path))

    def all(self) -> dict[str, str]:
        """Every schedule and template file, by version path."""
        return read_version(self.schedules_dir, self.templates_dir)

    def write(self, path: str, text: str | None) -> None:
        """Replace the file with `text` atomically (None deletes it)."""
        target = self.location(path)
        if text is None:
            target.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o777)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
