"""The studio in a real headless Chromium against a real `nurture api` server whose channels
are SendGrid and Twilio pointed at the fake provider. Screenshots land in tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from nurture.db import upgrade
from nurture.schedule.catalog import load_catalog
from tests.api.test_studio import table_counts
from tests.browser import ARTIFACTS
from tests.conftest import ROOT, ApiProcess, use_providers, wait_for
from tests.fakes.provider import FakeProvider
from tests.helpers import enroll
from tests.support.people import add_person, fill_sign_in

pytestmark = pytest.mark.slow

#: Every shipped sequence, and the compressed `fast` one the test schedules add.
SEQUENCES = (*load_catalog(ROOT / "schedules").sequences, "fast")


@pytest.fixture
def studio_server(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fake_provider: FakeProvider,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> Iterator[str]:
    """`nurture api` in its own process; email through SendGrid and SMS through Twilio, both
    the fake; one real prospect already enrolled, so the prospect tables are not empty."""
    use_providers(env, monkeypatch, fake_provider, sendgrid_key)
    upgrade()
    enroll(datetime(2026, 3, 3, 15, 0, tzinfo=UTC), concern="outer hip pain")
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _shoot(driver: Any, name: str, width: int) -> Path:
    """A screenshot of the whole page at `width` px."""
    driver.set_window_size(width, 1000)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, min(max(height + 140, 800), 16000))
    path = ARTIFACTS / f"{name}-{width}.png"
    driver.save_screenshot(str(path))
    return path


def _check_sequence_page(driver: Any, sequence_id: str) -> tuple[int, int]:
    """Every email iframe shows its body; every SMS bubble its segments. Returns the counts."""
    from selenium.webdriver.common.by import By

    emails = driver.find_elements(By.CSS_SELECTOR, 'section.email[data-channel="email"]')
    for section in emails:
        frame = section.find_element(By.CSS_SELECTOR, "iframe")
        assert frame.get_attribute("sandbox") == ""
        driver.switch_to.frame(frame)
        try:
            wait_for(
                lambda: "Unsubscribe" in driver.find_element(By.TAG_NAME, "body").text,
                timeout_s=15,
                message=f"{sequence_id}: the email body in its iframe",
            )
            text = driver.find_element(By.TAG_NAME, "body").text
            assert "Alex" in text or "Benjamin" in text, text[:200]
        finally:
            driver.switch_to.default_content()
    bubbles = driver.find_elements(By.CSS_SELECTOR, 'section.sms[data-channel="sms"]')
    for section in bubbles:
        assert section.find_element(By.CSS_SELECTOR, "[data-sms-body]").text.strip()
        facts = section.find_element(By.CSS_SELECTOR, ".sms-facts")
        segments = facts.get_attribute("data-segments")
        assert segments and int(segments) >= 1
        assert (
            f"{segments} segment" in facts.text
            and facts.get_attribute("data-encoding") in facts.text
        )
    assert emails or bubbles, f"{sequence_id}: no message shown"
    return len(emails), len(bubbles)


def test_a_clinic_manager_sees_every_message_and_sends_a_test_that_touches_no_prospect(
    studio_server: str,
    browser: Any,
    fake_provider: FakeProvider,
) -> None:
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    add_person(None, "manager@example.com", "manager")
    before = _prospect_tables()
    browser.get(f"{studio_server}/studio")
    fill_sign_in(browser, "manager@example.com")
    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "section.seq[data-sequence]"),
        timeout_s=15,
        message="the studio after logging in",
    )
    listed = sorted(
        e.get_attribute("data-sequence")
        for e in browser.find_elements(By.CSS_SELECTOR, "section.seq[data-sequence]")
    )
    assert listed == sorted(SEQUENCES)
    for width in (1280, 390):
        _shoot(browser, "studio-index", width)

    totals = {}
    for sequence_id in SEQUENCES:
        browser.set_window_size(1280, 1800)
        browser.get(f"{studio_server}/studio/sequences/{sequence_id}")
        wait_for(
            lambda: browser.find_elements(By.ID, "times"),
            timeout_s=15,
            message=f"the page of {sequence_id}",
        )
        totals[sequence_id] = _check_sequence_page(browser, sequence_id)
    assert totals["hip-pain-consultation"] == (4, 4)

    # The phone width needs no script: a radio and CSS.
    browser.get(f"{studio_server}/studio/sequences/hip-pain-consultation?sample=florida")
    frame = browser.find_element(By.CSS_SELECTOR, "#step-self-test iframe")
    wide = frame.size["width"]
    browser.find_element(By.CSS_SELECTOR, 'label[for="w-self-test-phone"]').click()
    wait_for(lambda: frame.size["width"] <= 390, timeout_s=5, message="the phone width")
    assert wide > 500
    for width in (1280, 390):
        _shoot(browser, "studio-sequence", width)
        browser.set_window_size(width, 1000)
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(ARTIFACTS / f"studio-sequence-top-{width}.png"))
        step = browser.find_element(By.ID, "step-self-test")
        step.screenshot(str(ARTIFACTS / f"studio-step-{width}.png"))

    # A test email and a test text, sent from the page, reach the fake providers.
    browser.set_window_size(1280, 1800)
    for channel, address, api in (
        ("email", "manager@clinic.example", "sendgrid"),
        ("sms", "+1 617 555 0142", "twilio"),
    ):
        browser.get(f"{studio_server}/studio/sequences/hip-pain-consultation?sample=florida")
        form = browser.find_element(
            By.CSS_SELECTOR, f'#step-self-test form[data-test-send="{channel}"]'
        )
        form.find_element(By.NAME, "to").send_keys(address)
        form.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(
            lambda c=channel: f"sent={c}" in browser.current_url,
            timeout_s=20,
            message=f"the test {channel} sent",
        )
        beside = browser.find_element(By.CSS_SELECTOR, f'#step-self-test [data-sent="{channel}"]')
        assert "[TEST]" in beside.text and f"through {api.title().replace('grid', 'Grid')}" in (
            beside.text
        )
        assert browser.switch_to.active_element == beside, "the result has the focus"
        in_view = (
            "var r = arguments[0].getBoundingClientRect();"
            "return [r.top, r.bottom, window.innerHeight, window.scrollY];"
        )
        wait_for(
            lambda b=beside, js=in_view: (lambda t, bt, h, _: t >= -1 and bt <= h + 1)(
                *browser.execute_script(js, b)
            ),
            timeout_s=5,
            message=f"the result in view: {browser.execute_script(in_view, beside)}",
        )
        (received,) = fake_provider.messages(api)  # type: ignore[arg-type]
        if channel == "email":
            assert received.to == "manager@clinic.example"
            assert received.subject and received.subject.startswith("[TEST] ")
            assert "Jordan" in (received.html or "")  # the Florida sample prospect
        else:
            assert received.to == "+16175550142" and received.text.startswith("[TEST] ")
    _shoot(browser, "studio-after-test-send", 1280)
    assert _prospect_tables() == before


def _prospect_tables() -> dict[str, int]:
    """Row counts of every table but the staff's own and the system's: signing in adds a
    person and opens a session, and the API keeps the schedule files that validated."""
    theirs = {"users", "invitations", "staff_sessions", "login_failures", "machine_tokens"}
    system = {"catalog_versions", "heartbeats", "audit_log", "audit_head"}
    return {k: v for k, v in table_counts().items() if k not in theirs | system}
