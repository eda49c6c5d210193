"""What a worker process holds for sending, built once per process: settings, the schedules,
the renderer, the channels, the database sessions and the rate limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from nurture.channels import make_channel
from nurture.channels.base import BaseChannel
from nurture.config import Settings, get_settings
from nurture.content.live import LiveCatalog, forget_live_catalogs, live_catalog
from nurture.content.render import Renderer
from nurture.core.states import Channel
from nurture.db import session_factory
from nurture.errors import ScheduleError
from nurture.schedule import Catalog
from nurture.send.ratelimit import Throttle, make_throttle


@dataclass(frozen=True)
class SendContext:
    """What a worker process holds for sending: settings, schedules, renderer, channels."""

    settings: Settings
    #: The last good schedules and template sources (a broken edit on disk replaces nothing).
    live: LiveCatalog
    channels: dict[Channel, BaseChannel]
    sessions: sessionmaker[Session]
    #: Per-channel rate limits (NURTURE_SMS_RATE / EMAIL_RATE); None when there are none.
    throttle: Throttle | None = None

    @property
    def catalog(self) -> Catalog:
        """The last good catalog (re-read when a file changed and the new set validates)."""
        current = self.live.refresh().current
        if current is None:
            raise ScheduleError(
                "no valid schedules loaded yet: run `nurture validate` and fix what it reports"
            )
        return current

    @property
    def renderer(self) -> Renderer:
        """Renders from the template sources of the last good set, never a broken file."""
        live = self.live.refresh()
        if live.renderer is None:
            raise ScheduleError(
                "no valid templates loaded yet: run `nurture validate` and fix what it reports"
            )
        return live.renderer

    @property
    def engine(self) -> Engine:
        """The engine the sessions are bound to (for statements outside a session)."""
        bind = self.sessions.kw["bind"]
        assert isinstance(bind, Engine)
        return bind


def build_send_context(settings: Settings) -> SendContext:
    """Settings, the schedules, the renderer, the channels and the rate limits, for sending."""
    live = live_catalog(settings).refresh(now=True)
    sender = str(live.current.clinic.from_email) if live.current else ""
    return SendContext(
        settings=settings,
        live=live,
        channels={c: make_channel(c, settings) for c in Channel},
        sessions=session_factory(settings.database_url),
        throttle=make_throttle(settings, email_sender=sender),
    )


#: A threads pool's first tasks all ask for the send context at once: it is built once.
_context_lock = threading.Lock()


@lru_cache(maxsize=1)
def _built_context() -> SendContext:
    return build_send_context(get_settings())


def send_context() -> SendContext:
    """The send context of this process, built once (whichever thread asks first)."""
    with _context_lock:
        return _built_context()


def forget_send_context() -> None:
    """Build the send context afresh on next use (new settings, a forked process)."""
    with _context_lock:
        _built_context.cache_clear()
    forget_live_catalogs()
