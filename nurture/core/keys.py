"""Queue names, task names and Redis keys: one place, all prefixed `nurture:`."""

from __future__ import annotations

#: The direct exchange both queues hang on (the file broker refuses ":" in its name).
EXCHANGE = "nurture"
SEND_QUEUE = "nurture:send"
DISPATCH_QUEUE = "nurture:dispatch"

SEND_TASK = "nurture.send"
#: One task message for several deliveries, each still claimed and sent on its own.
SEND_BATCH_TASK = "nurture.send_batch"
DISPATCH_TASK = "nurture.dispatch"
#: Sends due staff messages: notices of replies, forwards, answers from the inbox.
STAFF_TASK = "nurture.send_staff"
#: Asks the providers about `unknown` deliveries (reconciliation), on the scheduler's beat.
RECONCILE_TASK = "nurture.reconcile"

SCHEDULER_HEARTBEAT = "scheduler"

#: The rate-limit bucket of the studio's test sends (every channel and user share it).
TEST_SEND_RATE_KEY = "nurture:rate:test-send"


def rate_limit_key(channel: str, sender: str) -> str:
    """The Redis key holding one sender's token bucket."""
    return f"nurture:rate:{channel}:{sender}"


def form_hits_key(kind: str, value: str) -> str:
    """The counter of hosted-form posts by one client IP or address (`kind`: ip, address).
    Callers pass a hash, not an address: the key is stored."""
    return f"nurture:form:{kind}:{value}"
