"""`/studio/settings` in a real headless Chromium against a real `nurture api`: a manager
replaces example values, sees each error next to its field, saves a draft; every box is
reached with the keyboard; axe-core, no sideways scroll at 390 px, the Nu checker.
Screenshots at 390 and 1280 px land in tests/artifacts/ (settings-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nurture.config import get_settings
from nurture.db import upgrade
from tests.conftest import ApiProcess, wait_for
from tests.support.pages import PageChecks
from tests.support.people import add_person, fill_sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def api_server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _type(browser: Any, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(text)


def _focus_order(browser: Any, presses: int) -> list[str]:
    """The ids focus visits pressing Tab `presses` times from the top of the page."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.execute_script("document.activeElement && document.activeElement.blur()")
    seen = []
    for _ in range(presses):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        seen.append(browser.execute_script("return document.activeElement.id || ''"))
    return seen


def test_a_manager_fixes_each_value_next_to_its_field_and_saves_a_draft(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    add_person(None, "max@clinic.example", "manager")
    browser.get(f"{api_server}/studio/settings")
    fill_sign_in(browser, "max@clinic.example")
    wait_for(lambda: browser.find_elements(By.ID, "settings-form"), message="the settings form")
    assert browser.find_element(By.ID, "clinic-examples").is_displayed()
    assert browser.find_element(By.ID, "f-phone").get_attribute("value") == ""
    page_checks(browser, "settings")

    # Every box and the Save button are reached with the keyboard, in the page's order.
    order = _focus_order(browser, 90)
    for wanted in (
        "f-name",
        "f-phone",
        "f-timezone",
        "video-url-1",
        "f-notify_email",
        "save-settings",
    ):
        assert wanted in order, (wanted, order)
    assert order.index("f-name") < order.index("f-phone") < order.index("save-settings")

    _type(browser, "f-phone", "555")
    _type(browser, "f-website", "http://benjamin-clinic.example")
    _type(browser, "f-notify_email", "front desk at clinic")
    browser.find_element(By.ID, "save-settings").click()
    wait_for(lambda: browser.find_elements(By.ID, "error-summary"), message="the errors")
    for name, words in {
        "phone": "is not a phone number",
        "website": "starting with https://",
        "notify_email": "is not an email address",
    }.items():
        box = browser.find_element(By.ID, f"f-{name}")
        assert box.get_attribute("aria-invalid") == "true"
        error = browser.find_element(By.ID, f"err-{name}")
        assert words in error.text
        assert f"err-{name}" in box.get_attribute("aria-describedby")
        # Next to its field: just below it.
        assert 0 <= error.location["y"] - box.location["y"] < 120, name
    assert browser.find_element(By.ID, "f-phone").get_attribute("value") == "555"
    # A video link left as the example still says so.
    link = browser.find_element(By.ID, "video-url-1")
    assert link.get_attribute("placeholder") == "https://your-clinic.example/videos/basics"
    assert len(browser.find_elements(By.NAME, "video_url")) == 3  # two, and one to add
    page_checks(browser, "settings-errors")

    _type(browser, "f-phone", "(617) 555-0199")
    _type(browser, "f-website", "https://benjamin-clinic.example/")
    _type(browser, "f-notify_email", "desk@benjamin-clinic.example")
    _type(browser, "f-address", "12 Main Street, Suite 3\nCambridge, MA 02138")
    browser.find_element(By.ID, "save-settings").click()
    wait_for(lambda: browser.find_elements(By.ID, "draft-note"), message="the draft note")
    assert (
        "Saved as a draft: not used until you publish." in browser.find_element(By.ID, "flash").text
    )
    assert "not sent to anyone until published" in browser.find_element(By.ID, "draft-note").text
    assert browser.find_element(By.ID, "f-phone").get_attribute("value") == "(617) 555-0199"
    on_disk = (get_settings().schedules_dir / "clinic.yaml").read_text()
    assert "CHANGE-ME: +1 617 555 0100" in on_disk  # a draft: nothing sent changes
    page_checks(browser, "settings-draft")


def test_front_desk_sees_the_settings_read_only(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    add_person(None, "desk@clinic.example", "front-desk")
    browser.get(f"{api_server}/studio/settings")
    fill_sign_in(browser, "desk@clinic.example")
    wait_for(lambda: browser.find_elements(By.ID, "read-only"), message="the read-only note")
    assert not browser.find_elements(By.ID, "save-settings")
    assert not browser.find_element(By.ID, "f-name").is_enabled()
    page_checks(browser, "settings-front-desk")
