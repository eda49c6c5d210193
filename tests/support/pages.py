"""Page checks: what every page of nurture must pass, checked as the field checks it.

In a browser test, with the page open in the `browser` fixture's Chromium:

    def test_the_today_page_lists_who_asked(api_server, browser, page_checks):
        browser.get(f"{api_server}/today")
        page_checks(browser, "today")    # at 390 and 1280 px

`page_checks(driver, name)` (the fixture, tests/api/conftest.py) checks the page at each width
of `WIDTHS` and, once the test has passed, every page it checked goes through the W3C Nu HTML
checker in one run (a JVM start is costly); any problem fails the test, listing all of them.
At each width:

- axe-core (injected into the page) finds no serious or critical violation (rule, impact,
  the elements it names);
- the page does not scroll sideways (`scrollWidth <= innerWidth`; the widest elements are
  named) and has the phone viewport `<meta>`;
- the browser asked nothing of a non-local origin (Chrome's performance log: every request
  since the last check, frames included, even one the page's CSP then refused), and the
  console shows no CSP refusal and no script error;
- a screenshot of the whole page is saved as tests/artifacts/<name>-<width>.png: look at it.

`check_page(driver, name)` does the same at the current width only; `nu_errors(pages)` checks
any {name: html} at once; `served_html(driver)` is the current page's HTML as the server sent
it (what the Nu checker reads, rather than the browser's repaired DOM).

The tools are pinned in tests/pagecheck/package-lock.json and installed by
scripts/pagecheck.sh (run by the test command); without them, or without Java, these tests skip
locally naming what is missing, and fail with CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTIFACTS, need_browser
from tests.conftest import IN_CI
from tests.support.page_rules import (
    AXE_JS,
    BLOCKING,
    EVERY_IMPACT,
    VNU_JAR,
    NuError,
    axe_violations,
    nu_errors,
    phone_viewport,
    sideways_scroll,
)
from tests.support.page_traffic import outside_requests, served_html

__all__ = [
    "BLOCKING",
    "EVERY_IMPACT",
    "WIDTHS",
    "NuError",
    "PageChecks",
    "check_page",
    "need_page_checks",
    "nu_errors",
    "page_problems",
    "served_html",
    "set_width",
    "shoot",
]

#: A phone and a laptop, in CSS pixels.
WIDTHS = (390, 1280)
MAX_SHOT_PX = 20_000


def need_page_checks() -> None:
    """Skip locally, fail on CI, naming what the page checks lack and how to get it."""
    need_browser()
    missing = []
    if not AXE_JS.exists() or not VNU_JAR.exists():
        missing.append("axe-core and vnu-jar (scripts/pagecheck.sh: npm ci in tests/pagecheck)")
    if shutil.which("java") is None:
        missing.append("java (apt-get install openjdk-17-jre-headless)")
    if not missing:
        return
    message = f"page checks need {' and '.join(missing)}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def set_width(driver: Any, width: int, height: int = 900) -> None:
    """Make the page's viewport `width` CSS pixels wide (the window is a little wider when
    the browser draws a frame of its own)."""
    driver.set_window_size(width, height)
    inner = int(driver.execute_script("return window.innerWidth"))
    if inner != width:
        driver.set_window_size(2 * width - inner, height)


def shoot(driver: Any, path: Path) -> Path:
    """A screenshot of the whole page at the viewport's width: the window is made as tall as
    the page for it (Chrome's capture beyond the window leaves frames blank), then put back."""
    before = driver.get_window_size()
    chrome = before["height"] - int(driver.execute_script("return window.innerHeight"))
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(before["width"], min(height, MAX_SHOT_PX) + chrome)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(before["width"], before["height"])
    return path


def page_problems(driver: Any, name: str, impacts: Iterable[str] = BLOCKING) -> list[str]:
    """Every check at the current width, the screenshot taken; the problems found."""
    problems = [
        *axe_violations(driver, impacts),
        *sideways_scroll(driver),
        *phone_viewport(driver),
        *outside_requests(driver),
    ]
    width = int(driver.execute_script("return window.innerWidth"))
    shoot(driver, ARTIFACTS / f"{name}-{width}.png")
    return [f"{name} at {width} px: {p}" for p in problems]


def check_page(driver: Any, name: str, impacts: Iterable[str] = BLOCKING) -> None:
    """Fail, listing every problem, unless the open page passes the checks at this width."""
    problems = page_problems(driver, name, impacts)
    if problems:
        pytest.fail("page checks:\n  " + "\n  ".join(problems), pytrace=False)


class PageChecks:
    """The `page_checks` fixture: call it with the page open; its Nu check runs once the
    test has passed (tests/api/conftest.py)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    def __call__(
        self,
        driver: Any,
        name: str,
        widths: Iterable[int] = WIDTHS,
        impacts: Iterable[str] = BLOCKING,
    ) -> None:
        """Check the open page at each of `widths`, keep its HTML for the Nu check, and fail
        listing every problem found at any width."""
        need_page_checks()
        html = served_html(driver)
        before = driver.get_window_size()
        problems = []
        try:
            for width in widths:
                set_width(driver, width)
                problems += page_problems(driver, name, impacts)
        finally:
            driver.set_window_size(before["width"], before["height"])
        self.pages[name] = html
        if problems:
            pytest.fail("page checks:\n  " + "\n  ".join(problems), pytrace=False)

    def check_html(self) -> None:
        """Fail listing the Nu HTML checker's errors in the pages checked so far."""
        errors = nu_errors(self.pages)
        self.pages.clear()
        if errors:
            pytest.fail(
                "Nu HTML checker:\n  " + "\n  ".join(map(str, errors)),
                pytrace=False,
            )
