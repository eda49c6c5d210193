"""Fixtures of the API tests: `browser`, a headless Chromium driven by Selenium, and
`page_checks`, what every page must pass (tests/support/pages.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import start_chromium
from tests.support.pages import PageChecks, need_page_checks


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A Chromium WebDriver on a fresh profile; skips (fails on CI) without the browser."""
    driver = start_chromium(tmp_path)
    yield driver
    driver.quit()


@pytest.fixture
def page_checks() -> PageChecks:
    """`page_checks(browser, "name")`: the open page checked at 390 and 1280 px; the Nu HTML
    check of every page so checked runs once the test has passed (the hook below)."""
    need_page_checks()
    return PageChecks()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a test that used `page_checks` passed, its pages go through the Nu HTML checker
    in one run; an error fails the test itself (not its teardown)."""
    result = yield
    checks = getattr(item, "funcargs", {}).get("page_checks")
    if isinstance(checks, PageChecks):
        checks.check_html()
    return result
