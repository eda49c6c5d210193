"""`/studio/publish` and `/studio/history` in a real headless Chromium against a real
`nurture api`: a manager reviews the drafts (diffs, who waits, send times before and after),
publishes with a note, sees the history, rolls back after a confirmation. axe-core, no
sideways scroll at 390 px, the Nu checker; screenshots in tests/artifacts/ (studio-publish-*,
studio-published-*, studio-history-*, studio-rollback-*)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nurture.core.clock import utcnow
from nurture.db import upgrade
from tests.conftest import ApiProcess, use, wait_for
from tests.helpers import enroll
from tests.support.pages import PageChecks
from tests.support.people import add_person, fill_sign_in
from tests.support.studio import (
    HIP_FILE,
    HIP_SMS,
    HIP_SUBJECT,
    copy_templates,
    replaced,
    studio_files,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def api_server(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    use(env, monkeypatch, templates_dir=str(copy_templates(tmp_path / "templates")))
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def _drafts() -> None:
    files, drafts = studio_files()
    by = "maria.manager@clinic.example"
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "simple self-check", "quick self-check"), by=by)
    drafts.save(HIP_SUBJECT, "Whenever you're ready: a visit, or a short call first\n", by=by)
    drafts.save(HIP_FILE, replaced(files, HIP_FILE, "after: 3d", "after: 4d"), by=by)


def test_a_manager_reviews_publishes_and_rolls_back_in_the_browser(
    api_server: str, browser: Any, page_checks: PageChecks
) -> None:
    from selenium.webdriver.common.by import By

    answer = enroll(
        utcnow(),
        concern="outer hip pain",
        email="dana@example.com",
        phone="+16175550123",
        consent_email=True,
        consent_sms=True,
    )
    assert answer["enrollment"]["sequence"] == "hip-pain-consultation", answer
    _drafts()
    add_person(None, "maria.manager@clinic.example", "manager")
    browser.get(f"{api_server}/studio")
    fill_sign_in(browser, "maria.manager@clinic.example")
    wait_for(lambda: browser.find_elements(By.ID, "drafts-waiting"), timeout_s=30, message="studio")
    assert browser.find_element(By.ID, "count-drafts").text.startswith("3")
    browser.find_element(By.LINK_TEXT, "Review and publish").click()

    wait_for(lambda: browser.find_elements(By.ID, "publish"), timeout_s=30, message="publish page")
    waiting = browser.find_element(
        By.CSS_SELECTOR, 'tr[data-sequence="hip-pain-consultation"][data-step="self-test"]'
    )
    assert waiting.get_attribute("data-waiting") == "1"
    assert browser.find_elements(By.CSS_SELECTOR, '[data-timeline="hip-pain-consultation"]')
    page_checks(browser, "studio-publish")

    browser.find_element(By.ID, "note").send_keys("Shorter self-test text; a softer subject")
    browser.find_element(By.CSS_SELECTOR, "#publish button[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "published"), timeout_s=60, message="published")
    assert browser.find_element(By.ID, "published").get_attribute("data-version") == "2"
    page_checks(browser, "studio-published")

    browser.get(f"{api_server}/studio/history")
    versions = browser.find_elements(By.CSS_SELECTOR, "li[data-version]")
    assert [v.get_attribute("data-version") for v in versions] == ["2", "1"]
    assert "Shorter self-test text" in versions[0].text
    page_checks(browser, "studio-history")

    browser.find_element(By.CSS_SELECTOR, 'a[href="/studio/history/1/rollback"]').click()
    wait_for(lambda: browser.find_elements(By.ID, "rollback"), timeout_s=30, message="confirm")
    assert HIP_SMS in browser.find_element(By.ID, "would-change").text
    page_checks(browser, "studio-rollback")
    browser.find_element(By.CSS_SELECTOR, "#rollback button[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "published"), timeout_s=60, message="rolled back")
    assert browser.find_element(By.ID, "published").get_attribute("data-version") == "3"
    files, _ = studio_files()
    assert "simple self-check" in (files.read(HIP_SMS) or "")

    # A draft that breaks a file: the page names the problem next to its file before publishing.
    files, drafts = studio_files()
    drafts.save(HIP_FILE, replaced(files, HIP_FILE, "after: 1d", "after: 1x"), by="maria")
    browser.get(f"{api_server}/studio/publish")
    refusal = browser.find_element(By.ID, "refusal").text
    assert "A publish would be refused now" in refusal and "line 20" in refusal
    page_checks(browser, "studio-publish-refused")
