"""`/ops/results` in a real headless Chromium against a real `nurture api`: after the scripted
scenario the page shows exactly the expected numbers, in its cards, its table and its charts'
SVG. Screenshots at 1280 and 390 px land in tests/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import ARTIFACTS, need_browser
from tests.conftest import ApiProcess, wait_for
from tests.ops.results_scenario import (
    EXPECTED_MEDIAN_DAYS,
    EXPECTED_STEPS,
    SEQUENCE_ID,
    ZERO,
    play,
    results_api,  # noqa: F401 - the fixture
)
from tests.support.people import add_person, fill_sign_in

pytestmark = pytest.mark.slow


def _login(driver: Any, base: str) -> None:
    from selenium.webdriver.common.by import By

    add_person(None, "manager@example.com", "manager")
    driver.get(f"{base}/ops/results")
    assert driver.find_elements(By.ID, "login"), "no sign-in form before signing in"
    assert "data-figure" not in driver.page_source
    fill_sign_in(driver, "manager@example.com")
    wait_for(
        lambda: driver.find_elements(By.ID, f"sequence-{SEQUENCE_ID}"),
        timeout_s=30,
        message="the results page",
    )


def test_the_results_page_shows_exactly_the_scenarios_numbers_in_cards_table_and_charts(
    results_api: ApiProcess,  # noqa: F811 - the fixture imported above
    browser: Any,
    db: str,
) -> None:
    from selenium.webdriver.common.by import By

    need_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    play(results_api.base)
    _login(browser, results_api.base)
    section = browser.find_element(By.ID, f"sequence-{SEQUENCE_ID}")

    def figure(key: str) -> str:
        cell = section.find_element(By.CSS_SELECTOR, f'[data-figure="{key}"]')
        return str(cell.get_attribute("data-value"))

    assert (figure("enrolled"), figure("booked"), figure("conversion")) == ("4", "2", "0.5")
    assert round(float(figure("median_days")), 1) == EXPECTED_MEDIAN_DAYS
    assert "50.0%" in section.text

    for (step, channel), expected in EXPECTED_STEPS.items():
        row = section.find_element(
            By.CSS_SELECTOR, f'tr[data-step="{step}"][data-channel="{channel}"]'
        )
        shown = {
            k: int(row.find_element(By.CSS_SELECTOR, f'td[data-count="{k}"]').text) for k in ZERO
        }
        assert shown == expected, (step, channel)

    # The charts are inline SVG with a title and a description, carrying the same numbers.
    funnel = section.find_element(By.ID, f"funnel-{SEQUENCE_ID}")
    assert funnel.get_attribute("role") == "img"
    title = funnel.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert "from messages to bookings" in str(title)
    bars = {
        g.get_attribute("data-bar"): int(g.get_attribute("data-value") or -1)
        for g in funnel.find_elements(By.CSS_SELECTOR, "g[data-bar]")
    }
    assert bars == {
        "Messages sent": 14,
        "Delivered": 1,
        "Booking-link clicks": 2,
        "Bookings after a message": 2,
    }
    desc = funnel.find_element(By.TAG_NAME, "desc").get_attribute("textContent")
    assert "14 messages sent" in str(desc)
    steps = section.find_element(By.ID, f"steps-{SEQUENCE_ID}")
    per_step = {
        g.get_attribute("data-bar"): int(g.get_attribute("data-value") or -1)
        for g in steps.find_elements(By.CSS_SELECTOR, "g[data-bar]")
    }
    assert per_step["self-test: bookings"] == 1 and per_step["doctor-first: clicks"] == 1
    # Nothing is loaded from anywhere else.
    assert "http" not in "".join(
        str(e.get_attribute("src") or "") for e in browser.find_elements(By.CSS_SELECTOR, "[src]")
    )

    browser.set_window_size(1280, 1800)
    section = browser.find_element(By.ID, f"sequence-{SEQUENCE_ID}")
    browser.execute_script("arguments[0].scrollIntoView()", section)
    browser.save_screenshot(str(ARTIFACTS / f"ops-results-1280-{db}.png"))
    browser.set_window_size(390, 1600)
    section = browser.find_element(By.ID, f"sequence-{SEQUENCE_ID}")
    browser.execute_script("arguments[0].scrollIntoView()", section)
    browser.save_screenshot(str(ARTIFACTS / f"ops-results-390-{db}.png"))

    # A period nobody enrolled in: zeros, not an error; a bad date: a clear message.
    browser.get(f"{results_api.base}/ops/results?sequence={SEQUENCE_ID}&since=2099-01-01")
    section = browser.find_element(By.ID, f"sequence-{SEQUENCE_ID}")
    assert section.find_element(By.CSS_SELECTOR, '[data-figure="enrolled"]').text == "0"
    browser.get(f"{results_api.base}/ops/results?since=yesterday")
    assert "is not a date" in browser.find_element(By.ID, "error").text
