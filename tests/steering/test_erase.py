"""Erasure leaves no trace of the person in any table or outbox file, keeps the consent
ledger's dates, and a new request from the same address is accepted but never contacted."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.config import get_settings
from nurture.db import get_engine, session_scope
from nurture.db.tables import ConsentEvent, Contact, Delivery, ErasedAddress, metadata
from tests.support.clinic import ANSWER, DANA_EMAIL, DANA_PHONE, DANA_REPLY, DANA_SAID, seed_clinic

AUTH = {"Authorization": "Bearer test-key"}
#: Everything that would tell who Dana is, or what she said.
TRACES = (
    "Dana",
    "Reyes-Whitfield",
    DANA_EMAIL,
    DANA_PHONE,
    DANA_PHONE.removeprefix("+1"),
    DANA_SAID[:40],
    DANA_REPLY[:40],
    ANSWER[:30],
    "203.0.113.24",
)


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def _traces_in_tables() -> list[str]:
    """Every (table.column, trace) where a text column of any table holds a trace."""
    found = []
    with get_engine().connect() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                    continue
                text = sa.cast(column, sa.Text)
                for trace in TRACES:
                    hit = conn.execute(
                        sa.select(sa.func.count()).select_from(table).where(text.contains(trace))
                    ).scalar()
                    if hit:
                        found.append(f"{table.name}.{column.name}: {trace}")
    return found


def _traces_in_outbox(outbox: Path) -> list[str]:
    return [
        f"{path.name}: {trace}"
        for path in outbox.rglob("*")
        if path.is_file()
        for trace in TRACES
        if trace.encode() in path.read_bytes()
    ]


def _erase_dana(client: TestClient) -> int:
    dana = seed_clinic().dana_id
    assert _traces_in_tables(), "the seeded clinic should hold Dana's data before"
    assert _traces_in_outbox(get_settings().outbox_dir), "and her messages in the outbox"
    confirm = client.post(f"/ops/contacts/{dana}/erase", headers=AUTH)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    with session_scope() as s:
        assert s.get_one(Contact, dana).email == DANA_EMAIL, "the first POST only asks"
    done = client.post(f"/ops/contacts/{dana}/erase", headers=AUTH, data={"confirm": "erase"})
    assert done.status_code == 200, done.text
    return dana


def test_erasure_leaves_no_trace_in_any_table_or_outbox_file(client: TestClient) -> None:
    dana = _erase_dana(client)
    assert _traces_in_tables() == []
    assert _traces_in_outbox(get_settings().outbox_dir) == []
    with session_scope() as s:
        ledger = list(s.scalars(sa.select(ConsentEvent).where(ConsentEvent.contact_id == dana)))
        kept = s.scalar(sa.select(sa.func.count()).select_from(ErasedAddress))
    assert ledger and all(e.at and e.action for e in ledger), "the ledger keeps its dates"
    assert all(not e.evidence and e.ip is None and e.user_agent is None for e in ledger)
    assert kept == 2, "one keyed hash per address"
    page = client.get(f"/ops/contacts/{dana}", headers=AUTH)
    assert "Erased prospect" in page.text


def test_a_new_request_from_an_erased_address_is_accepted_but_never_contacted(
    client: TestClient,
) -> None:
    _erase_dana(client)
    before = _count(Delivery)
    again = {"first_name": "Dana", "phone": DANA_PHONE, "email": "new.address@example.com"}
    response = client.post("/v1/consultation-requests", json=again, headers=AUTH)
    assert response.status_code == 202 and response.json()["contacted"] is False
    with session_scope() as s:
        asked = s.scalar(sa.select(Contact).where(Contact.email == "new.address@example.com"))
        erased = s.scalar(sa.select(ErasedAddress).where(ErasedAddress.requests > 0))
    assert asked is None, "nothing about the new request is stored"
    assert _count(Delivery) == before, "nothing is scheduled"
    assert erased is not None and erased.requested_at is not None
    assert _traces_in_tables() == []


def test_the_same_mailbox_spelled_another_way_is_not_contacted_either(
    client: TestClient,
) -> None:
    """A `+tag` (and, at Gmail, dots) names the same mailbox: the erased person is still not
    contacted when she writes her address another way."""
    _erase_dana(client)
    local, _, domain = DANA_EMAIL.partition("@")
    again = {"first_name": "Dana", "email": f"{local}+again@{domain}"}
    response = client.post("/v1/consultation-requests", json=again, headers=AUTH)
    assert response.status_code == 202 and response.json()["contacted"] is False
    with session_scope() as s:
        assert s.scalar(sa.select(Contact).where(Contact.email == again["email"])) is None


def _count(table: type[Delivery]) -> int:
    with session_scope() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _nurture(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nurture", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_nurture_erase_by_phone_and_a_second_time_is_one_line(db: str, env: dict[str, str]) -> None:
    seed_clinic()
    result = _nurture(env, "erase", "--phone", DANA_PHONE)
    assert result.returncode == 0, result.stderr
    assert "erased" in result.stdout
    assert _traces_in_tables() == []
    assert _traces_in_outbox(get_settings().outbox_dir) == []
    again = _nurture(env, "erase", "--phone", DANA_PHONE)
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "no contact" in again.stderr
    assert _nurture(env, "erase").returncode == 1
