"""Forwarded headers (`X-Forwarded-For`, `-Proto`, `-Host`, `-Port`, `Forwarded`,
`X-Real-IP`...) count only from a peer in NURTURE_TRUSTED_PROXIES: in the app, and in every
way nurture is served (`nurture api`, `--workers 2`, `nurture run`), where uvicorn would
otherwise believe them from 127.0.0.1 itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.api.proxies import ForwardedHeaders
from nurture.config import parse_networks
from nurture.db import session_scope, upgrade
from nurture.db.tables import ConsentEvent, ConsultationRequest
from tests.conftest import ROOT, ApiProcess, use
from tests.support.people import PASSWORD, add_person

AUTH = {"Authorization": "Bearer test-key"}
SIGN_IN = {"email": "manager@example.com", "password": PASSWORD}
FORGED = "203.0.113.66"
#: What anyone may send to name another client, scheme, host or port.
FORWARDED_HEADERS = {
    "X-Forwarded-For": FORGED,
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Port": "8443",
    "Forwarded": f"for={FORGED};proto=http;host=evil.example",
    "X-Real-IP": FORGED,
    "True-Client-IP": FORGED,
    "CF-Connecting-IP": FORGED,
}


def request_body(n: int) -> dict[str, str]:
    return {
        "first_name": "Ada",
        "email": f"ada{n}@example.com",
        "phone": f"+1617555{n:04d}",
        "concern": "fast",
        "timezone": "Etc/UTC",
    }


def recorded_ips() -> set[str | None]:
    """Every client address the requests and the consent ledger recorded."""
    with session_scope() as s:
        return set(s.scalars(select(ConsultationRequest.ip))) | set(
            s.scalars(select(ConsentEvent.ip))
        )


def session_cookie(response: httpx.Response) -> str:
    cookie = response.headers.get("set-cookie", "")
    assert cookie.startswith("nurture_ops="), response.text
    return cookie.lower()


# --- in the app -------------------------------------------------------------------------


@pytest.fixture
def loopback_client(db: str) -> Iterator[TestClient]:
    """The API as a peer on 127.0.0.1 reaches it: a local proxy, or anyone on the machine."""
    add_person(None, SIGN_IN["email"], "manager")
    with TestClient(create_app(), client=("127.0.0.1", 40000)) as client:
        yield client


def test_no_forwarded_header_from_an_untrusted_peer_names_the_client(
    loopback_client: TestClient,
) -> None:
    for n, (name, value) in enumerate(FORWARDED_HEADERS.items()):
        response = loopback_client.post(
            "/v1/consultation-requests", json=request_body(n), headers={**AUTH, name: value}
        )
        assert response.status_code == 201, (name, response.text)
    assert recorded_ips() == {"127.0.0.1"}


def test_a_forged_forwarded_proto_does_not_take_the_secure_flag_off_the_session_cookie(
    loopback_client: TestClient,
) -> None:
    login = loopback_client.post(
        "/login",
        data=SIGN_IN,
        headers={"X-Forwarded-Proto": "http", "Forwarded": "proto=http"},
        follow_redirects=False,
    )
    assert login.status_code == 303
    assert "; secure" in session_cookie(login), "PUBLIC_URL is https: the cookie is Secure"


def test_on_a_plain_http_public_url_the_cookie_follows_a_trusted_proxys_proto(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, db: str
) -> None:
    use(env, monkeypatch, public_url="http://127.0.0.1:8000", trusted_proxies="10.0.0.0/8")
    add_person(None, SIGN_IN["email"], "manager")
    with TestClient(create_app(), client=("127.0.0.1", 40000)) as direct:
        forged = direct.post(
            "/login",
            data=SIGN_IN,
            headers={"X-Forwarded-Proto": "https"},
            follow_redirects=False,
        )
    with TestClient(create_app(), client=("10.1.2.3", 40000)) as proxied:
        told = proxied.post(
            "/login",
            data=SIGN_IN,
            headers={"X-Forwarded-Proto": "https"},
            follow_redirects=False,
        )
    assert "secure" not in session_cookie(forged)
    assert "; secure" in session_cookie(told)


def test_a_trusted_proxy_names_the_client_from_the_right_of_x_forwarded_for(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, db: str
) -> None:
    use(env, monkeypatch, trusted_proxies="10.0.0.0/8")
    with TestClient(create_app(), client=("10.0.0.7", 40000)) as proxied:
        response = proxied.post(
            "/v1/consultation-requests",
            json=request_body(1),
            # The leftmost entry is whatever the client wrote; the proxy appended the rest.
            headers={**AUTH, "X-Forwarded-For": "192.0.2.1, 198.51.100.23, 10.0.0.9"},
        )
    assert response.status_code == 201, response.text
    assert recorded_ips() == {"198.51.100.23"}


@pytest.mark.parametrize("peer", ["10.0.0.7", "192.0.2.50"], ids=["trusted", "untrusted"])
def test_no_forwarded_header_reaches_anything_behind_the_middleware(peer: str) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {
        "type": "http",
        "client": (peer, 1234),
        "scheme": "http",
        "headers": [
            (name.lower().encode(), value.encode()) for name, value in FORWARDED_HEADERS.items()
        ]
        + [(b"x-forwarded-for", b"198.51.100.1"), (b"user-agent", b"test")],
    }
    import asyncio

    asyncio.run(ForwardedHeaders(app, trusted=parse_networks("10.0.0.0/8"))(scope, None, None))
    assert seen["headers"] == [(b"user-agent", b"test")]
    if peer == "10.0.0.7":
        assert seen["client"] == ("198.51.100.1", 0) and seen["scheme"] == "http"
    else:
        assert seen["client"] == (peer, 1234)


# --- in every way nurture is served -----------------------------------------------------

SERVED = {
    "api": ("api",),
    "api --workers 2": ("api", "--workers", "2"),
    "run": ("run",),
}


@pytest.mark.slow
@pytest.mark.timeout(600)  # several processes start; a loaded machine takes minutes
@pytest.mark.parametrize("command", SERVED.values(), ids=SERVED.keys())
def test_a_served_nurture_believes_no_forwarded_header_from_loopback(
    env: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    upgrade()
    add_person(None, SIGN_IN["email"], "manager")
    api = ApiProcess(env, tmp_path / "api.log", command=command)
    try:
        api.start(timeout_s=480)
        with httpx.Client(base_url=api.base, timeout=30) as http:
            for n in range(2):  # with --workers 2, likely both processes
                response = http.post(
                    "/v1/consultation-requests",
                    json=request_body(n),
                    headers={**AUTH, **FORWARDED_HEADERS},
                )
                assert response.status_code == 201, response.text
            login = http.post(
                "/login",
                data=SIGN_IN,
                headers={"X-Forwarded-Proto": "http"},
                follow_redirects=False,
            )
    finally:
        api.stop()
    assert recorded_ips() == {"127.0.0.1"}, api.log()
    assert "; secure" in session_cookie(login)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_served_nurture_believes_a_trusted_proxy(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(env, monkeypatch, trusted_proxies="127.0.0.1")
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log")
    try:
        api.start(timeout_s=480)
        response = httpx.post(
            f"{api.base}/v1/consultation-requests",
            json=request_body(1),
            headers={**AUTH, "X-Forwarded-For": FORGED},
            timeout=30,
        )
    finally:
        api.stop()
    assert response.status_code == 201, response.text
    assert recorded_ips() == {FORGED}


def test_every_shipped_way_of_serving_http_goes_through_nurture_api() -> None:
    """The Docker image and docker-compose serve with `nurture api` (whose uvicorn reads no
    forwarded header), never with a bare uvicorn or gunicorn of their own."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd and yaml.safe_load(cmd.group(1))[:2] == ["nurture", "api"]
    commands = [s.get("command") or [] for s in compose["services"].values()]
    assert ["nurture", "api"] in [c[:2] for c in commands]
    for command in [*commands, dockerfile]:
        assert "uvicorn" not in str(command) and "gunicorn" not in str(command)
