"""Every page nurture serves passes the page checks (tests/support/pages.py) at 390 and 1280
px, in a real headless Chromium against one real `nurture api` on a seeded clinic
(tests/support/clinic.py): the ops and studio pages, the hosted form and its answers, the
unsubscribe pages, and the error pages. Screenshots: tests/artifacts/<page>-<width>.png."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from nurture.api.requestlog import failure
from nurture.db import upgrade
from tests.browser import start_chromium
from tests.conftest import (
    ApiProcess,
    copy_schedules,
    isolated_env,
    refresh_settings,
    set_env,
    wait_for,
)
from tests.support.clinic import Clinic, seed_clinic
from tests.support.pages import (
    BLOCKING,
    EVERY_IMPACT,
    WIDTHS,
    check_page,
    need_page_checks,
    nu_errors,
    served_html,
    set_width,
)
from tests.support.people import add_person, fill_sign_in
from tests.support.static_site import serve_pages

#: The first test also seeds the clinic and starts the server and the browser.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HIP = "/studio/sequences/hip-pain-consultation"
#: Who signs in to see the staff pages: the owner sees every page.
OWNER = "owner@example.com"
AUTH = {"Authorization": "Bearer test-key"}


@dataclass(frozen=True)
class Site:
    base: str
    #: Another origin: the clinic's own website (with the form pasted in), an error page.
    elsewhere: str
    driver: Any
    clinic: Clinic


def _elsewhere(base: str) -> dict[str, tuple[str, dict[str, str]]]:
    """The clinic's website with the form's HTML pasted in, before its origin is allowed;
    the page a browser gets when a request fails on our side; and the studio's preview of an
    email (served sandboxed, so that no script runs in it, axe-core's neither)."""
    preview = httpx.get(f"{base}{HIP}/steps/self-test/preview.html", headers=AUTH, timeout=30)
    assert preview.status_code == 200, preview.text
    clinic_site = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Clinic</title></head><body><form method="post" action="{base}/forms/consultation">
<label for="f">First name</label><input id="f" name="first_name" value="Dana">
<button type="submit">Send my request</button></form></body></html>"""
    error = failure(RuntimeError("seeded"), "3f2a9c1d0b7e4a55", wants_html=True).body
    return {
        "/clinic": (clinic_site, {}),
        "/error": (bytes(error).decode(), {}),
        "/email-preview": (preview.text, {}),
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The seeded clinic behind `nurture api`, another origin, and one Chromium for all."""
    need_page_checks()
    root = tmp_path_factory.mktemp("pages")
    (root / "var").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        values = isolated_env(root / "var", copy_schedules(root / "schedules"))
        set_env(patch, values)
        upgrade()
        clinic = seed_clinic()
        add_person(None, OWNER, "owner")
        api = ApiProcess(values, root / "api.log")
        try:
            api.start()
            with serve_pages(_elsewhere(api.base)) as elsewhere:
                driver = start_chromium(root)
                driver.implicitly_wait(0)  # the openers below wait for what they need
                try:
                    yield Site(api.base, elsewhere, driver, clinic)
                finally:
                    driver.quit()
        finally:
            api.stop()
    refresh_settings()


def _has(driver: Any, css: str) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_elements(By.CSS_SELECTOR, css))


def _open(site: Site, url: str, ready: str) -> None:
    """Open `url` (logging in first when a login form answers) and wait for `ready`."""

    driver = site.driver
    driver.get(url)
    wait_for(lambda: _has(driver, ready) or _has(driver, "#password"), message=f"{url}: {ready}")
    if not _has(driver, ready):
        fill_sign_in(driver, OWNER)
        wait_for(lambda: _has(driver, ready), message=f"{url} after logging in: {ready}")


def _press(site: Site, url: str, button: str, ready: str) -> None:
    """Open `url`, press `button`, wait for the page that answers (`ready`)."""
    from selenium.webdriver.common.by import By

    _open(site, url, button)
    site.driver.find_element(By.CSS_SELECTOR, button).click()
    wait_for(lambda: _has(site.driver, ready), message=f"{url}, {button}: {ready}")


def _login_page(site: Site) -> None:
    site.driver.delete_all_cookies()
    _open(site, f"{site.base}/login", "#login")


def _page(path: str, ready: str) -> Callable[[Site], None]:
    return lambda site: _open(site, site.base + path, ready)


#: Each page, and how to get it on screen.
PAGES: dict[str, Callable[[Site], None]] = {
    "ops-login": _login_page,
    "ops-dashboard": _page("/ops", "#health"),
    "ops-search": _page("/ops/search?q=example.com", "#results"),
    "ops-contact": lambda s: _open(s, f"{s.base}/ops/contacts/{s.clinic.dana_id}", "#deliveries"),
    "ops-replies": _page("/ops/replies", "#replies"),
    "today": _page("/today", "#nothing-sent"),
    "prospects": _page("/ops/prospects", "#prospects"),
    "prospects-none": _page("/ops/prospects?status=stopped&q=nobody", "#no-results"),
    "erase-confirm": lambda s: _press(
        s, f"{s.base}/ops/contacts/{s.clinic.dana_id}", "[data-action=erase]", "#erase-confirm"
    ),
    "ops-results": _page("/ops/results", "section.sequence"),
    "ops-not-found": _page("/ops/contacts/999999", "#message"),
    "studio": _page("/studio", "section.seq"),
    "studio-sequence": _page(HIP, "#times"),
    "studio-preview": lambda s: _open(s, f"{s.elsewhere}/email-preview", "td.content"),
    "studio-not-found": _page("/studio/sequences/no-such-sequence", "#message"),
    "studio-edit-step": _page(f"{HIP}/steps/booking/edit", "#edit-form"),
    "studio-settings": _page("/studio/settings", "#settings-form"),
    "studio-sequence-editor": _page(f"{HIP}/edit", "#sequence-form"),
    "form": _page("/forms/consultation", "#consultation"),
    "form-errors": lambda s: _press(
        s, f"{s.base}/forms/consultation", "#consultation button[type=submit]", "#summary"
    ),
    "form-thanks": _page("/forms/consultation/thanks", "#thanks"),
    "form-refused": lambda s: _press(s, f"{s.elsewhere}/clinic", "button", "#refused"),
    "unsubscribe": lambda s: _open(s, f"{s.base}/u/{s.clinic.unsubscribe_token}", "form button"),
    "unsubscribed": lambda s: _press(
        s, f"{s.base}/u/{s.clinic.unsubscribe_token}", "form button", "#unsubscribed"
    ),
    "invalid-link": _page("/u/not-a-valid-token", "#invalid-link"),
    "error": lambda s: _open(s, f"{s.elsewhere}/error", "h1"),
}


#: An email is no page: it has no landmarks or level-one heading, and needs none.
EMAILS = frozenset({"studio-preview"})


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_passes_the_checks_at_phone_and_desktop_width(
    site: Site, name: str, width: int
) -> None:
    """The standard is no serious or critical axe-core violation; these pages are held to
    none at all (landmarks, heading order and the like included)."""
    set_width(site.driver, width)
    PAGES[name](site)
    check_page(site.driver, name, BLOCKING if name in EMAILS else EVERY_IMPACT)


def test_every_page_is_valid_html(site: Site) -> None:
    pages = {}
    for name, open_page in PAGES.items():
        open_page(site)
        pages[name] = served_html(site.driver)
    errors = nu_errors(pages)
    assert not errors, "Nu HTML checker:\n" + "\n".join(map(str, errors))
    assert set(pages) == set(PAGES)
