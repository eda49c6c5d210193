"""Counting hits per key in fixed windows, shared by every API process: the hosted form's
rate limits. In Redis when Redis is the broker (INCR on a key that expires with its window),
else in the database (`form_hits`, one upserted row per key and window). While Redis is
unreachable the database counts instead, so a prospect's request is never refused (nor lost)
because the counter is down. The form's used tokens (`use_once`) are rows of the same table,
always in the database: they must outlive a restart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import structlog
from sqlalchemy import Table, delete

from nurture.config import Settings
from nurture.db.engine import get_engine
from nurture.db.tables import FormHit
from nurture.db.upsert import insert_or_update

_FORM_HITS: Table = FormHit.__table__  # type: ignore[assignment]
log = structlog.get_logger(__name__)


class HitCounter(Protocol):
    def hit(self, key: str, *, window_s: int, now: datetime) -> int:
        """Count one hit on `key` in the window holding `now`; the window's count so far."""
        ...


def _window(key: str, window_s: int, now: datetime) -> tuple[str, datetime]:
    """The key of the fixed window holding `now`, and when that window ends."""
    index = int(now.timestamp()) // window_s
    start = datetime.fromtimestamp(index * window_s, tz=now.tzinfo)
    return f"{key}:{window_s}:{index}", start + timedelta(seconds=window_s)


class RedisHitCounter:
    """One INCR and an expiry per hit, in one round trip."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def hit(self, key: str, *, window_s: int, now: datetime) -> int:
        window_key, _ = _window(key, window_s, now)
        pipe = self.client.pipeline()
        pipe.incr(window_key)
        pipe.expire(window_key, window_s + 60)
        count, _ = pipe.execute()
        return int(count)


class SqlHitCounter:
    """One upsert per hit on the configured database; expired windows are deleted as it goes."""

    def hit(self, key: str, *, window_s: int, now: datetime) -> int:
        window_key, ends = _window(key, window_s, now)
        return _count_row(window_key, expires_at=ends, now=now)


def _count_row(key: str, *, expires_at: datetime, now: datetime) -> int:
    """Add one to `key`'s row (made with 1, kept until `expires_at`); its count now. Rows
    whose time is up are deleted first."""
    table = _FORM_HITS
    with get_engine().begin() as conn:
        conn.execute(delete(table).where(table.c.expires_at < now))
        counted = insert_or_update(
            conn,
            table,
            {"key": key, "hits": 1, "expires_at": expires_at},
            conflict=["key"],
            update={"hits": table.c.hits + 1},
            returning=[table.c.hits],
        )
        return int(counted.scalar_one())


@lru_cache(maxsize=4)
def _redis_counter(url: str) -> RedisHitCounter:
    import redis

    return RedisHitCounter(redis.Redis.from_url(url))


def hit_counter(settings: Settings) -> HitCounter:
    """Redis when it is the broker, else the database."""
    if settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        return _redis_counter(settings.broker_url)
    return SqlHitCounter()


def count_hit(settings: Settings, key: str, *, window_s: int, now: datetime) -> int:
    """Count one hit on `key` in its window (shared by every process); the count so far."""
    counter = hit_counter(settings)
    try:
        return counter.hit(key, window_s=window_s, now=now)
    except Exception as exc:  # redis.RedisError and OSError; the database is the fallback
        if isinstance(counter, SqlHitCounter):
            raise
        log.warning("form.counter_fallback", error=type(exc).__name__)
        return SqlHitCounter().hit(key, window_s=window_s, now=now)


def use_once(key: str, *, until: datetime, now: datetime) -> bool:
    """Record `key` as used until `until`; True the first time, False ever after (across
    processes and restarts: always in the database, whatever the broker). The hosted form's
    tokens: each enrolls once."""
    return _count_row(key, expires_at=until, now=now) == 1


def forget_use(key: str) -> None:
    """Undo `use_once` (what the token was for did not happen: it may be used again)."""
    with get_engine().begin() as conn:
        conn.execute(delete(_FORM_HITS).where(_FORM_HITS.c.key == key))
