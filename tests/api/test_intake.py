"""`POST /v1/consultation-requests`: enrollment, idempotency, auth and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nurture.api import create_app
from nurture.db import session_scope
from nurture.db.tables import ConsentEvent, ConsultationRequest, Contact, Delivery, Enrollment

AUTH = {"Authorization": "Bearer test-key"}
GOOD = {
    "first_name": "Dana",
    "email": "Dana@Example.com",
    "phone": "(617) 555-0134",
    "concern": "outer hip pain",
    "message": "hurts when I walk",
}


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def _counts() -> tuple[int, ...]:
    with session_scope() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Contact, ConsultationRequest, Enrollment, Delivery, ConsentEvent)
        )


def test_a_request_enrolls_the_prospect_with_its_whole_schedule(client: TestClient) -> None:
    response = client.post("/v1/consultation-requests", json=GOOD, headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["enrollment"]["sequence"] == "hip-pain-consultation"
    assert body["enrollment"]["timezone"] == "America/New_York"  # from the 617 number
    steps = [(row["step"], row["channel"]) for row in body["schedule"]]
    assert steps == [
        (s, c)
        for s in ("doctor-first", "self-test", "exercise-videos", "booking")
        for c in ("email", "sms")
    ]
    assert all(row["status"] == "scheduled" for row in body["schedule"])
    with session_scope() as s:
        contact = s.scalars(select(Contact)).one()
        assert (contact.email, contact.phone) == ("dana@example.com", "+16175550134")
        assert contact.consent_email and contact.consent_sms
        assert s.scalar(select(func.count()).select_from(ConsentEvent)) == 2


def test_a_website_form_post_is_accepted(client: TestClient) -> None:
    form = {**GOOD, "consent_sms": "false"}
    response = client.post("/v1/consultation-requests", data=form, headers=AUTH)
    assert response.status_code == 201, response.text
    with session_scope() as s:
        contact = s.scalars(select(Contact)).one()
        assert contact.consent_email and not contact.consent_sms
        actions = {(e.channel.value, e.action, e.source) for e in s.scalars(select(ConsentEvent))}
        assert actions == {("email", "opt_in", "form"), ("sms", "opt_out", "form")}


def test_the_same_idempotency_key_returns_the_first_answer(client: TestClient) -> None:
    headers = {**AUTH, "Idempotency-Key": "abc-123"}
    first = client.post("/v1/consultation-requests", json=GOOD, headers=headers)
    again = client.post(
        "/v1/consultation-requests", json={**GOOD, "first_name": "Other"}, headers=headers
    )
    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json()
    assert _counts()[2] == 1


def test_a_second_request_keeps_the_live_enrollment(client: TestClient) -> None:
    first = client.post("/v1/consultation-requests", json=GOOD, headers=AUTH)
    second = client.post("/v1/consultation-requests", json=GOOD, headers=AUTH)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["already_enrolled"] is True
    assert second.json()["enrollment"]["id"] == first.json()["enrollment"]["id"]
    contacts, requests, enrollments, deliveries, _ = _counts()
    assert (contacts, requests, enrollments, deliveries) == (1, 2, 1, 8)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dGVzdA=="}]
)
def test_a_request_without_the_api_key_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post("/v1/consultation-requests", json=GOOD, headers=headers)
    assert response.status_code == 401
    assert _counts() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"email": "not-an-email"}, "email", "invalid email"),
        ({"phone": "12"}, "phone", "invalid phone"),
        ({"timezone": "Mars/Base"}, "timezone", "unknown timezone 'Mars/Base'"),
        ({"email": None, "phone": ""}, None, "give an email or a phone"),
        ({"first_name": ""}, "first_name", "at least 1 character"),
        ({"first_name": "x" * 101}, "first_name", "at most 100 characters"),
        ({"message": "x" * 5001}, "message", "at most 5000 characters"),
        ({"consent_sms": "perhaps"}, "consent_sms", "valid boolean"),
    ],
)
def test_bad_input_gets_a_422_naming_the_field_and_writes_nothing(
    client: TestClient, change: dict[str, object], field: str | None, words: str
) -> None:
    response = client.post("/v1/consultation-requests", json={**GOOD, **change}, headers=AUTH)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(words in e["msg"] for e in errors), errors
    if field:
        assert any(e["loc"][-1] == field for e in errors), errors
    assert _counts() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b""])
def test_a_malformed_body_gets_a_422(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/v1/consultation-requests",
        content=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert _counts() == (0, 0, 0, 0, 0)


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    body = {**GOOD, "message": "x" * 70_000}
    response = client.post("/v1/consultation-requests", json=body, headers=AUTH)
    assert response.status_code == 413
    assert _counts() == (0, 0, 0, 0, 0)


def test_a_chunked_body_under_the_limit_reaches_the_route_whole(client: TestClient) -> None:
    raw = json.dumps(GOOD).encode()

    def chunks() -> Iterator[bytes]:
        yield from (raw[i : i + 7] for i in range(0, len(raw), 7))

    response = client.post(
        "/v1/consultation-requests",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert len(response.headers["x-request-id"]) == 16
    assert _counts()[:4] == (1, 1, 1, 8)


def test_health_answers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
