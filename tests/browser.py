"""What the browser tests share: Debian's headless Chromium and its driver, the flags it runs
with, where screenshots land, and the check that skips (or, on CI, fails) without them. The
`browser` fixture itself is in tests/api/conftest.py."""

from __future__ import annotations

from pathlib import Path

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
