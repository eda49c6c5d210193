"""What the studio's routes share: the renderer, the schedules, the sample and lookups that
answer a clear 404, (who may see them is declared on each route)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import Response

from nurture.api.access import Principal
from nurture.api.ops.render import page
from nurture.config import Settings, get_settings
from nurture.content import samples
from nurture.content.context import ContactView
from nurture.content.findings import Finding
from nurture.content.live import live_catalog
from nurture.content.render import Renderer
from nurture.content.studio import describe_reason, describe_stop, short_path
from nurture.content.validate import validate_all
from nurture.errors import NotFoundError, NurtureError
from nurture.schedule import Catalog, Sequence, Step
from nurture.schedule.catalog import load_catalog


class Missing(Exception):
    """A sequence, step or sample the URL names that does not exist (answered as a 404)."""


@lru_cache(maxsize=4)
def renderer_for(templates_dir: Path) -> Renderer:
    """One renderer per templates folder; it re-reads templates that change on disk."""
    return Renderer(templates_dir)


def _fingerprint(*folders: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file under `folders` with its mtime and size: changes when any file does."""
    seen = []
    for folder in folders:
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    stat = path.stat()
                    seen.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(seen))


@lru_cache(maxsize=4)
def _catalog_on_disk(
    schedules_dir: Path, _state: tuple[tuple[str, int, int], ...]
) -> tuple[Catalog | None, str | None]:
    try:
        return load_catalog(schedules_dir), None
    except NurtureError as exc:
        return None, str(exc)


def studio_catalog(settings: Settings) -> tuple[Catalog | None, str | None]:
    """The schedule files as they are on disk now (read again when one changes). When they
    do not load: the reason, with the last good schedules prospects still get (None if
    there never were any)."""
    catalog, problem = _catalog_on_disk(
        settings.schedules_dir, _fingerprint(settings.schedules_dir)
    )
    if catalog is None:
        catalog = live_catalog(settings).current
    return catalog, problem


@lru_cache(maxsize=4)
def _findings(
    schedules_dir: Path, templates_dir: Path, _state: tuple[tuple[str, int, int], ...]
) -> list[Finding]:
    return validate_all(schedules_dir, templates_dir, renderer=renderer_for(templates_dir))


def studio_findings(settings: Settings) -> list[Finding]:
    """`nurture validate`'s findings for every file, step and channel, worked out again
    only when a file changed."""
    folders = (settings.schedules_dir, settings.templates_dir)
    return _findings(*folders, _fingerprint(*folders))


def find_sequence(catalog: Catalog, sequence_id: str) -> Sequence:
    sequence = catalog.sequences.get(sequence_id)
    if sequence is None:
        known = ", ".join(sorted(catalog.sequences)) or "none"
        raise Missing(f"There is no sequence {sequence_id!r}. Sequences: {known}.")
    return sequence


def find_step(sequence: Sequence, step_id: str) -> Step:
    try:
        return sequence.step(step_id)
    except KeyError:
        known = ", ".join(s.id for s in sequence.steps)
        raise Missing(
            f"Sequence {sequence.id!r} has no step {step_id!r}. Steps: {known}."
        ) from None


def find_sample(name: str | None) -> tuple[str, ContactView]:
    try:
        prospect = samples.find_sample(name)
    except NotFoundError:
        known = ", ".join(samples.SAMPLES)
        raise Missing(f"There is no sample prospect {name!r}. Samples: {known}.") from None
    return prospect.name, prospect.contact


def studio_page(template: str, *, status_code: int = 200, **context: Any) -> Response:
    """A studio page: the ops layout and headers, allowed to frame our own previews; `short`
    names a file relative to the schedules or templates folder."""
    settings = get_settings()
    folders = (settings.schedules_dir, settings.templates_dir)
    context.setdefault("short", lambda path: short_path(path, *folders))
    context.setdefault("describe_stop", describe_stop)
    context.setdefault("describe_reason", describe_reason)
    return page(
        f"studio/{template}", status_code=status_code, frames=True, section="studio", **context
    )


def not_found(session: Principal, message: str) -> Response:
    return studio_page(
        "message.html.j2", status_code=404, session=session, title="Not found", message=message
    )
