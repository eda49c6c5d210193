"""Machine tokens open only what their scope says; NURTURE_API_KEY opens everything; a
revoked or unknown token opens nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.db.tables import MachineToken
from nurture.people.actor import Actor
from nurture.people.roles import Scope
from nurture.people.tokens import create_token, revoke_token

REQUEST = {"first_name": "Dana", "email": "dana@example.com", "consent_email": True}


def _token(name: str, scope: Scope) -> dict[str, str]:
    with session_scope() as db:
        token = create_token(db, name, scope, by=Actor.cli(), now=utcnow())
    return {"Authorization": f"Bearer {token}"}


def _calls(client: TestClient, auth: dict[str, str]) -> dict[str, int]:
    return {
        "intake": client.post("/v1/consultation-requests", json=REQUEST, headers=auth).status_code,
        "book": client.post(
            "/v1/bookings", json={"email": "nobody@example.com"}, headers=auth
        ).status_code,
        "status": client.get("/ops/status", headers=auth).status_code,
        "studio": client.get("/studio", headers=auth).status_code,
        "retry": client.post("/ops/deliveries/999/retry", headers=auth).status_code,
    }


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (Scope.INTAKE, {"intake": 201, "book": 403, "status": 403, "studio": 403, "retry": 403}),
        (
            Scope.BOOKINGS,
            {"intake": 403, "book": 404, "status": 403, "studio": 403, "retry": 403},
        ),
        (Scope.READ, {"intake": 403, "book": 403, "status": 200, "studio": 403, "retry": 403}),
        (Scope.ADMIN, {"intake": 201, "book": 404, "status": 200, "studio": 200, "retry": 404}),
    ],
)
def test_a_token_opens_only_what_its_scope_says(
    app_client: TestClient, scope: Scope, expected: dict[str, int]
) -> None:
    assert _calls(app_client, _token("script", scope)) == expected


def test_the_api_key_stays_a_full_scope_token(app_client: TestClient) -> None:
    key = {"Authorization": "Bearer test-key"}
    assert _calls(app_client, key) == {
        "intake": 201,
        "book": 404,
        "status": 200,
        "studio": 200,
        "retry": 404,
    }


def test_a_revoked_or_unknown_token_is_refused_and_use_is_noted(app_client: TestClient) -> None:
    auth = _token("monitor", Scope.READ)
    assert app_client.get("/ops/status", headers=auth).status_code == 200
    with session_scope() as db:
        row = db.query(MachineToken).filter_by(name="monitor").one()
        assert row.last_used_at is not None
        assert auth["Authorization"].removeprefix("Bearer ") not in row.token_hash
        revoke_token(db, "monitor", by=Actor.cli(), now=utcnow())
    refused = app_client.get("/ops/status", headers=auth)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    guess = {"Authorization": "Bearer nt_guess"}
    assert app_client.get("/ops/status", headers=guess).status_code == 401


def test_a_person_cannot_use_the_server_to_server_api(app_client: TestClient) -> None:
    from tests.support.people import add_person, sign_in

    add_person(None, "own@example.com", "owner")
    csrf = sign_in(app_client, "own@example.com")
    refused = app_client.post("/v1/consultation-requests", json={**REQUEST, "csrf_token": csrf})
    assert refused.status_code == 403
