"""Write the audit trail: `record()` appends one row, in the caller's transaction.

Appends are serialised on the chain's head row (`INSERT … ON CONFLICT DO UPDATE` locks it on
PostgreSQL; SQLite's write lock does the same), so concurrent writers never fork the chain:
each row's id is the previous id + 1 and its `prev_hash` the previous row's hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, update

from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db.tables import AuditHead, AuditRow
from nurture.db.upsert import insert_or_update
from nurture.people.actor import Actor
from nurture.people.audit_chain import GENESIS, chain_key, head_seal, row_hash

DetailValue = str | int | bool | None

#: Detail keys that would hold message text: refused, the trail never keeps what was said.
_TEXT_KEYS = frozenset({"body", "text", "message", "subject", "sms", "html", "content"})
#: Longer detail strings are refused: a detail is a fact (a status, a count), not prose.
MAX_DETAIL_CHARS = 200


class AuditAction(StrEnum):
    """What an audit row records."""

    SIGN_IN = "sign-in"
    SIGN_IN_FAILED = "sign-in-failed"
    SIGN_OUT = "sign-out"
    #: A prospect's page was opened.
    PROSPECT_VIEWED = "prospect-viewed"
    #: A list left nurture as a file (CSV or JSON report).
    EXPORT = "export"
    #: booked, stop, resume on a prospect (detail `action`).
    PROSPECT_ACTION = "prospect-action"
    DELIVERY_RETRY = "delivery-retry"
    DELIVERY_CANCEL = "delivery-cancel"
    #: An `unknown` delivery settled by hand (detail `sent`).
    DELIVERY_RESOLVED = "delivery-resolved"
    REPLY_ANSWERED = "reply-answered"
    REPLY_RESOLVED = "reply-resolved"
    TEST_SEND = "test-send"
    PUBLISH = "publish"
    ROLLBACK = "rollback"
    SETTINGS_CHANGED = "settings-changed"
    #: A studio draft dropped unpublished (target: its file).
    DRAFT_DISCARDED = "draft-discarded"
    USER_ADDED = "user-added"
    USER_ROLE_CHANGED = "user-role-changed"
    USER_DISABLED = "user-disabled"
    USER_RESET = "user-reset"
    TOKEN_CREATED = "token-created"
    TOKEN_REVOKED = "token-revoked"
    PASSWORD_CHANGED = "password-changed"
    TOTP_ENABLED = "totp-enabled"
    #: The audit trail itself was read (page, CSV).
    AUDIT_VIEWED = "audit-viewed"
    ERASE = "erase"


def _checked_detail(detail: Mapping[str, DetailValue] | None) -> dict[str, DetailValue] | None:
    if not detail:
        return None
    for name, value in detail.items():
        if name.lower() in _TEXT_KEYS:
            raise ValueError(f"audit detail {name!r}: the audit trail keeps no message text")
        if isinstance(value, str) and len(value) > MAX_DETAIL_CHARS:
            raise ValueError(f"audit detail {name!r} is over {MAX_DETAIL_CHARS} characters")
    return dict(detail)


def record(
    conn: Connection,
    *,
    actor: Actor,
    action: str,
    target: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one row to the audit trail inside `conn`'s transaction (it commits or rolls
    back with what it records). `action` is an `AuditAction` value; `detail` holds small
    facts, never message text (keys such as `body` are refused). Call it last in the
    transaction: it holds the chain's lock until the commit."""
    kind = AuditAction(action)
    key = chain_key(get_settings().secret_key)
    head = (
        insert_or_update(
            conn,
            AuditHead,
            {"id": 1, "count": 0, "last_hash": GENESIS, "seal": head_seal(key, 0, GENESIS)},
            conflict=["id"],
            update={"count": AuditHead.count},  # a no-op write: it takes the head's lock
            returning=[AuditHead.count, AuditHead.last_hash],
        )
        .mappings()
        .one()
    )
    count, last_hash = int(head["count"]), str(head["last_hash"])
    row: dict[str, Any] = {
        "id": count + 1,
        "at": at or utcnow(),
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "role": actor.role,
        "ip": ip,
        "action": kind.value,
        "target": target,
        "detail": _checked_detail(detail),
        "prev_hash": last_hash,
    }
    digest = row_hash(key, row)
    conn.execute(insert(AuditRow).values(**row, hash=digest))
    conn.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(count=row["id"], last_hash=digest, seal=head_seal(key, row["id"], digest))
    )
