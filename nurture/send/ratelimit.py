"""Rate limits per channel and sender (`NURTURE_SMS_RATE=1/s`), shared by every worker.

The limiter is GCRA (a token bucket of one, kept as a single timestamp): each send reserves
the next free slot, `1/rate` seconds after the previous one. In Redis the reservation is one
Lua script using Redis's own clock, so any number of workers on any number of hosts together
never go faster than the rate. Without Redis (the embedded broker) an in-process limiter does
the same for the one process that sends.

The slot is taken right before the provider call, after rendering, so what reaches the
provider is spaced by the rate and not by how long each message took to prepare. A worker
waits for a slot only briefly (`max_wait_s`, well inside the lease); a delivery whose slot is
further away goes back to `scheduled` for the dispatcher to hand out later, so a backlog never
holds worker threads for long (`deliver.py` re-checks stops after any wait).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from nurture.config import Settings, parse_rate
from nurture.core.keys import rate_limit_key
from nurture.core.states import Channel

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


@dataclass(frozen=True)
class Turn:
    """The outcome of waiting for a send slot."""

    #: Seconds slept before the slot came (0 when it was free, or the channel is unlimited).
    waited_s: float = 0.0
    #: Set when the slot is further than the throttle waits: try again in that many seconds.
    retry_in_s: float | None = None


@dataclass
class Throttle:
    """Holds each send to its channel's rate, right before the provider call."""

    limiter: RateLimiter
    #: Messages per second per channel; a channel without an entry is not limited.
    rates: dict[Channel, float]
    #: The sender each channel's limit belongs to (a number, a service, an address).
    senders: dict[Channel, str]
    max_wait_s: float = MAX_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def wait_turn(self, channel: Channel) -> Turn:
        """Sleep until this channel's next send slot, unless it is more than `max_wait_s` away."""
        per_s = self.rates.get(channel)
        if per_s is None:
            return Turn()
        key = rate_limit_key(channel.value, self.senders.get(channel, ""))
        reservation = self.limiter.reserve(key, per_s=per_s, max_wait_s=self.max_wait_s)
        if not reservation.granted:
            # Spread the returns so a backlog does not come back as one herd.
            return Turn(retry_in_s=reservation.wait_s * self.rng.uniform(1.0, 1.5))
        if reservation.wait_s > 0:
            self.sleep(reservation.wait_s)
        return Turn(waited_s=reservation.wait_s)


def make_limiter(settings: Settings) -> RateLimiter:
    """The shared limiter on the Redis broker; in-process when the broker is not Redis."""
    if settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        return RedisRateLimiter(redis.Redis.from_url(settings.broker_url))
    log.info("ratelimit.local", reason="no Redis broker: limits hold within this process")
    return LocalRateLimiter()


def make_throttle(settings: Settings, *, email_sender: str) -> Throttle | None:
    """The throttle for the configured rates, on Redis when the broker is Redis; else None."""
    rates: dict[Channel, float] = {}
    for channel, text in ((Channel.EMAIL, settings.email_rate), (Channel.SMS, settings.sms_rate)):
        per_s = parse_rate(text)
        if per_s is not None:
            rates[channel] = per_s
    if not rates:
        return None
    limiter = make_limiter(settings)
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
