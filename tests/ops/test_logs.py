"""Structured logs from the API and the worker: ids carried, no addresses or bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.db import upgrade
from tests.conftest import midday_zone, use, wait_for
from tests.helpers import enroll, outbox, read_sms

AUTH = {"Authorization": "Bearer test-key"}


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines


def test_each_request_is_one_line_with_its_route_never_its_query(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(create_app())
    response = client.get(
        "/ops/search",
        params={"q": "secret.person@example.com"},
        headers={**AUTH, "X-Request-ID": "req-42"},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-42"
    client.get("/ops/contacts/12345", headers={**AUTH, "X-Request-ID": "bad id\nwith junk"})
    logged = capsys.readouterr().err
    assert "secret.person" not in logged
    requests = [line for line in _json_lines(logged) if line.get("event") == "http.request"]
    assert requests[0] | {"duration_ms": None, "timestamp": None} == {
        "event": "http.request",
        "method": "GET",
        "route": "/ops/search",
        "status": 200,
        "request_id": "req-42",
        "level": "info",
        "duration_ms": None,
        "timestamp": None,
    }
    assert requests[1]["route"] == "/ops/contacts/{contact_id}"  # the template, not the id
    assert requests[1]["status"] == 404
    assert requests[1]["request_id"] != "bad id\nwith junk" and len(requests[1]["request_id"]) == 16


@pytest.mark.slow
def test_worker_log_lines_carry_the_delivery_and_enrollment_ids(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    use(env, monkeypatch, broker_url=redis_url, dispatch_interval_s="0.5")
    upgrade()
    worker = start_worker()
    response = enroll(datetime.now(UTC), timezone=midday_zone(), concern="fast hip trouble")
    wait_for(lambda: len(outbox("sms")) == 1 and len(outbox("email")) == 1, timeout_s=90)
    wait_for(lambda: worker.log().count('"send.sent"') == 2, timeout_s=10, message="two sends")
    lines = _json_lines(worker.log())
    sends = [line for line in lines if str(line.get("event", "")).startswith("send.")]
    assert {line["event"] for line in sends} >= {"send.accepted", "send.sent"}
    enrollment_id = response["enrollment"]["id"]
    for line in sends:
        assert line["enrollment_id"] == enrollment_id, line
        assert isinstance(line["delivery_id"], int), line
    assert all(line.get("level") for line in lines)  # JSON through one renderer, Celery's too
    body = read_sms(outbox("sms")[0])["body"]
    for secret in (body[:30], "robin@example.com", "+16175550199", "hip trouble"):
        assert secret not in worker.log()
