"""Rate limits per channel and sender (`NURTURE_SMS_RATE=1/s`), shared by every worker.

The limiter is GCRA (a token bucket of one, kept as a single timestamp): each send reserves
the next free slot, `1/rate` seconds after the previous one. In Redis the reservation is one
Lua script using Redis's own clock, so any number of workers on any number of hosts together
never go faster than the rate. Without Redis (the embedded broker) an in-process limiter does
the same for the one process that sends.

A worker waits for a slot only briefly (`max_wait_s`, well inside the lease); a delivery
whose slot is further away goes back to `scheduled` for the dispatcher to hand out later, so a
backlog never holds worker threads for long. Throttling happens before the send claim, so a
stop that arrives while a worker waits is still seen by the claim.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from nurture.config import Settings, parse_rate
from nurture.keys import rate_limit_key
from nurture.models import Channel, Delivery, DeliveryStatus

log = structlog.get_logger(__name__)

#: Longest a worker thread sleeps for its slot before handing the delivery back.
MAX_WAIT_S = 10.0


@dataclass(frozen=True)
class Reservation:
    """`granted`: a slot is yours in `wait_s` seconds. Else none was taken: the next free one
    is `wait_s` away, beyond what the caller is willing to wait."""

    granted: bool
    wait_s: float


class RateLimiter(Protocol):
    def reserve(self, key: str, *, per_s: float, max_wait_s: float) -> Reservation:
        """Reserve the next send slot of `key` if it is at most `max_wait_s` away."""
        ...


_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local wait = slot - now
if wait > max_wait then
  return {0, string.format('%.6f', wait)}
end
local following = slot + interval
local ttl_ms = math.ceil((following - now) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', following), 'PX', ttl_ms)
return {1, string.format('%.6f', wait)}
"""


class RedisRateLimiter:
    """The shared limiter: one Lua script per reservation, on Redis's clock."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._script = client.register_script(_GCRA_LUA)

    def reserve(self, key: str, *, per_s: float, max_wait_s: float) -> Reservation:
        granted, wait = self._script(keys=[key], args=[f"{1 / per_s:.6f}", f"{max_wait_s:.6f}"])
        return Reservation(granted=bool(int(granted)), wait_s=float(wait))


@dataclass
class LocalRateLimiter:
    """The same algorithm for one process (embedded mode, tests); `clock` is injectable."""

    clock: Callable[[], float] = time.monotonic
    _slots: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, key: str, *, per_s: float, max_wait_s: float) -> Reservation:
        with self._lock:
            now = self.clock()
            slot = max(self._slots.get(key, now), now)
            wait = slot - now
            if wait > max_wait_s:
                return Reservation(granted=False, wait_s=wait)
            self._slots[key] = slot + 1 / per_s
            return Reservation(granted=True, wait_s=wait)


@dataclass
class Throttle:
    """Holds each delivery to its channel's rate before the send claim."""

    limiter: RateLimiter
    #: Messages per second per channel; a channel without an entry is not limited.
    rates: dict[Channel, float]
    #: The sender each channel's limit belongs to (a number, a service, an address).
    senders: dict[Channel, str]
    max_wait_s: float = MAX_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def wait_turn(
        self, sessions: sessionmaker[Session], delivery_id: int, *, now: datetime
    ) -> float | None:
        """Seconds slept for the delivery's slot (0 if unlimited), or None if it was handed
        back to the dispatcher because its slot is further away than `max_wait_s`."""
        if not self.rates:
            return 0.0
        with sessions() as session:
            channel = session.scalar(
                select(Delivery.channel).where(
                    Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED
                )
            )
        per_s = self.rates.get(channel) if channel is not None else None
        if channel is None or per_s is None:
            return 0.0  # unlimited, or not ours to send (the claim will say so)
        key = rate_limit_key(channel.value, self.senders.get(channel, ""))
        reservation = self.limiter.reserve(key, per_s=per_s, max_wait_s=self.max_wait_s)
        if reservation.granted:
            if reservation.wait_s > 0:
                self.sleep(reservation.wait_s)
            return reservation.wait_s
        # Spread the returns so a backlog does not come back as one herd.
        later = reservation.wait_s * self.rng.uniform(1.0, 1.5)
        with sessions.begin() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED)
                .values(
                    status=DeliveryStatus.SCHEDULED,
                    due_at=now + timedelta(seconds=later),
                    lease_expires_at=None,
                    error_code="rate_limited",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        log.info("send.rate_limited", delivery_id=delivery_id, retry_in_s=round(later, 1))
        return None


def make_throttle(settings: Settings, *, email_sender: str) -> Throttle | None:
    """The throttle for the configured rates, on Redis when the broker is Redis; else None."""
    rates: dict[Channel, float] = {}
    for channel, text in ((Channel.EMAIL, settings.email_rate), (Channel.SMS, settings.sms_rate)):
        per_s = parse_rate(text)
        if per_s is not None:
            rates[channel] = per_s
    if not rates:
        return None
    limiter: RateLimiter
    if settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        limiter = RedisRateLimiter(redis.Redis.from_url(settings.broker_url))
    else:
        log.info("ratelimit.local", reason="no Redis broker: limits hold within this process")
        limiter = LocalRateLimiter()
    senders = {
        Channel.EMAIL: email_sender,
        Channel.SMS: settings.twilio_messaging_service_sid or settings.twilio_from,
    }
    return Throttle(
        limiter=limiter,
        rates=rates,
        senders=senders,
        max_wait_s=min(MAX_WAIT_S, settings.lease_s / 4),
    )
