"""Fixtures of the people tests: an app whose clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.api.deps import now_dep
from nurture.core.clock import utcnow

# The browser fixtures and the Nu check after a passing page test, shared with tests/api.
from tests.api.conftest import browser, page_checks, pytest_runtest_call  # noqa: F401


class Clock:
    """The time routes see; `advance` moves it."""

    def __init__(self) -> None:
        self.now: datetime = utcnow()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_client(db: str, clock: Clock) -> Iterator[TestClient]:
    """The API over https (the session cookie is Secure), on the test's clock."""
    app = create_app()
    app.dependency_overrides[now_dep] = lambda: clock.now
    with TestClient(app, base_url="https://testserver") as client:
        yield client
