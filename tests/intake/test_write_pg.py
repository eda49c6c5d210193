"""The one-statement enrollment of a never-seen prospect on PostgreSQL writes what the
Core path writes, row for row, and writes nothing for a known contact."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.orm import Session

from nurture.config import get_settings
from nurture.core.states import Channel
from nurture.db import get_engine, upgrade
from nurture.db.tables import (
    Base,
    ConsentEvent,
    ConsultationRequest,
    Contact,
    Delivery,
    Enrollment,
    ErasedAddress,
    Suppression,
)
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.service import NOT_CONTACTED, submit
from nurture.intake.write import enroll_new_contact
from nurture.intake.write_pg import enroll_new_prospect
from nurture.schedule.catalog import Catalog, load_catalog
from nurture.steering.erase import address_digest
from tests.conftest import use

NOW = datetime(2026, 3, 2, 15, 4, 5, 123456, tzinfo=UTC)
META = RequestMeta(source="form", ip="203.0.113.9", user_agent="Firefox", consent_text_version="v3")
BASE = {
    "first_name": "Dana",
    "last_name": "Reyes",
    "email": "dana@example.com",
    "phone": "+16175550134",
    "concern": "outer hip pain",
    "message": "hurts when I walk",
}
#: Tables as written, in the order their ids are renumbered (a table's ids before its users').
TABLES = ("contacts", "consultation_requests", "enrollments", "consent_events", "deliveries")
#: Foreign keys to renumber: column -> the table it points into.
REFERENCES = {
    "contact_id": "contacts",
    "request_id": "consultation_requests",
    "enrollment_id": "enrollments",
}

Writer = Callable[..., dict[str, Any] | None]


@pytest.fixture
def pg(pg_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    use(env, monkeypatch, database_url=pg_url)
    upgrade()
    yield load_catalog(get_settings().schedules_dir)


def _write_core(conn: Connection, request: ConsultationRequestIn, **kw: Any) -> dict[str, Any]:
    with Session(bind=conn) as session:
        response = enroll_new_contact(session, request, **kw)
        session.flush()
    return response


def _write_one_statement(
    conn: Connection, request: ConsultationRequestIn, **kw: Any
) -> dict[str, Any] | None:
    return enroll_new_prospect(conn, request, digests={}, **kw)


def _written(
    writer: Writer,
    catalog: Catalog,
    request: ConsultationRequestIn,
    *,
    key: str | None = None,
    suppressed: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
) -> tuple[dict[str, Any] | None, dict[str, list[dict[str, Any]]]]:
    """What `writer` answers and writes (ids renumbered from 1), then rolled back."""
    with get_engine().connect() as conn, conn.begin() as transaction:
        table: Table = Suppression.__table__  # type: ignore[assignment]
        for channel, address, reason in suppressed:
            conn.execute(
                insert(table).values(
                    channel=channel, address=address, reason=reason, source="t", created_at=NOW
                )
            )
        response = writer(
            conn,
            request,
            catalog=catalog,
            sequence=catalog.route(request.concern, request.source),
            now=NOW,
            meta=META,
            idempotency_key=key,
        )
        rows = {
            name: [dict(r) for r in conn.execute(select(tbl).order_by(tbl.c.id)).mappings()]
            for name, tbl in Base.metadata.tables.items()
            if name in (*TABLES, "suppressions")
        }
        transaction.rollback()
    renumber: dict[str, dict[int, int]] = {
        name: {row["id"]: n for n, row in enumerate(rows[name], start=1)} for name in TABLES
    }
    for name in TABLES:
        for row in rows[name]:
            row["id"] = renumber[name][row["id"]]
            for column, target in REFERENCES.items():
                if row.get(column) is not None:
                    row[column] = renumber[target][row[column]]
            if name == "consent_events":
                evidence = row["evidence"]
                evidence["request_id"] = renumber["consultation_requests"][evidence["request_id"]]
    for row in rows["suppressions"]:
        del row["id"]
    if response is not None:
        response = {
            **response,
            "request_id": renumber["consultation_requests"][response["request_id"]],
            "enrollment": {
                **response["enrollment"],
                "id": renumber["enrollments"][response["enrollment"]["id"]],
                "contact_id": renumber["contacts"][response["enrollment"]["contact_id"]],
            },
            "schedule": [
                {**s, "delivery_id": renumber["deliveries"][s["delivery_id"]]}
                for s in response["schedule"]
            ],
        }
    return response, rows


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"email": None},
        {"phone": None, "last_name": None, "message": None},
        {"consent_email": True, "consent_sms": False},
        {"consent_sms": True, "timezone": "Europe/London", "source": "partner-site"},
        {"phone": "+13055550123", "concern": "something else entirely"},
    ],
)
def test_one_statement_writes_the_rows_the_core_path_writes(
    pg: Catalog, fields: dict[str, Any]
) -> None:
    request = ConsultationRequestIn.model_validate({**BASE, **fields})
    suppressed = [
        ("email", "dana@example.com", "unusable:sendgrid:bounce"),  # an opt-in keeps it
        ("sms", "+16175550134", "opt_out"),  # an explicit SMS opt-in lifts it
        ("sms", "+13055550123", "opt_out"),
    ]
    core = _written(_write_core, pg, request, suppressed=suppressed)
    ours = _written(_write_one_statement, pg, request, suppressed=suppressed)
    assert ours == core
    answer, rows = ours
    assert answer is not None
    assert len(rows["deliveries"]) == len(answer["schedule"]) > 0
    assert [r["evidence"]["request_id"] for r in rows["consent_events"]] == [1] * len(
        rows["consent_events"]
    )


def test_the_stored_consent_evidence_is_the_text_the_core_path_stores(pg: Catalog) -> None:
    request = ConsultationRequestIn.model_validate(BASE)
    with get_engine().connect() as conn:
        answer = enroll_new_prospect(
            conn,
            request,
            catalog=pg,
            sequence=pg.route(request.concern),
            now=NOW,
            meta=META,
            idempotency_key=None,
            digests={},
        )
        conn.commit()
        assert answer is not None
        texts = conn.exec_driver_sql("SELECT evidence::text FROM consent_events ORDER BY id")
        assert [t for (t,) in texts] == [
            f'{{"request_id": {answer["request_id"]}, "basis": "request", "ip": "203.0.113.9",'
            ' "user_agent": "Firefox", "consent_text_version": "v3"}'
        ] * 2


@pytest.mark.parametrize(
    "known",
    [
        {"email": "dana@example.com", "phone": None},
        {"email": None, "phone": "+16175550134"},
        {"email": "other@example.com", "phone": "+16175550134"},
    ],
)
def test_a_known_email_or_phone_writes_nothing_in_one_statement(
    pg: Catalog, known: dict[str, Any]
) -> None:
    with get_engine().begin() as conn:
        conn.execute(
            insert(Contact).values(
                first_name="Old",
                consent_email=True,
                consent_sms=True,
                **known,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    request = ConsultationRequestIn.model_validate({**BASE, "consent_email": True})
    answer, rows = _written(
        _write_one_statement, pg, request, suppressed=[("email", "dana@example.com", "opt_out")]
    )
    assert answer is None
    assert len(rows["contacts"]) == 1
    assert rows["contacts"][0]["first_name"] == "Old"
    assert all(not rows[name] for name in TABLES[1:])
    assert len(rows["suppressions"]) == 1  # the opt-out is not lifted by a statement that failed


def test_submit_on_postgresql_enrolls_then_keeps_the_live_enrollment(pg: Catalog) -> None:
    request = ConsultationRequestIn.model_validate(BASE)
    first = submit(request, catalog=pg, now=NOW)
    second = submit(request, catalog=pg, now=NOW)
    keyed = submit(
        ConsultationRequestIn.model_validate({**BASE, "email": "kim@example.com", "phone": None}),
        catalog=pg,
        now=NOW,
        idempotency_key="k-1",
    )
    assert (first.created, second.created, keyed.created) == (True, False, True)
    assert second.response["already_enrolled"] is True
    assert second.response["enrollment"]["id"] == first.response["enrollment"]["id"]
    with Session(get_engine()) as s:
        counts = [
            s.scalar(select(func.count()).select_from(m))
            for m in (Contact, ConsultationRequest, Enrollment, Delivery, ConsentEvent)
        ]
        stored = s.scalar(
            select(ConsultationRequest.response).where(ConsultationRequest.idempotency_key == "k-1")
        )
    assert counts == [2, 3, 2, 16, 5]
    assert stored == keyed.response
    replay = submit(request, catalog=pg, now=NOW, idempotency_key="k-1")
    assert replay.replayed and replay.response == keyed.response


@pytest.mark.parametrize(
    ("channel", "erased", "fields"),
    [
        (Channel.EMAIL, "dana@example.com", {}),
        (Channel.SMS, "+16175550134", {"email": "new@example.com"}),
        # The same mailbox spelled another way (a plus tag) is the same erased person.
        (Channel.EMAIL, "dana@example.com", {"email": "dana+again@example.com", "phone": None}),
    ],
)
def test_a_request_from_an_erased_address_writes_nothing_and_is_counted(
    pg: Catalog, channel: Channel, erased: str, fields: dict[str, Any]
) -> None:
    digest = address_digest(get_settings().secret_key, channel, erased)
    with get_engine().begin() as conn:
        conn.execute(
            insert(ErasedAddress).values(channel=channel, digest=digest, erased_at=NOW, requests=0)
        )
    request = ConsultationRequestIn.model_validate({**BASE, **fields})

    outcome = submit(request, catalog=pg, now=NOW)

    assert outcome.response == NOT_CONTACTED and not outcome.created
    with Session(get_engine()) as s:
        for table in (Contact, ConsultationRequest, Enrollment, Delivery, ConsentEvent):
            assert s.scalar(select(func.count()).select_from(table)) == 0, table.__name__
        counted = s.scalars(select(ErasedAddress)).one()
        assert (counted.requests, counted.requested_at) == (1, NOW)
