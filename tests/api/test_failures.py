"""Failures answer cleanly: a database without its migrations is named with the command that
fixes it (at start, on /readyz, on every page and endpoint), and an unexpected error answers
a 500 carrying the request id, logged once, on a connection that stays open."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.config import get_settings
from nurture.logs import configure_logging
from tests.conftest import ApiProcess, wait_for

AUTH = {"Authorization": "Bearer test-key"}


@pytest.fixture
def api_on_an_empty_database(env: dict[str, str], tmp_path: Path) -> Iterator[ApiProcess]:
    """`nurture api` as a new user would start it: before `nurture db upgrade`."""
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api
    api.stop()


def _get(
    conn: http.client.HTTPConnection, method: str, path: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    request = {"first_name": "Ann", "email": "ann@example.com", "concern": "hip"}
    body = json.dumps(request).encode() if method == "POST" else None
    conn.request(method, path, body=body, headers={**headers, "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


@pytest.mark.slow
def test_an_api_on_an_unmigrated_database_names_the_command_and_keeps_its_connections(
    api_on_an_empty_database: ApiProcess,
) -> None:
    api = api_on_an_empty_database
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)

    status, _, body = _get(conn, "GET", "/readyz")
    assert status == 503
    assert "nurture db upgrade" in json.loads(body)["database"]
    socket_before = conn.sock

    status, headers, body = _get(
        conn, "GET", "/ops", Accept="text/html,application/xhtml+xml", **AUTH
    )
    assert status == 503 and headers["content-type"].startswith("text/html")
    page = body.decode()
    assert "nurture db upgrade" in page and headers["x-request-id"] in page

    status, headers, body = _get(
        conn, "POST", "/v1/consultation-requests", Accept="application/json", **AUTH
    )
    answer = json.loads(body)
    assert status == 503 and "nurture db upgrade" in answer["detail"]
    assert answer["request_id"] == headers["x-request-id"]

    # Each answer came on the one kept-alive connection, and it is still good.
    status, _, _ = _get(conn, "GET", "/healthz")
    assert status == 200 and conn.sock is socket_before
    conn.close()

    log = api.log()
    assert log.count('"db.not_migrated"') == 1, log  # said once, at start
    assert "Exception in ASGI application" not in log
    assert log.count('"http.error"') == 2  # the page and the endpoint, each logged once


def test_an_unexpected_error_answers_500_with_the_request_id_and_logs_it_once(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object, **__: object) -> dict[str, object]:
        raise RuntimeError("a bug")

    monkeypatch.setattr("nurture.api.ops.status.figures", broken)
    with TestClient(create_app()) as client:
        configure_logging(get_settings())  # JSON lines on the captured stderr
        capsys.readouterr()
        response = client.get("/ops/status", headers={**AUTH, "X-Request-ID": "req-42"})
        assert response.status_code == 500
        assert response.json() == {
            "detail": "A fault on our side stopped this request; nothing you sent was wrong. "
            "Try again in a few minutes.",
            "request_id": "req-42",
        }
        page = client.get("/ops/status", headers={**AUTH, "Accept": "text/html"})
        assert page.status_code == 500 and page.headers["x-request-id"] in page.text
        assert client.get("/healthz").status_code == 200
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    errors = [x for x in lines if x["event"] == "http.error"]
    assert len(errors) == 2 and errors[0]["request_id"] == "req-42"
    assert "RuntimeError: a bug" in errors[0]["exception"]
    assert [x["status"] for x in lines if x["event"] == "http.request"] == [500, 500]


@pytest.mark.slow
def test_a_worker_and_scheduler_on_an_unmigrated_database_say_so_at_start(
    env: dict[str, str], start_worker: object
) -> None:
    worker = start_worker(beat=True)  # type: ignore[operator]
    wait_for(
        lambda: worker.log().count('"db.not_migrated"') >= 2,
        timeout_s=30,
        message="the worker and the scheduler to name the missing migrations",
    )
    said = [json.loads(x) for x in worker.log().splitlines() if '"db.not_migrated"' in x]
    assert sorted(x["process"] for x in said) == ["scheduler", "worker"]
    assert all("nurture db upgrade" in x["hint"] for x in said)
