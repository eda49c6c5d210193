"""Server-side sessions: signing out, idle and absolute timeouts, a disabled person, a new
role, a new password all take effect on the very next request."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.api.cookie import COOKIE_NAME
from nurture.api.deps import now_dep
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.people.accounts import disable_user, set_role
from nurture.people.actor import Actor
from nurture.people.roles import Role
from tests.people.conftest import Clock
from tests.support.people import PASSWORD, add_person, sign_in

HTML = {"Accept": "text/html"}


def test_after_signing_out_the_old_cookie_is_refused(app_client: TestClient) -> None:
    add_person(None, "ann@example.com", "viewer")
    csrf = sign_in(app_client, "ann@example.com")
    cookie = app_client.cookies[COOKIE_NAME]
    assert app_client.get("/ops/status").status_code == 200
    out = app_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login")
    app_client.cookies.set(COOKIE_NAME, cookie)  # a copy kept by whoever had it
    assert app_client.get("/ops/status").status_code == 401
    page = app_client.get("/ops", headers=HTML)
    assert page.status_code == 401 and 'action="/login"' in page.text


def test_signing_out_needs_the_csrf_token(app_client: TestClient) -> None:
    add_person(None, "ann@example.com", "viewer")
    sign_in(app_client, "ann@example.com")
    assert app_client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert app_client.get("/ops/status").status_code == 200


def test_a_session_ends_after_the_idle_timeout(app_client: TestClient, clock: Clock) -> None:
    add_person(None, "ann@example.com", "viewer")
    sign_in(app_client, "ann@example.com")
    clock.advance(minutes=29)
    assert app_client.get("/ops/status").status_code == 200  # use keeps it alive
    clock.advance(minutes=29)
    assert app_client.get("/ops/status").status_code == 200
    clock.advance(minutes=31)
    assert app_client.get("/ops/status").status_code == 401
    clock.advance(seconds=-3600)  # ended for good, whatever the clock says next
    assert app_client.get("/ops/status").status_code == 401


def test_a_session_ends_after_the_longest_time_however_busy(
    app_client: TestClient, clock: Clock
) -> None:
    add_person(None, "ann@example.com", "viewer")
    sign_in(app_client, "ann@example.com")
    signed_in_at = clock.now
    while app_client.get("/ops/status").status_code == 200:
        clock.advance(minutes=15)
        assert clock.now - signed_in_at <= timedelta(hours=13)
    assert clock.now - signed_in_at > timedelta(hours=12)


def test_a_disabled_persons_open_session_is_refused_on_the_next_request(
    app_client: TestClient,
) -> None:
    add_person(None, "ann@example.com", "front-desk")
    sign_in(app_client, "ann@example.com")
    assert app_client.get("/ops/status").status_code == 200
    with session_scope() as db:
        disable_user(db, "ann@example.com", by=Actor.cli(), now=utcnow())
    assert app_client.get("/ops/status").status_code == 401
    again = app_client.post(
        "/login", data={"email": "ann@example.com", "password": PASSWORD}, follow_redirects=False
    )
    assert again.status_code == 401


def test_a_new_role_applies_from_the_next_request(app_client: TestClient) -> None:
    add_person(None, "ann@example.com", "manager")
    sign_in(app_client, "ann@example.com")
    assert app_client.get("/ops/results").status_code == 200
    with session_scope() as db:
        set_role(db, "ann@example.com", Role.VIEWER, by=Actor.cli(), now=utcnow())
    refused = app_client.get("/ops/results")
    assert refused.status_code == 403
    assert refused.json()["role_needed"] == "manager"


def test_changing_the_password_ends_the_persons_other_sessions(db: str, clock: Clock) -> None:
    add_person(None, "ann@example.com", "viewer")
    app = create_app()
    app.dependency_overrides[now_dep] = lambda: clock.now
    with (
        TestClient(app, base_url="https://testserver") as laptop,
        TestClient(app, base_url="https://testserver") as phone,
    ):
        csrf = sign_in(laptop, "ann@example.com")
        sign_in(phone, "ann@example.com")
        new = "a different long passphrase"
        changed = laptop.post(
            "/account/password",
            data={"csrf_token": csrf, "current": PASSWORD, "password": new, "again": new},
            follow_redirects=False,
        )
        assert changed.status_code == 303
        assert laptop.get("/ops/status").status_code == 200
        assert phone.get("/ops/status").status_code == 401
        sign_in(phone, "ann@example.com", new)


def test_the_cookie_is_secure_httponly_and_strict(app_client: TestClient) -> None:
    add_person(None, "ann@example.com", "viewer")
    response = app_client.post(
        "/login", data={"email": "ann@example.com", "password": PASSWORD}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    assert response.headers["location"] == "/today"
