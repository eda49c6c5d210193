"""What the browser tests share: Debian's headless Chromium and its driver, the flags it runs
with, where screenshots land, and the check that skips (or, on CI, fails) without them. The
`browser` fixture itself is in tests/api/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
#: Headless, offline, and nothing of the machine's own profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1800",
)


def need_browser() -> None:
    """Skip locally, fail on CI, naming what is missing and how to get it."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return
    message = (
        f"browser test needs {', '.join(missing)}: run scripts/browser.sh "
        "(apt-get install chromium chromium-driver) and scripts/install.sh"
    )
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def start_chromium(folder: Path) -> Any:
    """A Chromium WebDriver with a fresh profile and its driver's log in `folder`; the
    caller quits it. Skips (fails on CI) without the browser."""
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download anything
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'chromium-profile'}"):
        options.add_argument(flag)
    # The page checks (tests/support/pages.py) read every request and console message here.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(folder / "driver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(5)  # find_element waits for the next page after a click
    return driver
