"""`record()` appends hash-chained rows in the caller's transaction, and keeps no message text."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from nurture.config import get_settings
from nurture.db import get_engine
from nurture.db.tables import AuditHead, AuditRow
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record
from nurture.people.audit_chain import GENESIS, chain_key, head_seal, row_hash


def _rows() -> list[sa.Row[tuple[AuditRow]]]:
    with get_engine().connect() as conn:
        return list(conn.execute(sa.select(AuditRow.__table__).order_by(AuditRow.id)))


def test_each_record_links_to_the_one_before(db: str) -> None:
    with get_engine().begin() as conn:
        record(conn, actor=Actor.api_key(), action=AuditAction.DELIVERY_RETRY, target="delivery:4")
        record(
            conn,
            actor=Actor(kind="person", id=7, name="ann@clinic.test", role="manager"),
            action="export",
            detail={"format": "csv", "rows": 12, "all": True},
            ip="203.0.113.9",
        )
    first, second = _rows()
    assert (first.id, first.prev_hash, first.actor_name) == (1, GENESIS, "api-key")
    assert (second.id, second.prev_hash) == (2, first.hash)
    assert second.detail == {"format": "csv", "rows": 12, "all": True}
    key = chain_key(get_settings().secret_key)
    assert second.hash == row_hash(key, {k: v for k, v in second._mapping.items()})
    with get_engine().connect() as conn:
        head = conn.execute(sa.select(AuditHead.count, AuditHead.last_hash, AuditHead.seal)).one()
    assert tuple(head) == (2, second.hash, head_seal(key, 2, second.hash))


def test_a_rolled_back_transaction_leaves_no_row(db: str) -> None:
    with pytest.raises(RuntimeError), get_engine().begin() as conn:
        record(conn, actor=Actor.system(), action="publish")
        raise RuntimeError("the action failed")
    assert _rows() == []


@pytest.mark.parametrize("key", ["body", "Subject", "text"])
def test_message_text_is_refused_in_detail(db: str, key: str) -> None:
    with pytest.raises(ValueError, match="no message text"), get_engine().begin() as conn:
        record(conn, actor=Actor.system(), action="test-send", detail={key: "Hi Ann"})


def test_an_unknown_action_is_refused(db: str) -> None:
    with pytest.raises(ValueError), get_engine().begin() as conn:
        record(conn, actor=Actor.system(), action="looked-around")


def test_the_database_refuses_update_and_delete_of_a_row(db: str) -> None:
    with get_engine().begin() as conn:
        record(conn, actor=Actor.system(), action="publish")
    for statement in ("UPDATE audit_log SET target = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), get_engine().begin() as conn:
            conn.execute(sa.text(statement))
    assert len(_rows()) == 1
