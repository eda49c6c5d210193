"""`/docs` in headless Chromium: Swagger UI renders the API from the installed package, with
no Content-Security-Policy violation and nothing fetched from another origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from nurture.db import upgrade
from tests.browser import ARTIFACTS
from tests.conftest import ApiProcess, wait_for


@pytest.fixture
def api(env: dict[str, str], tmp_path: Path) -> Iterator[ApiProcess]:
    upgrade()
    process = ApiProcess(env, tmp_path / "api.log")
    try:
        yield process.start(timeout_s=240)
    finally:
        process.stop()


@pytest.mark.timeout(300)
def test_the_api_reference_renders_from_this_origin_only(api: ApiProcess, browser: Any) -> None:
    browser.get(f"{api.base}/docs")
    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock"),
        timeout_s=60,
        message="Swagger UI to list the operations",
    )
    assert "nurture" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    paths = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/v1/consultation-requests" in paths
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    origins = {urlsplit(url)._replace(path="", query="", fragment="").geturl() for url in fetched}
    assert origins == {api.base}, origins
    problems = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not problems, json.dumps(problems)[:2000]
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "docs-1280.png"))
