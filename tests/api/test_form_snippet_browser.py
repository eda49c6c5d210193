"""Both snippets of `nurture form-snippet`, pasted into a page served from another origin (a
second local HTTP server, recorded with `--site`), in a real headless Chromium at phone and
desktop width: the frame fits its content (the button is always reachable), the pasted HTML
form gets its token across origins, and each request lands. Screenshots: tests/artifacts/.

On SQLite alone: what differs by database on the way in (the insert, the rate limits, the
form tokens) is tested on both in tests/api/test_forms.py and tests/api/test_intake.py; here
each case costs a `nurture api` and a Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nurture.cli.forms import html_snippet, iframe_snippet
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.db.tables import Contact
from nurture.intake.origins import record_origin
from nurture.schedule.catalog import load_catalog
from tests.browser import ARTIFACTS, start_chromium
from tests.conftest import ApiProcess, use, wait_for
from tests.support.pages import WIDTHS, set_width, shoot
from tests.support.static_site import serve_pages

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.parametrize("db", ["sqlite"], indirect=True),
]

MIN_FILL_S = 1.0


@dataclass(frozen=True)
class Pasted:
    site: str
    driver: Any


def _page(title: str, snippet: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body {{ font: 16px system-ui; margin: 0 1rem; }}</style></head>
<body><header><h1>Boston Hip Clinic</h1><p>Tell us about your hip.</p></header>
<main>{snippet}</main><footer><p>123 Main St, Boston</p></footer></body></html>"""


@pytest.fixture
def pasted(
    db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Pasted]:
    """`nurture api` on the test's database, the clinic's site elsewhere, one Chromium."""
    use(env, monkeypatch, form_min_fill_s=str(MIN_FILL_S))
    api = ApiProcess(env, tmp_path / "api.log")
    api.start()
    try:
        # The snippets as `nurture form-snippet --local` prints them for this server.
        settings = get_settings().model_copy(update={"public_url": api.base})
        catalog = load_catalog(settings.schedules_dir)
        pages = {
            "/iframe": (_page("Contact (frame)", iframe_snippet(settings, catalog)), {}),
            "/html": (_page("Contact (form)", html_snippet(settings, catalog)), {}),
        }
        with serve_pages(pages) as site:
            record_origin(site, now=utcnow())
            driver = start_chromium(tmp_path)
            driver.implicitly_wait(0)
            try:
                yield Pasted(site, driver)
            finally:
                driver.quit()
    finally:
        api.stop()


def _landed(email: str) -> bool:
    with session_scope() as s:
        return s.scalar(select(Contact.id).where(Contact.email == email)) is not None


def _no_sideways_scroll(driver: Any) -> None:
    wide, view = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert wide <= view, f"the page scrolls sideways: {wide} > {view}"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_framed_form_fits_its_content_and_the_request_lands(pasted: Pasted, width: int) -> None:
    from selenium.webdriver.common.by import By

    driver = pasted.driver
    set_width(driver, width)
    driver.get(f"{pasted.site}/iframe")
    frame = driver.find_element(By.ID, "nurture-form")

    def fits() -> bool:
        framed = int(frame.size["height"])
        driver.switch_to.frame(frame)
        try:
            content = driver.execute_script(
                "return Math.ceil(document.documentElement.getBoundingClientRect().height)"
            )
        finally:
            driver.switch_to.default_content()
        return framed != 1700 and abs(framed - int(content)) <= 2

    wait_for(fits, timeout_s=20, message="the frame to take its content's height")
    _no_sideways_scroll(driver)
    shoot(driver, ARTIFACTS / f"snippet-iframe-{width}.png")
    opened = time.monotonic()
    email = f"framed{width}@example.com"
    driver.switch_to.frame(frame)
    driver.find_element(By.ID, "first_name").send_keys("Dana")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "consent_email").click()
    button = driver.find_element(By.CSS_SELECTOR, "#consultation button[type=submit]")
    bottom = driver.execute_script("return arguments[0].getBoundingClientRect().bottom", button)
    assert bottom <= driver.execute_script("return window.innerHeight"), "button cut off"
    wait_for(lambda: time.monotonic() - opened > MIN_FILL_S + 0.5, message="a person's pace")
    button.click()
    wait_for(lambda: driver.find_elements(By.ID, "thanks"), timeout_s=20, message="thanks")
    driver.switch_to.default_content()
    wait_for(lambda: _landed(email), timeout_s=10, message="the request to land")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_pasted_html_form_gets_its_token_across_origins_and_the_request_lands(
    pasted: Pasted, width: int
) -> None:
    from selenium.webdriver.common.by import By

    driver = pasted.driver
    set_width(driver, width)
    driver.get(f"{pasted.site}/html")
    token = driver.find_element(By.NAME, "form_token")
    wait_for(lambda: token.get_attribute("value"), timeout_s=20, message="the form token")
    opened = time.monotonic()
    _no_sideways_scroll(driver)
    shoot(driver, ARTIFACTS / f"snippet-html-{width}.png")
    email = f"pasted{width}@example.com"
    driver.find_element(By.ID, "nc-first").send_keys("Sam")
    driver.find_element(By.ID, "nc-email").send_keys(email)
    driver.find_element(By.ID, "nc-consent_email").click()
    wait_for(lambda: time.monotonic() - opened > MIN_FILL_S + 0.5, message="a person's pace")
    driver.find_element(By.CSS_SELECTOR, "#nurture-consultation button[type=submit]").click()
    wait_for(lambda: driver.find_elements(By.ID, "thanks"), timeout_s=20, message="thanks")
    wait_for(lambda: _landed(email), timeout_s=10, message="the request to land")
