"""A `nurture run` process seen from outside: its children, its readiness, its intake."""

from __future__ import annotations

from typing import Any

import httpx
import psutil

from tests.conftest import ApiProcess, midday_zone
from tests.support.names import letter_name

AUTH = {"Authorization": "Bearer test-key"}


def descendants(pid: int) -> list[psutil.Process]:
    """Every process under `pid`, grandchildren too (Celery's embedded scheduler)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def worker_pid(run: ApiProcess) -> int | None:
    """The pid of the worker child `nurture run` started (its direct child)."""
    children = psutil.Process(run.process.pid).children()
    return children[0].pid if children else None


def readyz(run: ApiProcess) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(f"{run.base}/readyz", timeout=10, trust_env=False)
    return answer.status_code, answer.json()


def post_request(run: ApiProcess, n: int, concern: str = "fast") -> httpx.Response:
    """Intake for prospect number `n` (own email and phone), at a midday zone."""
    return httpx.post(
        f"{run.base}/v1/consultation-requests",
        headers=AUTH,
        json={
            "first_name": letter_name(n),
            "email": f"p{n}@example.com",
            "phone": f"+1617555{n:04d}",
            "concern": concern,
            "timezone": midday_zone(),
            "consent_sms": True,
        },
        timeout=30,
        trust_env=False,
    )
