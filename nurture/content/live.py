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

Across processes: each good set is also stored (`keep_versions`: the database's
`catalog_versions` in the worker and the API), and a process that starts while the files are
broken loads the latest stored set instead (`source: "database"` in `status()`), so a worker
started at any time sends, while the problems on disk stay shown.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from jinja2 import DictLoader

from nurture.config import Settings
from nurture.content.findings import Finding
from nurture.content.render import Renderer
from nurture.content.validate import run_checks
from nurture.schedule import Catalog
from nurture.schedule.catalog import Scan, scan_catalog
from nurture.schedule.versions import VersionStore, files_sha256, read_version, write_version

log = structlog.get_logger(__name__)

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
    #: Where the last good version is kept across processes (None: only in memory).
    versions: VersionStore | None = None
    #: Where `current` came from: the folders ("files"), or the store ("database").
    source: str = "files"
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
        dirs = (self.settings.schedules_dir, self.settings.templates_dir)
        ok, scan, renderer, self.problems = _check(*dirs, self.settings)
        self._seen = seen
        if ok and scan.catalog is not None:
            self.current, self.renderer, self.source = scan.catalog, renderer, "files"
            self.loaded_at = datetime.now(UTC)
            self._keep(read_version(*dirs))
            return
        self.failed_at = datetime.now(UTC)
        if self.current is None:
            self._load_last_good()

    def _keep(self, files: dict[str, str]) -> None:
        """Store the version that validated, for processes that start while files are broken."""
        if self.versions is None:
            return
        try:
            self.versions.store(files)
        except Exception as exc:  # the database is down or not migrated: sending goes on
            log.warning("catalog.version_not_stored", error=type(exc).__name__)

    def _load_last_good(self) -> None:
        """The files are broken and this process never loaded them: the last version that
        validated, from the store, written to a folder of its own under VAR_DIR/catalog."""
        try:
            files = self.versions.latest() if self.versions is not None else None
        except Exception as exc:
            log.warning("catalog.version_not_read", error=type(exc).__name__)
            return
        if not files:
            return
        dirs = write_version(files, self.settings.var_dir / "catalog")
        ok, scan, renderer, _ = _check(*dirs, self.settings)
        if ok and scan.catalog is not None:
            self.current, self.renderer, self.source = scan.catalog, renderer, "database"
            self.loaded_at = datetime.now(UTC)
            log.warning(
                "catalog.last_good_version_loaded",
                sha256=files_sha256(files)[:16],
                errors_on_disk=len(self.problems),
            )

    def status(self) -> dict[str, Any]:
        """The `catalog` block of /ops/status and /readyz: ok, what is wrong, since when."""
        return {
            "ok": self.ok,
            "loaded": self.current is not None,
            "source": self.source if self.current is not None else None,
            "sequences": sorted(self.current.sequences) if self.current else [],
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "failed_at": self.failed_at.isoformat() if self.failed_at and not self.ok else None,
            "problems": [p.to_json() for p in self.problems],
        }


def _check(
    schedules_dir: Path, templates_dir: Path, settings: Settings
) -> tuple[bool, Scan, Renderer, list[Finding]]:
    """Read and validate a set: whether it is good, the scan, a renderer over its sources
    (read into memory now), and its errors."""
    renderer = Renderer(templates_dir, loader=DictLoader(read_sources(templates_dir)))
    scan = scan_catalog(schedules_dir)
    report = run_checks(
        schedules_dir,
        templates_dir,
        settings=settings,
        renderer=renderer,
        scan=scan,
        samples=LIVE_SAMPLES,
    )
    return report.ok, scan, renderer, [f for f in report.findings if f.is_error]


_instances: dict[tuple[str, str], LiveCatalog] = {}
_instances_lock = threading.Lock()
_versions: list[VersionStore] = []


def keep_versions(store: VersionStore | None) -> None:
    """The store every LiveCatalog of this process made from now on keeps versions in (the
    worker and the API set the database's `CatalogVersions`)."""
    with _instances_lock:
        _versions[:] = [store] if store is not None else []


def live_catalog(settings: Settings) -> LiveCatalog:
    """This process's LiveCatalog for the settings' folders, refreshed if a file changed."""
    key = (str(settings.schedules_dir), str(settings.templates_dir))
    with _instances_lock:
        live = _instances.get(key)
        if live is None:
            store = _versions[0] if _versions else None
            live = _instances[key] = LiveCatalog(settings, versions=store)
    return live.refresh()


def forget_live_catalogs() -> None:
    """Drop every LiveCatalog (tests; a forked process starts afresh)."""
    with _instances_lock:
        _instances.clear()
