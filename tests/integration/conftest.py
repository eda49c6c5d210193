"""Fixtures for the integration tests of the HTTP API with real providers' webhooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from nurture.api import create_app
from tests.conftest import use_providers
from tests.fakes.provider import FakeProvider


@pytest.fixture
def webhook_client(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    fake_provider: FakeProvider,
) -> Iterator[TestClient]:
    """The API, with SendGrid and Twilio (the fake) as the channels and their webhook keys."""
    use_providers(env, monkeypatch, fake_provider, sendgrid_key)
    with TestClient(create_app()) as test_client:
        yield test_client
