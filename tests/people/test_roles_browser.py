"""What each role sees and may do, in a real Chromium against `nurture api`: the header
names who is signed in; buttons appear only for roles that may press them; a refused page
says which role it needs. The account pages pass the page checks at 390 and 1280 px
(screenshots: tests/artifacts/accounts-*.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nurture.core.clock import utcnow
from nurture.db import session_scope, upgrade
from nurture.people.accounts import add_user
from nurture.people.actor import Actor
from nurture.people.roles import Role
from tests.conftest import ApiProcess, wait_for
from tests.ops_helpers import seed_now
from tests.support.pages import PageChecks
from tests.support.people import add_person, sign_in_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: Each role, and whether it sees: retry buttons, the results page, the people page.
SEES = {
    "owner": (True, True, True),
    "manager": (True, True, False),
    "front-desk": (False, False, False),
    "viewer": (False, False, False),
}


@pytest.fixture
def api_server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _text(browser: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, css))


@pytest.mark.parametrize("role", list(SEES))
def test_each_role_sees_who_is_signed_in_and_only_what_it_may_do(
    api_server: str, browser: Any, role: str
) -> None:
    from selenium.webdriver.common.by import By

    seed_now()
    email = f"{role}@example.com"
    add_person(None, email, role)
    if role != "owner":
        add_person(None, "owner@example.com", "owner")
    sign_in_browser(browser, api_server, email)
    browser.get(f"{api_server}/ops")  # staff land on /today; the retry buttons are on /ops
    wait_for(lambda: browser.find_elements(By.ID, "who"), message="the header")
    assert email in _text(browser, "#who") and _text(browser, "#who-role") == role
    assert browser.find_elements(By.ID, "sign-out")

    retry, results, people = SEES[role]
    assert bool(browser.find_elements(By.CSS_SELECTOR, "button[data-action=retry]")) is retry
    browser.get(f"{api_server}/ops/results")
    assert ("need the manager role" in browser.page_source) is not results
    browser.get(f"{api_server}/users")
    if people:
        assert "owner@example.com" in _text(browser, "#people")
    else:
        assert "To manage people's accounts you need the owner role" in _text(browser, "#message")
        assert _text(browser, "#your-role") == role

    browser.find_element(By.ID, "sign-out").click()
    wait_for(lambda: "You are signed out." in browser.page_source, message="signed out")
    browser.get(f"{api_server}/ops")
    assert browser.find_elements(By.ID, "login")


def test_the_account_pages_pass_the_page_checks(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{api_server}/login")
    page_checks(browser, "accounts-first-run")
    add_person(None, "owner@example.com", "owner")
    browser.get(f"{api_server}/login")
    page_checks(browser, "accounts-login")
    with session_scope() as db:
        invited = add_user(
            db, "robin@example.com", Role.FRONT_DESK, name="Robin", by=Actor.cli(), now=utcnow()
        )
    browser.get(f"{api_server}/invite/{invited.token}")
    page_checks(browser, "accounts-invitation")

    sign_in_browser(browser, api_server, "owner@example.com")
    browser.get(f"{api_server}/account")
    browser.find_element(By.CSS_SELECTOR, "#totp-start button").click()
    wait_for(lambda: browser.find_elements(By.ID, "totp-secret"), message="the setup key")
    assert re.fullmatch(r"[A-Z2-7]{32}", _text(browser, "#totp-secret"))
    page_checks(browser, "accounts-account")
    browser.get(f"{api_server}/users")
    browser.find_element(By.ID, "email").send_keys("sam@example.com")
    browser.find_element(By.CSS_SELECTOR, "#invite button").click()
    wait_for(lambda: browser.find_elements(By.ID, "invitation-link"), message="the link")
    assert "/invite/" in _text(browser, "#invitation-link")
    page_checks(browser, "accounts-users")
    browser.get(f"{api_server}/tokens")
    browser.find_element(By.ID, "name").send_keys("website")
    browser.find_element(By.CSS_SELECTOR, "#create-token button").click()
    wait_for(lambda: browser.find_elements(By.ID, "new-token"), message="the new token")
    page_checks(browser, "accounts-tokens")

    add_person(None, "vic@example.com", "viewer")
    browser.delete_all_cookies()
    sign_in_browser(browser, api_server, "vic@example.com")
    browser.get(f"{api_server}/tokens")
    assert "you need the owner role" in _text(browser, "#message")
    page_checks(browser, "accounts-403")
