"""The wall clock, read in one place: edges (tasks, routes, commands) call `utcnow()` and
hand `now` to everything below them, which never reads the clock itself."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)
