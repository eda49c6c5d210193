"""How long to wait before retrying a provider that did not process a message."""

from __future__ import annotations

import random


def compute_backoff(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before attempt `attempt + 1`: exponential with full jitter, at least Retry-After."""
    rng = rng or random.Random()
    ceiling = min(max_s, base_s * (2 ** max(attempt - 1, 0)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return float(min(delay, max(max_s, retry_after_s or 0)))
