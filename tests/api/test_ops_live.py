"""`/ops` updates its figures in place (`GET /ops/live`, the script `/ops/live.js`) instead of
reloading itself with `<meta http-equiv=refresh>` (WCAG 2.2.1). The browser side, pausing
included, is in test_ops_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.api.cookie import COOKIE_NAME
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.ops.status import collect_status
from tests.conftest import use
from tests.ops_helpers import seed_now

AUTH = {"Authorization": "Bearer test-key"}
PARTS = ("as-of", "health", "cards", "states", "next-24h")


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="http://testserver") as test_client:
        yield test_client


def test_the_dashboard_never_reloads_itself_and_names_what_updates(client: TestClient) -> None:
    html = client.get("/ops", headers=AUTH).text
    assert "http-equiv" not in html
    assert '<script src="/ops/live.js" defer></script>' in html
    assert re.search(r'<div id="live" data-live-url="/ops/live" data-live-s="15"', html)
    for part in PARTS:
        assert f'data-live="{part}"' in html, part
    assert 'id="live-pause"' in html and 'role="status"' in html


def test_refresh_zero_or_the_setting_zero_turns_the_updates_off(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    html = client.get("/ops?refresh=0", headers=AUTH).text
    assert "live.js" not in html and 'data-live-s="0"' in html and "live-pause" not in html
    use(env, monkeypatch, ops_refresh_s="0")
    assert "live.js" not in client.get("/ops", headers=AUTH).text


def test_the_live_figures_are_the_dashboards_parts_with_the_databases_figures(
    client: TestClient,
) -> None:
    seed_now()
    response = client.get("/ops/live", headers=AUTH)
    assert response.status_code == 200
    html = response.text
    assert [m for m in re.findall(r'data-live="([a-z0-9-]+)"', html)] == list(PARTS)
    with session_scope() as s:
        figures = collect_status(s, now=utcnow())
    for key in ("due_now", "next_24h", "failed", "unknown", "paused"):
        assert f'data-figure="{key}" data-value="{figures[key]}"' in html, key
    assert "<html" not in html and "data-delivery-id" not in html, "the figures, not the page"


def test_the_live_figures_need_a_session(client: TestClient) -> None:
    response = client.get("/ops/live")
    assert response.status_code == 401
    client.cookies.set(COOKIE_NAME, "forged")
    assert client.get("/ops/live").status_code == 401


def test_the_script_comes_from_the_package_and_only_it_may_run(client: TestClient) -> None:
    script = client.get("/ops/live.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert "/ops/live" in script.text and "live-pause" in script.text
    csp = client.get("/ops", headers=AUTH).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.replace("style-src 'unsafe-inline'", "")
