"""Signing in: invitations, wrong passwords (throttled per account and per IP, 429 saying
when), two-step codes and recovery codes, the first run, and every attempt in the audit trail."""

from __future__ import annotations

import re

import pyotp
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from nurture.db import get_engine, session_scope
from nurture.db.tables import AuditRow
from nurture.people import credentials
from nurture.people.accounts import add_user
from nurture.people.actor import Actor
from nurture.people.roles import Role
from tests.conftest import use
from tests.people.conftest import Clock
from tests.support.people import PASSWORD, add_person, csrf_of, sign_in

SQLITE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def _try(client: TestClient, email: str, password: str, code: str = "") -> int:
    response = client.post(
        "/login",
        data={"email": email, "password": password, "code": code},
        follow_redirects=False,
    )
    return response.status_code


def _audit() -> list[tuple[str, str, str | None]]:
    with get_engine().connect() as conn:
        rows = conn.execute(
            sa.select(AuditRow.action, AuditRow.actor_name, AuditRow.actor_kind).order_by(
                AuditRow.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_an_invitation_sets_the_password_once(app_client: TestClient, clock: Clock) -> None:
    with session_scope() as db:
        invited = add_user(
            db, "Ann@Example.com", Role.MANAGER, name="Ann", by=Actor.cli(), now=clock.now
        )
    url = f"/invite/{invited.token}"
    form = app_client.get(url)
    assert form.status_code == 200 and "ann@example.com" in form.text
    short = app_client.post(url, data={"password": "short", "again": "short"})
    assert short.status_code == 422 and "at least 12 characters" in short.text
    done = app_client.post(
        url, data={"password": PASSWORD, "again": PASSWORD}, follow_redirects=False
    )
    assert done.status_code == 303
    assert app_client.get(url).status_code == 410  # single use
    sign_in(app_client, "ann@example.com")
    assert ("password-changed", "ann@example.com", "person") in _audit()


def test_an_invitation_expires_after_72_hours(app_client: TestClient, clock: Clock) -> None:
    with session_scope() as db:
        invited = add_user(
            db, "ann@example.com", Role.VIEWER, name="", by=Actor.cli(), now=clock.now
        )
    clock.advance(hours=72, seconds=1)
    page = app_client.get(f"/invite/{invited.token}")
    assert page.status_code == 410 and "expired" in page.text


@SQLITE
def test_wrong_passwords_are_throttled_per_account_with_a_retry_after(
    app_client: TestClient, clock: Clock
) -> None:
    add_person(None, "ann@example.com", "viewer")
    for _ in range(5):
        assert _try(app_client, "ann@example.com", "wrong password!") == 401
    refused = app_client.post("/login", data={"email": "ann@example.com", "password": PASSWORD})
    assert refused.status_code == 429  # even the right password waits
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert "Try again in 15 minutes" in refused.text
    clock.advance(minutes=15, seconds=1)
    assert _try(app_client, "ann@example.com", PASSWORD) == 303
    failed = [row for row in _audit() if row[0] == "sign-in-failed"]
    assert failed == [("sign-in-failed", "ann@example.com", "person")] * 5


@SQLITE
def test_wrong_passwords_are_throttled_per_ip_across_accounts(app_client: TestClient) -> None:
    add_person(None, "bob@example.com", "viewer")
    for n in range(5):
        assert _try(app_client, f"guess{n}@example.com", "wrong password!") == 401
    assert _try(app_client, "bob@example.com", PASSWORD) == 429


@SQLITE
def test_an_unknown_email_is_refused_like_a_wrong_password(app_client: TestClient) -> None:
    add_person(None, "ann@example.com", "viewer")
    unknown = app_client.post("/login", data={"email": "nobody@example.com", "password": PASSWORD})
    wrong = app_client.post("/login", data={"email": "ann@example.com", "password": "x" * 12})
    assert unknown.status_code == wrong.status_code == 401
    said = re.compile(r'id="error">([^<]*)<')
    assert said.search(unknown.text).group(1) == said.search(wrong.text).group(1)  # type: ignore[union-attr]


@SQLITE
def test_two_step_sign_in_asks_for_the_code_and_takes_a_recovery_code_once(
    app_client: TestClient, clock: Clock
) -> None:
    add_person(None, "ann@example.com", "owner")
    csrf = sign_in(app_client, "ann@example.com")
    start = app_client.post("/account/totp/start", data={"csrf_token": csrf})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', start.text).group(1)  # type: ignore[union-attr]
    assert f"otpauth://totp/nurture:ann%40example.com?secret={secret}" in start.text
    wrong = app_client.post(
        "/account/totp", data={"csrf_token": csrf, "secret": secret, "code": "000000"}
    )
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret).at(clock.now)
    on = app_client.post("/account/totp", data={"csrf_token": csrf, "secret": secret, "code": code})
    codes = re.findall(r"<li>([0-9a-f]{6}-[0-9a-f]{6})</li>", on.text)
    assert len(codes) == 10
    app_client.post("/logout", data={"csrf_token": csrf_of(on.text)})

    asked = app_client.post("/login", data={"email": "ann@example.com", "password": PASSWORD})
    assert asked.status_code == 401 and "6-digit code" in asked.text
    clock.advance(minutes=2)
    assert _try(app_client, "ann@example.com", PASSWORD, "123456") == 401
    assert _try(app_client, "ann@example.com", PASSWORD, pyotp.TOTP(secret).at(clock.now)) == 303
    app_client.cookies.clear()
    assert _try(app_client, "ann@example.com", PASSWORD, codes[0]) == 303
    app_client.cookies.clear()
    assert _try(app_client, "ann@example.com", PASSWORD, codes[0]) == 401  # used up


@SQLITE
def test_owners_must_turn_on_two_step_sign_in_when_the_clinic_says_so(
    app_client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_person(None, "ann@example.com", "owner")
    use(env, monkeypatch, owner_totp="true")
    sign_in(app_client, "ann@example.com")
    sent = app_client.get("/ops", headers={"Accept": "text/html"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/account")
    assert "asks every owner to turn on two-step sign-in" in app_client.get("/account").text


@SQLITE
def test_with_nobody_yet_the_sign_in_page_says_how_to_create_the_owner(
    app_client: TestClient,
) -> None:
    page = app_client.get("/login")
    assert "nurture users add you@clinic.example --role owner" in page.text
    assert 'name="password"' not in page.text
    old = app_client.get("/ops/login", follow_redirects=False)
    assert old.status_code == 303 and old.headers["location"].startswith("/login")


def test_a_viewer_is_refused_an_action_with_the_role_it_needs(app_client: TestClient) -> None:
    add_person(None, "vic@example.com", "viewer")
    csrf = sign_in(app_client, "vic@example.com")
    html = app_client.post(
        "/ops/deliveries/1/retry",
        data={"csrf_token": csrf},
        headers={"Accept": "text/html"},
    )
    assert html.status_code == 403
    assert (
        "To retry, cancel or resolve a delivery you need the manager role or higher." in html.text
    )
    assert 'id="your-role">viewer<' in html.text
    as_json = app_client.post("/ops/deliveries/1/retry", data={"csrf_token": csrf})
    assert as_json.json()["role_needed"] == "manager"


def test_nurture_hashes_passwords_with_argon2id_at_the_rfc_9106_low_memory_cost() -> None:
    """Tests hash at the lowest cost (tests/conftest.py); what nurture ships is Argon2id with
    64 MiB, 3 passes and 4 lanes, and a stored hash of a lower cost is replaced at sign-in."""
    from tests.conftest import PRODUCTION_HASHER

    stored = PRODUCTION_HASHER.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    cheap = credentials._hasher.hash(PASSWORD)
    assert PRODUCTION_HASHER.check_needs_rehash(cheap)
    assert PRODUCTION_HASHER.verify(stored, PASSWORD)
