"""Fixtures of the send tests: `ctx`, a send context whose SendGrid and Twilio channels talk
to the fake provider over real HTTP, on each database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from nurture.send.context import SendContext
from tests.conftest import use_providers
from tests.fakes.provider import FakeProvider
from tests.helpers import send_context


@pytest.fixture
def provider_settings() -> dict[str, str]:
    """Settings `ctx` adds to the fake providers' (a module overrides this to change them)."""
    return {"provider_timeout_s": "1"}


@pytest.fixture
def ctx(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fake_provider: FakeProvider,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    provider_settings: dict[str, str],
) -> Iterator[SendContext]:
    """A send context through the real SDKs to the fake provider; its channels closed after."""
    use_providers(env, monkeypatch, fake_provider, sendgrid_key, **provider_settings)
    context = send_context()
    yield context
    for channel in context.channels.values():
        channel.close()
