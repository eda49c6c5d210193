"""`verify()` finds a row changed, deleted in the middle or at the end, and concurrent
writers keep one chain (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import get_engine
from nurture.db.tables import AuditHead
from nurture.people.actor import Actor
from nurture.people.audit import record
from nurture.people.audit_verify import Verdict, verify
from tests.support.audit import audit_rows, tamper, write_rows


def _head_rows() -> list[dict[str, Any]]:
    with get_engine().connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(AuditHead.__table__)).mappings()]


def _verify() -> Verdict:
    with get_engine().connect() as conn:
        return verify(conn, get_settings().secret_key)


def test_an_untouched_trail_is_intact(db: str) -> None:
    assert str(_verify()) == "0 rows, chain intact"
    write_rows(5)
    assert str(_verify()) == "5 rows, chain intact"


def test_a_changed_row_is_named(db: str) -> None:
    write_rows(5)
    tamper("UPDATE audit_log SET target = 'delivery:99' WHERE id = 3")
    verdict = _verify()
    assert not verdict.intact
    assert str(verdict) == "row 3 was changed: its hash does not match its content"


def test_a_changed_row_with_a_made_up_hash_is_named(db: str) -> None:
    write_rows(4)
    tamper("UPDATE audit_log SET actor_name = 'someone', hash = :h WHERE id = 2", h="f" * 64)
    assert str(_verify()) == "row 2 was changed: its hash does not match its content"


def test_a_row_deleted_in_the_middle_shows_as_a_gap(db: str) -> None:
    write_rows(6)
    tamper("DELETE FROM audit_log WHERE id IN (3, 4)")
    assert str(_verify()) == "rows 3-4 deleted: the chain jumps to row 5"


def test_the_newest_rows_deleted_show_against_the_head(db: str) -> None:
    write_rows(5)
    tamper("DELETE FROM audit_log WHERE id >= 4")
    assert str(_verify()) == "rows 4-5 deleted: the last rows of the chain"


def test_deleting_the_newest_row_and_rewinding_the_head_shows(db: str) -> None:
    write_rows(3)
    second = audit_rows()[1]["hash"]
    tamper("DELETE FROM audit_log WHERE id = 3")
    tamper("UPDATE audit_head SET count = 2, last_hash = :h", h=second)
    assert str(_verify()) == "the chain head (audit_head) was changed: its seal does not match"


def test_a_deleted_head_shows(db: str) -> None:
    write_rows(2)
    tamper("DELETE FROM audit_head")
    assert str(_verify()) == "the chain head (audit_head) was deleted"


def test_the_trail_verifies_only_with_its_secret_key(db: str) -> None:
    write_rows(2)
    with get_engine().connect() as conn:
        verdict = verify(conn, "another-secret-key-another-secret-key")
    assert str(verdict) == "row 1 was changed: its hash does not match its content"


@pytest.mark.timeout(120)
def test_concurrent_writers_keep_one_chain(db: str) -> None:
    writers, each = 6, 8
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with get_engine().begin() as conn:
                    actor = Actor(kind="person", id=n, name=f"w{n}@clinic.test", role="manager")
                    record(conn, actor=actor, action="export", detail={"i": i})
        except BaseException as exc:  # reported below, with the thread's exception
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = audit_rows()
    assert [row["id"] for row in rows] == list(range(1, writers * each + 1))
    assert all(row["prev_hash"] == before["hash"] for before, row in itertools.pairwise(rows))
    assert str(_verify()) == f"{writers * each} rows, chain intact"


def test_a_row_inserted_by_hand_and_a_rewound_head_show(db: str) -> None:
    write_rows(3)
    (head,) = _head_rows()
    write_rows(1)
    tamper(
        "UPDATE audit_head SET count = :c, last_hash = :h, seal = :s",
        c=head["count"],
        h=head["last_hash"],
        s=head["seal"],
    )
    assert str(_verify()) == "the chain head (audit_head) ends at row 3: it was rewound"
    tamper(
        "INSERT INTO audit_log (id, at, actor_kind, actor_name, action, prev_hash, hash) "
        "VALUES (5, :at, 'person', 'mallory', 'sign-in', :h, :h)",
        at=utcnow(),
        h="a" * 64,
    )
    assert str(_verify()) == "row 5 was changed: its hash does not match its content"
