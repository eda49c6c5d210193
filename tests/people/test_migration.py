"""`nurture db upgrade` on a deployment from before accounts (at 0008, with data): nothing is
lost, the API key keeps working, and the sign-in page says how to create the owner.

The data is written as the 0008 schema had it (plain rows, reflected tables): today's code
reads tables 0008 did not have yet, so it cannot be what fills an old database."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import reset_engines, upgrade
from nurture.db.migrate import alembic_config
from tests.conftest import use
from tests.ops_helpers import rows


def _seed_at_0008() -> None:
    """One prospect in one sequence with three messages: sent, failed, and one still ahead."""
    now = utcnow().replace(microsecond=0)
    engine = sa.create_engine(get_settings().database_url)
    try:
        tables = sa.MetaData()
        tables.reflect(engine, only=["contacts", "enrollments", "deliveries"])
        contacts, enrollments, deliveries = (
            tables.tables[n] for n in ("contacts", "enrollments", "deliveries")
        )
        with engine.begin() as conn:
            contact = conn.execute(
                contacts.insert().values(
                    first_name="Old",
                    email="old@example.com",
                    consent_email=True,
                    consent_sms=False,
                    created_at=now - timedelta(days=2),
                    updated_at=now - timedelta(days=2),
                )
            ).inserted_primary_key[0]
            enrollment = conn.execute(
                enrollments.insert().values(
                    contact_id=contact,
                    sequence_id="generic",
                    status="active",
                    timezone="America/New_York",
                    started_at=now - timedelta(days=2),
                )
            ).inserted_primary_key[0]
            for index, (status, due) in enumerate([("sent", -2), ("failed", -1), ("scheduled", 3)]):
                conn.execute(
                    deliveries.insert().values(
                        enrollment_id=enrollment,
                        contact_id=contact,
                        step_id=f"step-{index}",
                        step_index=index,
                        channel="email",
                        template=f"step-{index}",
                        due_at=now + timedelta(days=due),
                        status=status,
                        attempts=0 if status == "scheduled" else 1,
                        updated_at=now,
                    )
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_existing_deployment_keeps_working_after_the_upgrade(
    kind: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if kind == "postgresql":
        use(env, monkeypatch, database_url=request.getfixturevalue("pg_url"))
    command.upgrade(alembic_config(), "0008")
    _seed_at_0008()
    before = [(d.id, d.status, d.due_at) for d in rows()]
    assert len(before) == 3
    reset_engines()

    upgrade()

    assert [(d.id, d.status, d.due_at) for d in rows()] == before
    with TestClient(create_app(), base_url="https://testserver") as client:
        status = client.get("/ops/status", headers={"Authorization": "Bearer test-key"})
        assert status.status_code == 200
        assert sum(status.json()["deliveries"].values()) == len(before)
        login = client.get("/login")
        assert "nurture users add you@clinic.example --role owner" in login.text
