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
from nurture.content.render import Renderer
from nurture.core.states import Channel
from nurture.db import session_factory
from nurture.schedule import Catalog, load_catalog
from nurture.send.ratelimit import Throttle, make_throttle


@dataclass(frozen=True)
class SendContext:
    """What a worker process holds for sending: settings, schedules, renderer, channels."""

    settings: Settings
    catalog: Catalog
    renderer: Renderer
    channels: dict[Channel, BaseChannel]
    sessions: sessionmaker[Session]
    #: Per-channel rate limits (NURTURE_SMS_RATE / EMAIL_RATE); None when there are none.
    throttle: Throttle | None = None

    @property
    def engine(self) -> Engine:
        """The engine the sessions are bound to (for statements outside a session)."""
        bind = self.sessions.kw["bind"]
        assert isinstance(bind, Engine)
        return bind


def build_send_context(settings: Settings) -> SendContext:
    """Settings, the schedules, the renderer, the channels and the rate limits, for sending."""
    catalog = load_catalog(settings.schedules_dir)
    return SendContext(
        settings=settings,
        catalog=catalog,
        renderer=Renderer(settings.templates_dir),
        channels={c: make_channel(c, settings) for c in Channel},
        sessions=session_factory(settings.database_url),
        throttle=make_throttle(settings, email_sender=str(catalog.clinic.from_email)),
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
