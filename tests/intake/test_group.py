"""Never-seen prospects that arrive together are committed as one group on PostgreSQL, and a
statement that fails takes down only its own request: the rest of its group is written.

Each test holds the process's group writer as if a group were being written, lets several
`submit()` calls queue behind it, then lets go: they form the next group, deterministically.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from nurture.api import create_app
from nurture.config import get_settings
from nurture.db import get_engine, upgrade
from nurture.db.tables import (
    ConsentEvent,
    ConsultationRequest,
    Contact,
    Delivery,
    Enrollment,
)
from nurture.errors import IntakeError
from nurture.intake import group, loop, service
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.service import EnrollOutcome, submit
from nurture.intake.write_pg import NewProspect, new_prospect
from nurture.schedule.catalog import Catalog, load_catalog
from tests.conftest import use

DELIVERIES = 8  # the hip-pain sequence, email and phone given
CONSENT = 2  # a consent row a channel, email and phone given
#: The request the writer is held on while the others queue behind it (written alone).
LEAD = ConsultationRequestIn.model_validate(
    {"first_name": "Lee", "email": "lee@example.com", "concern": "outer hip pain"}
)


@pytest.fixture
def pg(pg_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    use(env, monkeypatch, database_url=pg_url)
    upgrade()
    yield load_catalog(get_settings().schedules_dir)


def _request(n: int, **fields: Any) -> ConsultationRequestIn:
    return ConsultationRequestIn.model_validate(
        {
            "first_name": "Dana",
            "email": f"dana{n}@example.com",
            "phone": f"+1617555{n:04d}",
            "concern": "outer hip pain",
            **fields,
        }
    )


def _in_one_group(
    monkeypatch: pytest.MonkeyPatch,
    catalog: Catalog,
    requests: list[tuple[ConsultationRequestIn, str | None]],
    *,
    grouped: int,
) -> tuple[list[EnrollOutcome | BaseException], list[int]]:
    """`submit()` of each request from its own thread (as the API's threadpool calls it),
    while the writer is held on a first request (`LEAD`, written alone) until `grouped` of
    them wait: they are then written as one group. What each call returned or raised, and
    the sizes of the groups written after the first."""
    writer = group.group_writer(get_engine())
    sizes: list[int] = []
    held = threading.Event()
    write_group = writer._write_group

    def counted(params: list[dict[str, Any]]) -> Any:
        if not held.is_set():
            held.set()
            deadline = time.monotonic() + 30
            while len(writer._waiting) < grouped and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            sizes.append(len(params))
        return write_group(params)

    monkeypatch.setattr(writer, "_write_group", counted)
    results: list[EnrollOutcome | BaseException] = [RuntimeError("no answer")] * len(requests)

    def run(i: int, request: ConsultationRequestIn, key: str | None) -> None:
        try:
            results[i] = submit(request, catalog=catalog, now=_now(), idempotency_key=key)
        except BaseException as exc:  # handed to the test
            results[i] = exc

    lead = threading.Thread(target=submit, args=(LEAD,), kwargs={"catalog": catalog, "now": _now()})
    lead.start()
    assert held.wait(30)
    threads = [threading.Thread(target=run, args=(i, r, k)) for i, (r, k) in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in [*threads, lead]:
        thread.join(60)
    assert not any(t.is_alive() for t in [*threads, lead]), "a request never got its answer"
    return results, sizes


def _now() -> Any:
    from nurture.core.clock import utcnow

    return utcnow()


def _counts() -> dict[str, int]:
    """Rows of each table, but the `LEAD` request's."""
    with Session(get_engine()) as s:
        lead = s.scalar(select(Contact.id).where(Contact.email == LEAD.email))
        counts = {"Contact": s.scalar(select(func.count()).where(Contact.id != lead)) or 0}
        for m in (ConsultationRequest, Enrollment, Delivery, ConsentEvent):
            where = m.contact_id != lead
            counts[m.__name__] = s.scalar(select(func.count()).select_from(m).where(where)) or 0
        return counts


def _poison(monkeypatch: pytest.MonkeyPatch, email: str, **params: Any) -> None:
    """The statement of the request from `email` gets `params`: it fails in PostgreSQL."""
    made: Callable[..., NewProspect] = service.new_prospect

    def poisoned(request: ConsultationRequestIn, **kw: Any) -> NewProspect:
        prospect = made(request, **kw)
        if request.email == email:
            prospect.params.update(params)
        return prospect

    monkeypatch.setattr(service, "new_prospect", poisoned)


def test_requests_that_arrive_together_are_committed_as_one_group(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, sizes = _in_one_group(
        monkeypatch, pg, [(_request(n), None) for n in range(4)], grouped=4
    )

    assert sizes == [4]
    assert all(isinstance(r, EnrollOutcome) and r.status_code == 201 for r in results), results
    outcomes = [r for r in results if isinstance(r, EnrollOutcome)]
    assert all(len(o.response["schedule"]) == DELIVERIES for o in outcomes)
    assert len({o.response["enrollment"]["contact_id"] for o in outcomes}) == 4
    assert _counts() == {
        "Contact": 4,
        "ConsultationRequest": 4,
        "Enrollment": 4,
        "Delivery": 4 * DELIVERIES,
        "ConsentEvent": CONSENT * 4,
    }
    # Each answer names the rows written for its own request.
    with Session(get_engine()) as s:
        for outcome, n in zip(outcomes, range(4), strict=True):
            contact = s.get(Contact, outcome.response["enrollment"]["contact_id"])
            assert contact is not None and contact.email == f"dana{n}@example.com"
            ids = {row["delivery_id"] for row in outcome.response["schedule"]}
            owners = s.scalars(select(Delivery.contact_id).where(Delivery.id.in_(ids))).all()
            assert set(owners) == {contact.id}


def test_a_statement_that_fails_in_the_database_fails_only_its_own_request(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    _poison(monkeypatch, "dana1@example.com", consent="not json")
    results, sizes = _in_one_group(
        monkeypatch, pg, [(_request(n), None) for n in range(3)], grouped=3
    )

    assert sizes[0] == 3  # the group failed whole; then each statement ran on its own
    assert isinstance(results[1], DataError)
    assert all(isinstance(results[n], EnrollOutcome) for n in (0, 2)), results
    with Session(get_engine()) as s:
        emails = set(s.scalars(select(Contact.email).where(Contact.email != LEAD.email)))
    assert emails == {"dana0@example.com", "dana2@example.com"}
    assert _counts()["Delivery"] == 2 * DELIVERIES


def test_a_unique_violation_in_a_group_fails_only_the_request_that_violates_it(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = submit(_request(9), catalog=pg, now=_now(), idempotency_key="taken")
    assert taken.status_code == 201
    _poison(monkeypatch, "dana1@example.com", idempotency_key="taken")
    results, sizes = _in_one_group(
        monkeypatch, pg, [(_request(n), None) for n in range(3)], grouped=3
    )

    assert sizes[0] == 3
    assert isinstance(results[1], IntakeError)
    assert all(isinstance(results[n], EnrollOutcome) for n in (0, 2)), results
    assert _counts()["Contact"] == 3  # the first request's, and the two others
    replay = submit(_request(9), catalog=pg, now=_now(), idempotency_key="taken")
    assert replay.replayed and replay.response == taken.response


def test_the_same_prospect_twice_in_one_group_is_enrolled_once_and_both_requests_kept(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, sizes = _in_one_group(
        monkeypatch, pg, [(_request(1), None), (_request(1), None), (_request(2), None)], grouped=3
    )

    assert sizes[0] == 3
    outcomes = [r for r in results if isinstance(r, EnrollOutcome)]
    assert len(outcomes) == 3, results
    assert sorted(o.status_code for o in outcomes[:2]) == [200, 201]
    assert _counts() == {
        "Contact": 2,
        "ConsultationRequest": 3,
        "Enrollment": 2,
        "Delivery": 2 * DELIVERIES,
        "ConsentEvent": CONSENT * 3,  # the ledger keeps every request's
    }


def test_a_keyed_request_beside_a_group_is_replayed_with_its_first_answer(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, sizes = _in_one_group(
        monkeypatch,
        pg,
        [(_request(0), None), (_request(1), "key-1"), (_request(2), None)],
        grouped=2,
    )

    assert sizes == [2]  # a request with an Idempotency-Key is written in its own session
    first = results[1]
    assert isinstance(first, EnrollOutcome) and first.status_code == 201
    replay = submit(_request(1), catalog=pg, now=_now(), idempotency_key="key-1")
    assert replay.replayed and replay.response == first.response
    assert _counts()["Enrollment"] == 3


def test_a_group_leaves_its_pooled_connection_as_the_pool_hands_them_out(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    _in_one_group(monkeypatch, pg, [(_request(n), None) for n in range(2)], grouped=2)

    with get_engine().connect() as conn:
        conn.execute(insert(Contact).values(first_name="Kim", email="kim@example.com"))
        conn.rollback()  # not autocommitted: the rollback takes it back
    with Session(get_engine()) as s:
        assert s.scalar(select(func.count()).where(Contact.email == "kim@example.com")) == 0


AUTH = {"Authorization": "Bearer test-key"}


def test_an_api_request_is_written_by_the_group_writer_and_answered_201(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = group.group_writer(get_engine())
    sizes: list[int] = []
    write_group = writer._write_group

    def counted(params: list[dict[str, Any]]) -> Any:
        sizes.append(len(params))
        return write_group(params)

    monkeypatch.setattr(writer, "_write_group", counted)
    with TestClient(create_app()) as client:
        answer = client.post("/v1/consultation-requests", json=_body(1), headers=AUTH)

    assert answer.status_code == 201, answer.text
    assert sizes == [1] and len(answer.json()["schedule"]) == DELIVERIES
    assert _counts()["Delivery"] == DELIVERIES


def test_an_api_request_whose_group_fails_is_written_on_its_own_once(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: Callable[..., NewProspect] = loop.unkeyed_prospect

    def poisoned(request: ConsultationRequestIn, **kw: Any) -> NewProspect:
        prospect = made(request, **kw)
        prospect.params.update(consent="not json")  # only on the event loop's path
        return prospect

    monkeypatch.setattr(loop, "unkeyed_prospect", poisoned)
    with TestClient(create_app()) as client:
        answer = client.post("/v1/consultation-requests", json=_body(1), headers=AUTH)

    assert answer.status_code == 201, answer.text
    assert _counts() == {
        "Contact": 1,
        "ConsultationRequest": 1,
        "Enrollment": 1,
        "Delivery": DELIVERIES,
        "ConsentEvent": CONSENT,
    }


def _body(n: int) -> dict[str, Any]:
    return _request(n).model_dump(exclude_none=True)


def test_a_request_cancelled_while_it_waits_is_left_out_and_its_group_still_answered(
    pg: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = group.group_writer(get_engine())
    held, release = threading.Event(), threading.Event()
    write_group = writer._write_group

    def slow(params: list[dict[str, Any]]) -> Any:
        if not held.is_set():
            held.set()
            release.wait(30)
        return write_group(params)

    def params(n: int) -> dict[str, Any]:
        request = _request(n)
        return new_prospect(
            request,
            catalog=pg,
            sequence=pg.route(request.concern, None),
            now=_now(),
            meta=RequestMeta(),
            idempotency_key=None,
            digests={},
        ).params

    monkeypatch.setattr(writer, "_write_group", slow)
    first = writer.submit(params(0))
    assert held.wait(30)
    gone, kept = writer.submit(params(1)), writer.submit(params(2))
    assert gone.cancel()  # its client went away while the group before it was written
    release.set()

    assert first.result(30) and kept.result(30)
    with Session(get_engine()) as s:
        emails = set(s.scalars(select(Contact.email)))
    assert emails == {"dana0@example.com", "dana2@example.com"}
