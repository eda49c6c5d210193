"""Audit a request in a transaction of its own, for routes whose work writes nothing else
(a test send, a read of the audit trail). Routes that change data record in their own
transaction instead, so the row and the change commit together."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request

from nurture.api.deps import client_ip
from nurture.db import get_engine
from nurture.people.actor import Actor
from nurture.people.audit import DetailValue, record


def record_request(
    request: Request,
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> None:
    """One audit row for `request` (its client address), committed now."""
    with get_engine().begin() as conn:
        record(
            conn, actor=actor, action=action, target=target, detail=detail, ip=client_ip(request)
        )
