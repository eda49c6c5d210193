"""The /ops page in a real headless Chromium (Debian's, driven by Selenium) against a real
`nurture api` server and a seeded database. Screenshots land in tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import nurture.cli.ops  # noqa: F401 - registers `health`
from nurture.cli import app as cli
from nurture.core.clock import utcnow
from nurture.core.states import DeliveryStatus
from nurture.db import session_scope, upgrade
from nurture.dispatch.heartbeat import beat_worker, worker_name
from nurture.errors import PermanentSendError
from nurture.ops.status import collect_status
from tests.browser import ARTIFACTS
from tests.conftest import ApiProcess, wait_for
from tests.helpers import enroll
from tests.ops_helpers import ids_of, rows, seed_now, send, status_of, tick
from tests.support.pages import PageChecks
from tests.support.people import add_person, fill_sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def api_server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`nurture api` in its own process, on the test's database."""
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _figure(driver: Any, key: str) -> str:
    from selenium.webdriver.common.by import By

    return str(
        driver.find_element(By.CSS_SELECTOR, f'[data-figure="{key}"]').get_attribute("data-value")
    )


def test_the_ops_page_behind_the_key_matches_the_database_and_retries(
    api_server: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    _, seeded = seed_now()
    add_person(None, "manager@example.com", "manager")
    browser.get(f"{api_server}/ops?refresh=0")
    assert browser.find_elements(By.ID, "login"), "no sign-in form before signing in"
    assert "data-figure" not in browser.page_source
    fill_sign_in(browser, "manager@example.com", "not the password")
    wait_for(
        lambda: "do not match an account" in browser.page_source,
        timeout_s=10,
        message="the wrong password refused",
    )
    browser.find_element(By.ID, "email").clear()
    fill_sign_in(browser, "manager@example.com")
    wait_for(lambda: browser.find_elements(By.ID, "health"), timeout_s=10, message="the dashboard")
    cookie = browser.get_cookie("nurture_ops")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    with session_scope() as s:
        figures = collect_status(s, now=utcnow())
    for key in ("due_now", "next_24h", "failed", "unknown", "paused"):
        assert _figure(browser, key) == str(figures[key]), key
    for state, count in figures["deliveries"].items():
        cell = browser.find_element(By.CSS_SELECTOR, f'#states td[data-state="{state}"]')
        assert cell.text == str(count), state
    shown_late = float(_figure(browser, "oldest_overdue_s"))
    assert abs(shown_late - figures["oldest_overdue_s"]) < 5
    assert browser.find_element(By.ID, "health").get_attribute("data-healthy") == "false"
    browser.save_screenshot(str(ARTIFACTS / "ops-dashboard.png"))

    failed = next(d.id for d in rows() if d.status is DeliveryStatus.FAILED)
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-delivery-id="{failed}"]')
    row.find_element(By.CSS_SELECTOR, 'button[data-action="retry"]').click()
    wait_for(lambda: "done=retried" in browser.current_url, timeout_s=10, message="the retry")
    assert browser.find_element(By.ID, "flash").text.startswith(f"Delivery {failed} will be sent")
    assert status_of(failed) is DeliveryStatus.SCHEDULED
    assert _figure(browser, "failed") == str(figures["failed"] - 1)
    browser.save_screenshot(str(ARTIFACTS / "ops-after-retry.png"))

    contact_id = seeded.unknown["enrollment"]["contact_id"]  # type: ignore[index]
    browser.find_element(By.CSS_SELECTOR, f'a[href="/ops/contacts/{contact_id}"]').click()
    wait_for(lambda: browser.find_elements(By.ID, "contact"), timeout_s=10, message="the contact")
    first = ids_of(seeded.unknown)[0]
    events = browser.find_elements(
        By.CSS_SELECTOR, f'tr[data-delivery-id="{first}"] [data-event-status]'
    )
    assert [e.get_attribute("data-event-status") for e in events] == ["queued", "unknown"]
    browser.save_screenshot(str(ARTIFACTS / "ops-contact.png"))
    assert (ARTIFACTS / "ops-dashboard.png").stat().st_size > 10_000


