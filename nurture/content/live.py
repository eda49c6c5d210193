"""The last good catalog: a broken edit on disk never stops sending and never loses a request.

Every process (API, worker, scheduler) holds one `LiveCatalog`. `refresh()` is cheap: at most
every `interval` seconds it compares each file's mtime and size under the schedules and
templates folders with what it last saw. When something changed it reads the whole set (the
schedules, and every template's source into memory), validates it all (`run_checks`: every
step, channel and sample prospect, with the lint) and replaces the catalog and the template
sources only when the new set has no error. Otherwise it keeps the last good set and keeps
the problems for `/ops`, `/readyz`, `nurture status` and the studio to show.

Sending renders from the template sources of the last good set (a `DictLoader`), never from
a file that failed validation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import DictLoader

from nurture.config import Settings
from nurture.content.findings import Finding
from nurture.content.render import Renderer
from nurture.content.validate import run_checks
from nurture.schedule import Catalog
from nurture.schedule.catalog import scan_catalog

#: Seconds between two looks at the files' mtimes and sizes.
CHECK_INTERVAL_S = 1.0
#: The samples a reload renders for: every branch on the channels a prospect gave (the other
#: samples differ only in what `validate` warns about: segments, Florida hours).
LIVE_SAMPLES = ("email-and-phone", "email-only", "phone-only")

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(*folders: Path) -> Fingerprint:
    """(path, mtime_ns, size) of every file under `folders`: any edit changes it."""
    entries: list[tuple[str, int, int]] = []
    for folder in folders:
        if not folder.is_dir():
            entries.append((str(folder), -1, -1))
            continue
        for path in sorted(folder.rglob("*")):
            try:
                if path.is_file():
                    stat = path.stat()
                    entries.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                entries.append((str(path), -1, -1))
    return tuple(entries)


def read_sources(templates_dir: Path) -> dict[str, str]:
    """Every template under `templates_dir`, by its name (e.g. 'hip-pain/booking.sms.j2')."""
    sources: dict[str, str] = {}
    if not templates_dir.is_dir():
        return sources
    for path in sorted(templates_dir.rglob("*.j2")):
        try:
            sources[path.relative_to(templates_dir).as_posix()] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the renderer then reports it as missing
    return sources


@dataclass
class LiveCatalog:
    """The last good catalog and template sources of a schedules/templates pair."""

    settings: Settings
    interval: float = CHECK_INTERVAL_S
    current: Catalog | None = None
    renderer: Renderer | None = None
    problems: list[Finding] = field(default_factory=list)
    #: When the current catalog was loaded, and when the files last failed (UTC).
    loaded_at: datetime | None = None
    failed_at: datetime | None = None
    _seen: Fingerprint | None = None
    _checked: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ok(self) -> bool:
        """A catalog is loaded and the files on disk are that catalog (no pending error)."""
        return self.current is not None and not any(p.is_error for p in self.problems)

    def refresh(self, *, now: bool = False, force: bool = False) -> LiveCatalog:
        """Reload when a file changed, looked at most every `interval` s (`now`: look now;
        `force`: reload even if nothing changed); returns self."""
        at = time.monotonic()
        if not (now or force) and at - self._checked < self.interval:
            return self
        with self._lock:
            if not (now or force) and at - self._checked < self.interval:
                return self
            dirs = (self.settings.schedules_dir, self.settings.templates_dir)
            seen = fingerprint(*dirs)
            if seen != self._seen or force:
                self._load(seen)
            self._checked = time.monotonic()
        return self

    def _load(self, seen: Fingerprint) -> None:
        sources = read_sources(self.settings.templates_dir)
        renderer = Renderer(self.settings.templates_dir, loader=DictLoader(sources))
        scan = scan_catalog(self.settings.schedules_dir)
        report = run_checks(
            self.settings.schedules_dir,
            self.settings.templates_dir,
            settings=self.settings,
            renderer=renderer,
            scan=scan,
            samples=LIVE_SAMPLES,
        )
        self._seen = seen
        self.problems = [f for f in report.findings if f.is_error]
        if report.ok and scan.catalog is not None:
            self.current, self.renderer = scan.catalog, renderer
            self.loaded_at = datetime.now(UTC)
        else:
            self.failed_at = datetime.now(UTC)

    def status(self) -> dict[str, Any]:
        """The `catalog` block of /ops/status and /readyz: ok, what is wrong, since when."""
        return {
            "ok": self.ok,
            "loaded": self.current is not None,
            "sequences": sorted(self.current.sequences) if self.current else [],
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "failed_at": self.failed_at.isoformat() if self.failed_at and not self.ok else None,
            "problems": [p.to_json() for p in self.problems],
        }


_instances: dict[tuple[str, str], LiveCatalog] = {}
_instances_lock = threading.Lock()


def live_catalog(settings: Settings) -> LiveCatalog:
    """This process's LiveCatalog for the settings' folders, refreshed if a file changed."""
    key = (str(settings.schedules_dir), str(settings.templates_dir))
    with _instances_lock:
        live = _instances.get(key)
        if live is None:
            live = _instances[key] = LiveCatalog(settings)
    return live.refresh()


def forget_live_catalogs() -> None:
    """Drop every LiveCatalog (tests; a forked process starts afresh)."""
    with _instances_lock:
        _instances.clear()
