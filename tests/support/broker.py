"""The Redis broker seen from a test: whether every task handed to it has run."""

from __future__ import annotations

import redis


def broker_drained(broker_url: str, queue: str) -> bool:
    """No task waits in `queue` (nor its priority lists) and none is delivered but not yet
    acknowledged. nurture's tasks acknowledge late, once they have run: so every task
    published to the broker has run to its end. Only meaningful while nothing publishes
    more (no scheduler)."""
    client = redis.Redis.from_url(broker_url)
    try:
        waiting = sum(int(client.llen(key)) for key in client.scan_iter(match=f"{queue}*"))
        return waiting == 0 and int(client.hlen("unacked")) == 0
    finally:
        client.close()
