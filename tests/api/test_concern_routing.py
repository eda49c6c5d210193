"""`POST /v1/consultation-requests` enrolls each prospect in the sequence for their concern."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.db import session_scope
from nurture.db.tables import Enrollment

AUTH = {"Authorization": "Bearer test-key"}


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("concern", "sequence", "steps"),
    [
        ("Outer hip pain", "hip-pain-consultation", 4),
        ("my back is killing me", "low-back-pain", 4),
        ("stiff neck, and my arm tingles", "neck-pain", 4),
        ("Frozen shoulder?", "shoulder-pain", 4),
        ("sciatica?", "chronic-pain-default", 3),
        (None, "chronic-pain-default", 3),
    ],
)
def test_a_request_enrolls_in_the_sequence_its_concern_routes_to(
    client: TestClient, concern: str | None, sequence: str, steps: int
) -> None:
    request = {"first_name": "Dana", "email": "dana@example.com", "phone": "(617) 555-0134"}
    if concern is not None:
        request["concern"] = concern
    response = client.post("/v1/consultation-requests", json=request, headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["enrollment"]["sequence"] == sequence
    planned = [row["step"] for row in body["schedule"]]
    assert planned[0] == "doctor-first" and planned[-1] == "booking"
    assert len(set(planned)) == steps
    with session_scope() as s:
        assert s.scalars(select(Enrollment.sequence_id)).one() == sequence
