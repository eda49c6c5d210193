"""The hosted form in a real headless Chromium (Debian's, driven by Selenium) against a real
`nurture api` server: filled like a person, at desktop and phone width. Screenshots of the
form, its error state and the thank-you page land in tests/artifacts/."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nurture.db import session_scope
from nurture.db.tables import ConsentEvent, Contact, Enrollment
from nurture.schedule import load_catalog
from nurture.schedule.form import form_wording
from tests.browser import (
    ARTIFACTS,
)
from tests.conftest import ApiProcess, use, wait_for

pytestmark = pytest.mark.slow

MIN_FILL_S = 2.0


def _start_patiently(api: ApiProcess) -> None:
    """Wait for the server as long as a busy shared machine needs (its start loads the phone
    geocoder), failing at once if the process dies."""
    import httpx

    def up() -> bool:
        assert api.process.poll() is None, api.log()
        try:
            return httpx.get(f"{api.base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout_s=120, message="the API to answer /healthz")


@pytest.fixture
def form_server(
    db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """`nurture api` in its own process, on the test's database, with a short minimum fill time."""
    use(env, monkeypatch, form_min_fill_s=str(MIN_FILL_S))
    api = ApiProcess(env, tmp_path / "api.log")
    try:
        _start_patiently(api)
    except BaseException:
        api.stop()  # leave no server behind
        raise
    yield api.base
    api.stop()


def shoot(driver: Any, name: str, width: int) -> None:
    """A screenshot of the whole page (beyond the viewport) at `width` CSS pixels."""
    driver.set_window_size(width, 900)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
        },
    )
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 10_000, name


def type_into(driver: Any, field_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(text)


def fill_like_a_person(driver: Any, *, email: str, phone: str, concern: str, width: int) -> None:
    """Open the form, send it with mistakes first, fix them, tick both boxes, and send."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    label = {"prefix": width}
    driver.set_window_size(width, 900)
    driver.get(driver.base + "/forms/consultation")
    opened = time.monotonic()
    shoot(driver, f"form-{label['prefix']}.png", width)
    assert driver.execute_script("return document.getElementById('timezone').value"), "JS zone"

    # A first try with the first name left out and a mistyped email.
    type_into(driver, "last_name", "Reyes")
    type_into(driver, "email", email.replace("@", " at "))
    driver.find_element(By.XPATH, f'//label[normalize-space()="{concern}"]').click()
    type_into(driver, "message", "It hurts on the outside of my hip when I climb stairs.")
    driver.find_element(By.CSS_SELECTOR, "#consultation button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "summary"), timeout_s=15, message="the errors")
    summary = driver.find_element(By.ID, "summary")
    assert driver.switch_to.active_element == summary, "the error summary takes the focus"
    assert "Enter your first name." in summary.text
    first = driver.find_element(By.ID, "first_name")
    assert first.get_attribute("aria-invalid") == "true"
    assert "first_name-error" in (first.get_attribute("aria-describedby") or "")
    assert driver.find_element(By.ID, "last_name").get_attribute("value") == "Reyes", "kept"
    assert driver.find_element(By.ID, "message").get_attribute("value").startswith("It hurts")
    shoot(driver, f"form-error-{label['prefix']}.png", width)

    # Fixed, with the keyboard: type, tab on, tick both boxes with the space bar.
    type_into(driver, "first_name", "Dana")
    type_into(driver, "email", email)
    type_into(driver, "phone", phone)
    for box in ("consent_email", "consent_sms"):
        element = driver.find_element(By.ID, box)
        assert not element.is_selected(), "consent boxes start unticked"
        element.send_keys(Keys.SPACE)
        assert element.is_selected()
    # A person takes longer than the minimum fill time; wait for it rather than assume it.
    wait_for(lambda: time.monotonic() - opened > MIN_FILL_S + 0.5, timeout_s=10, message="time")
    driver.find_element(By.CSS_SELECTOR, "#consultation button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "thanks"), timeout_s=15, message="thanks")
    assert driver.current_url.endswith("/forms/consultation/thanks")
    shoot(driver, f"form-thanks-{label['prefix']}.png", width)


def test_a_person_fills_the_form_and_is_enrolled_in_the_sequence_for_their_concern(
    form_server: str, browser: Any, env: dict[str, str]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.base = form_server
    fill_like_a_person(
        browser,
        email="dana@example.com",
        phone="(617) 555-0134",
        concern="Outer hip pain",
        width=1280,
    )
    fill_like_a_person(
        browser,
        email="sam@example.com",
        phone="(415) 555-0199",
        concern="Something else",
        width=390,
    )
    zone = browser.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    wording = form_wording(load_catalog(Path(env["NURTURE_SCHEDULES_DIR"])))
    with session_scope() as s:
        enrolled = {
            c.email: (e.sequence_id, e.timezone)
            for e, c in s.execute(select(Enrollment, Contact).join(Contact)).all()
        }
        consent = s.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert enrolled == {
        "dana@example.com": ("hip-pain-consultation", zone),
        "sam@example.com": ("chronic-pain-default", zone),
    }
    assert [(r.channel.value, r.action) for r in consent] == [
        ("email", "opt_in"),
        ("sms", "opt_in"),
    ] * 2
    for row in consent:
        assert row.wording_version == wording[row.channel].version
        assert row.page_url and row.page_url.endswith("/forms/consultation")
        assert row.ip == "127.0.0.1" and row.user_agent and "Chrome" in row.user_agent
