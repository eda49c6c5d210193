"""Hostile input: markup and SQL in names, sandbox escapes, missing keys, huge bodies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from nurture.api import create_app
from nurture.api.deps import now_dep
from nurture.db import session_scope
from nurture.db.tables import Contact
from nurture.dispatch.tick import dispatch_tick
from nurture.send.pipeline import send_delivery
from tests.conftest import ROOT
from tests.helpers import at, outbox, read_email, read_sms, send_context

AUTH = {"Authorization": "Bearer test-key"}
NASTY_NAMES = [
    "<script>alert(1)</script>",
    "Robert'); DROP TABLE contacts;--",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
]
#: The API's clock and the sends': midday on a Monday, so SMS quiet hours never hold them
#: whatever the hour the tests run at.
T0 = at("2026-03-02 12:00")


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[now_dep] = lambda: T0
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_markup_and_sql_in_a_name_are_stored_verbatim_and_escaped_in_html(
    client: TestClient, name: str
) -> None:
    response = client.post(
        "/v1/consultation-requests",
        json={
            "first_name": name,
            "email": "x@example.com",
            "phone": "+16175550100",
            "concern": "fast",
            "timezone": "Etc/UTC",
        },
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    with session_scope() as s:
        assert s.scalar(select(Contact.first_name)) == name
        assert s.scalar(select(func.count()).select_from(Contact)) == 1
        assert s.execute(text("SELECT count(*) FROM contacts")).scalar() == 1
        tick = dispatch_tick(s, now=T0, batch=10, lease=timedelta(seconds=60))
    ctx = send_context()
    for delivery_id in tick.claimed:
        send_delivery(ctx, delivery_id, now=T0)
    html = read_email(outbox("email")[0]).get_body(("html",)).get_content()  # type: ignore[union-attr]
    if "<" in name:
        assert name not in html
        assert "&lt;" in html
    assert "49" not in read_sms(outbox("sms")[0])["body"], "names are data, not templates"


@pytest.mark.parametrize(
    "path",
    ["/v1/consultation-requests"],
)
def test_every_v1_endpoint_needs_the_key(client: TestClient, path: str) -> None:
    assert client.post(path, json={}).status_code == 401
    assert client.post(path, json={}, headers={"Authorization": "Bearer "}).status_code == 401


def test_a_chunked_oversized_body_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"first_name": "A", "message": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/v1/consultation-requests",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ self.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_validate_refuses_a_template_that_tries_to_escape_the_sandbox(
    env: dict[str, str], tmp_path: Path, payload: str
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "hip-pain" / "booking.sms.j2").write_text(payload)
    result = subprocess.run(
        [sys.executable, "-m", "nurture", "validate"],
        env={**os.environ, **env, "NURTURE_TEMPLATES_DIR": str(templates)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "hip-pain/booking.sms.j2" in result.stderr
    assert "Traceback" not in result.stderr
    assert "uid=" not in result.stdout + result.stderr
