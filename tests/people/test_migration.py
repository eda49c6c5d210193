"""`nurture db upgrade` on a deployment from before accounts (at 0008, with data): nothing is
lost, the API key keeps working, and the sign-in page says how to create the owner."""

from __future__ import annotations

import pytest
from alembic import command
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.db import reset_engines, upgrade
from nurture.db.migrate import alembic_config
from tests.conftest import use
from tests.ops_helpers import rows, seed_now


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_existing_deployment_keeps_working_after_the_upgrade(
    kind: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if kind == "postgresql":
        use(env, monkeypatch, database_url=request.getfixturevalue("pg_url"))
    command.upgrade(alembic_config(), "0008")
    seed_now()
    before = [(d.id, d.status, d.due_at) for d in rows()]
    assert before
    reset_engines()

    upgrade()

    assert [(d.id, d.status, d.due_at) for d in rows()] == before
    with TestClient(create_app(), base_url="https://testserver") as client:
        status = client.get("/ops/status", headers={"Authorization": "Bearer test-key"})
        assert status.status_code == 200
        assert sum(status.json()["deliveries"].values()) == len(before)
        login = client.get("/login")
        assert "nurture users add you@clinic.example --role owner" in login.text
