"""`GET /ops/audit`: behind the ops login, filters (who, action, clinic-time dates, target),
paging, CSV; reading it writes an `audit-viewed` row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.db import get_engine
from nurture.people.actor import Actor
from nurture.people.audit import record
from tests.support.audit import audit_rows
from tests.support.people import add_person

AUTH = {"Authorization": "Bearer test-key"}
ANN = Actor(kind="person", id=3, name="ann@clinic.test", role="manager")


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def _seed() -> None:
    """Three rows on 1-3 March 2026 at 02:00 UTC (the evening before in New York)."""
    with get_engine().begin() as conn:
        day = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
        record(conn, actor=Actor.api_key(), action="delivery-cancel", target="delivery:1", at=day)
        day += timedelta(days=1)
        record(conn, actor=ANN, action="export", detail={"format": "csv"}, ip="10.0.0.5", at=day)
        day += timedelta(days=1)
        record(conn, actor=ANN, action="prospect-viewed", target="contact:7", at=day)


def _shown(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-audit-id="(\d+)"', html)]


def test_the_page_needs_the_login(client: TestClient) -> None:
    add_person(None, "max@example.com", "manager")
    response = client.get("/ops/audit", headers={"Accept": "text/html"})
    assert response.status_code == 401 and 'id="login"' in response.text
    assert audit_rows() == []


def test_the_page_lists_rows_newest_first_and_is_itself_audited(client: TestClient) -> None:
    _seed()
    response = client.get("/ops/audit", headers=AUTH)
    assert response.status_code == 200
    assert _shown(response.text) == [3, 2, 1]
    assert "ann@clinic.test" in response.text and "format=csv" in response.text
    assert '<a href="/ops/contacts/7">contact:7</a>' in response.text
    viewed = audit_rows()[-1]
    assert (viewed["id"], viewed["action"], viewed["actor_name"]) == (4, "audit-viewed", "api-key")
    assert viewed["detail"] == {"format": "html", "page": 1}


def test_filters_by_who_action_target_and_clinic_dates(client: TestClient) -> None:
    _seed()
    get = lambda **params: _shown(client.get("/ops/audit", params=params, headers=AUTH).text)  # noqa: E731
    assert get(who="ANN@clinic.test") == [3, 2]
    assert get(action="export") == [2]
    assert get(target="contact:") == [3]
    # The clinic is in New York: its 1 March holds 2 March 02:00 UTC (21:00 on the 1st).
    assert get(**{"from": "2026-03-01", "to": "2026-03-01"}) == [2]
    assert audit_rows()[-1]["detail"] == {
        "from": "2026-03-01",
        "to": "2026-03-01",
        "format": "html",
        "page": 1,
    }


def test_bad_filters_get_a_400_naming_the_field(client: TestClient) -> None:
    response = client.get("/ops/audit", params={"from": "March"}, headers=AUTH)
    assert response.status_code == 400 and "from: &#39;March&#39; is not a date" in response.text
    response = client.get("/ops/audit", params={"action": "peeked"}, headers=AUTH)
    assert response.status_code == 400 and "is not an action of the audit trail" in response.text
    response = client.get(
        "/ops/audit", params={"from": "2026-03-02", "to": "2026-03-01"}, headers=AUTH
    )
    assert response.status_code == 400 and "must be after" in response.text
    csv_bad = client.get("/ops/audit", params={"format": "csv", "to": "x"}, headers=AUTH)
    assert csv_bad.status_code == 400 and csv_bad.text.startswith("to: ")
    assert client.get("/ops/audit", params={"page": "-1"}, headers=AUTH).status_code == 422
    assert audit_rows() == []


def test_pages_of_fifty(client: TestClient) -> None:
    with get_engine().begin() as conn:
        for n in range(120):
            record(conn, actor=ANN, action="prospect-viewed", target=f"contact:{n}")
    first = client.get("/ops/audit", headers=AUTH).text
    assert _shown(first) == list(range(120, 70, -1))
    assert "Page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    last = client.get("/ops/audit", params={"page": 3}, headers=AUTH).text
    assert _shown(last) == list(range(21, 0, -1))  # row 121: the view of page 1
    assert "Page 3 of 3" in last and 'rel="prev"' in last


def test_csv_has_every_matching_row(client: TestClient) -> None:
    _seed()
    response = client.get(
        "/ops/audit", params={"who": "ann@clinic.test", "format": "csv"}, headers=AUTH
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["id"], r["action"], r["ip"], r["detail"]) for r in rows] == [
        ("3", "prospect-viewed", "", ""),
        ("2", "export", "10.0.0.5", "format=csv"),
    ]
    assert audit_rows()[-1]["detail"] == {"who": "ann@clinic.test", "format": "csv", "page": 1}