def test_health_url_checks_a_live_endpoint(api_server: str) -> None:
    with session_scope() as session:  # a worker alive: /readyz wants one
        beat_worker(session, worker_name(), utcnow())
    runner = CliRunner()
    assert runner.invoke(cli, ["health", "url", f"{api_server}/readyz"]).exit_code == 0
    missing = runner.invoke(cli, ["health", "url", f"{api_server}/nope"])
    assert missing.exit_code == 1


def _due_now() -> int:
    with session_scope() as s:
        return int(collect_status(s, now=utcnow())["due_now"])


@pytest.mark.timeout(300)  # a server and a browser to start, on a shared machine
def test_the_figures_update_without_a_reload_and_pausing_stops_them(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    seed_now()
    add_person(None, "manager@example.com", "manager")
    browser.get(f"{api_server}/ops?refresh=1")
    fill_sign_in(browser, "manager@example.com")
    wait_for(lambda: browser.find_elements(By.ID, "live-pause"), timeout_s=10, message="/ops")
    page_checks(browser, "ops-live")
    browser.execute_script("window.sameDocument = true")
    live = browser.find_element(By.ID, "live")

    def shown() -> int:
        """The figure as shown, read in one step: an update may swap the card at any time."""
        return int(
            browser.execute_script(
                "return document.querySelector('[data-figure=due_now]').dataset.value"
            )
        )

    def count(name: str) -> int:
        return int(live.get_attribute(f"data-live-{name}") or 0)

    def said() -> tuple[int, str]:
        """How often the status line (the live region) was written, and what it says."""
        writes, text = browser.execute_script(
            "return [window.statusWrites, document.getElementById('live-status').textContent]"
        )
        return int(writes), str(text)

    def after_more_fetches(n: int) -> None:
        done = count("fetches")
        wait_for(lambda: count("fetches") >= done + n, timeout_s=30, message=f"{n} updates")

    browser.execute_script(
        "window.statusWrites = 0; new MutationObserver(() => window.statusWrites++)"
        ".observe(document.getElementById('live-status'),"
        " {childList: true, subtree: true, characterData: true})"
    )
    assert shown() == _due_now()
    nia = enroll(utcnow(), first_name="Nia", email="nia@example.com", phone="+16175550177")
    wait_for(lambda: shown() == _due_now(), timeout_s=30, message="the new figure on the page")
    assert browser.execute_script("return window.sameDocument") is True, "the page reloaded"
    assert not browser.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')
    after_more_fetches(2)
    assert said() == (0, ""), "the status line speaks on every update"

    # A new failure: said once, with a way to see the lists as they are now.
    failed = [i for i in ids_of(nia) if i in tick(utcnow())]
    send(failed, utcnow(), PermanentSendError("invalid number", provider="twilio", code="21211"))
    wait_for(lambda: "have changed" in said()[1], timeout_s=30, message="the lists' note")
    writes, text = said()
    assert browser.find_element(By.CSS_SELECTOR, "#live-status a").get_attribute("href")
    after_more_fetches(2)
    assert said() == (writes, text), "the same news told again"

    pause = browser.find_element(By.ID, "live-pause")
    pause.click()
    assert pause.text == "Resume updates"
    assert browser.find_element(By.ID, "live-status").text == "Updates paused."
    before, fetches = shown(), count("fetches")
    enroll(utcnow(), first_name="Omar", email="omar@example.com", phone="+16175550178")
    ticks = count("ticks")
    wait_for(lambda: count("ticks") >= ticks + 3, timeout_s=30, message="three paused ticks")
    assert count("fetches") == fetches, "a paused page asked for figures"
    assert shown() == before != _due_now()

    pause.click()
    assert pause.text == "Pause updates"
    wait_for(lambda: shown() == _due_now(), timeout_s=30, message="the figures after resuming")
    wait_for(lambda: "have changed" in said()[1], timeout_s=30, message="the note, once more")
    assert browser.execute_script("return window.sameDocument") is True
    browser.save_screenshot(str(ARTIFACTS / "ops-live-resumed.png"))
