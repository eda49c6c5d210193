"""Check the audit trail end to end: `verify()` recomputes every row's hash and link and
the head's seal, and names the first place where the trail was changed.

What it catches: a row changed (its hash no longer matches), a row deleted in the middle
(a gap in the ids, and the next row's link breaks), the newest rows deleted (the head counts
more rows than there are), a row added by hand, the head edited or rewound. What it cannot:
anyone holding SECRET_KEY can rewrite the whole trail consistently, and a trail restored
with its head from an earlier backup verifies (as far as it goes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from nurture.db.tables import AuditHead, AuditRow
from nurture.people.audit_chain import GENESIS, chain_key, head_seal, row_hash

_COLUMNS = [column for column in AuditRow.__table__.columns]


@dataclass(frozen=True)
class Verdict:
    """`rows` checked; `problem` names the first break, None when the chain is intact."""

    rows: int
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        return self.problem or f"{self.rows} rows, chain intact"


def _span(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}-{last}"


def verify(conn: Connection, secret_key: str) -> Verdict:
    """Walk the trail in id order and stop at the first row, gap or head that does not
    match what `record()` wrote."""
    key = chain_key(secret_key)
    expected_id, prev_hash, seen = 1, GENESIS, 0
    rows = conn.execute(select(*_COLUMNS).order_by(AuditRow.id)).mappings()
    for row in rows.yield_per(1000):
        values: dict[str, Any] = dict(row)
        rid = int(values["id"])
        if rid != expected_id:
            missing = _span(expected_id, rid - 1)
            return Verdict(seen, f"{missing} deleted: the chain jumps to row {rid}")
        if row_hash(key, values) != values["hash"]:
            return Verdict(seen, f"row {rid} was changed: its hash does not match its content")
        if values["prev_hash"] != prev_hash:
            return Verdict(seen, f"row {rid} does not follow row {rid - 1}: chain broken")
        expected_id, prev_hash, seen = rid + 1, values["hash"], seen + 1
    head = conn.execute(select(AuditHead.count, AuditHead.last_hash, AuditHead.seal)).first()
    if head is None:
        if seen:
            return Verdict(seen, "the chain head (audit_head) was deleted")
        return Verdict(0, None)
    count, last_hash, seal = int(head[0]), str(head[1]), str(head[2])
    if seal != head_seal(key, count, last_hash):
        return Verdict(seen, "the chain head (audit_head) was changed: its seal does not match")
    if count > seen:
        return Verdict(seen, f"{_span(seen + 1, count)} deleted: the last rows of the chain")
    if count < seen:
        return Verdict(seen, f"the chain head (audit_head) ends at row {count}: it was rewound")
    if last_hash != prev_hash:
        return Verdict(seen, f"row {seen} is not the row the chain head (audit_head) ends on")
    return Verdict(seen, None)
