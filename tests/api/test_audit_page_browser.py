"""`/ops/audit` in a real headless Chromium against a real `nurture api`: the rows, a filter
chosen in the form, the CSV link; axe-core, no sideways scroll at 390 px, the Nu checker.
Screenshots at 390 and 1280 px land in tests/artifacts/ (audit-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from nurture.core.clock import utcnow
from nurture.db import get_engine, upgrade
from nurture.people.actor import Actor
from nurture.people.audit import record
from tests.conftest import ApiProcess, wait_for
from tests.support.pages import PageChecks
from tests.support.people import add_person, fill_sign_in

pytestmark = pytest.mark.slow

PEOPLE = [
    Actor(
        kind="person",
        id=1,
        name="olivia.owner-with-a-long-address@clinic-staff.example",
        role="owner",
    ),
    Actor(kind="person", id=2, name="max@clinic.example", role="manager"),
    Actor(kind="token", id=5, name="website-form", role=None),
]


@pytest.fixture
def api_server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _seed() -> None:
    now = utcnow()
    owner, manager, token = PEOPLE
    rows: list[tuple[Actor, str, str | None, dict[str, str | int | bool | None] | None]] = [
        (owner, "sign-in", None, None),
        (owner, "user-added", "user:max@clinic.example", {"role": "manager"}),
        (manager, "prospect-viewed", "contact:12", None),
        (manager, "export", None, {"what": "prospects", "format": "csv", "rows": 214}),
        (
            Actor.api_key(),
            "delivery-retry",
            "delivery:40",
            {"done": "retried", "status": "scheduled"},
        ),
        (token, "sign-in-failed", None, {"reason": "revoked"}),
        (
            Actor.cli(),
            "test-send",
            "sequence:hip-pain-consultation",
            {"step": "booking", "channel": "sms"},
        ),
    ]
    with get_engine().begin() as conn:
        for n, (actor, action, target, detail) in enumerate(rows):
            at = now - timedelta(hours=len(rows) - n)
            record(
                conn,
                actor=actor,
                action=action,
                target=target,
                detail=detail,
                ip="203.0.113.7",
                at=at,
            )


def test_the_audit_page_lists_filters_and_passes_the_page_checks(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _seed()
    add_person(None, "max@clinic.example", "manager")
    browser.get(f"{api_server}/ops/audit")
    fill_sign_in(browser, "max@clinic.example")
    wait_for(lambda: browser.find_elements(By.ID, "audit-rows"), timeout_s=30, message="the trail")
    ids = [
        r.get_attribute("data-audit-id")
        for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-audit-id]")
    ]
    assert ids == ["8", "7", "6", "5", "4", "3", "2", "1"]  # 8: signing in to see it
    assert "rows=214" in browser.find_element(By.ID, "audit-rows").text
    page_checks(browser, "audit")

    Select(browser.find_element(By.ID, "f-action")).select_by_value("export")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()

    def filtered() -> bool:
        # The page before the submit can still answer, and go stale under the lookup.
        try:
            return browser.find_element(By.ID, "total").get_attribute("data-value") == "1"
        except StaleElementReferenceException:
            return False

    wait_for(filtered, timeout_s=30, message="the filtered trail")
    (row,) = browser.find_elements(By.CSS_SELECTOR, "tr[data-audit-id]")
    assert row.get_attribute("data-action") == "export"
    href = browser.find_element(By.ID, "csv").get_attribute("href")
    assert href.endswith("/ops/audit?action=export&format=csv")
    page_checks(browser, "audit-filtered")
