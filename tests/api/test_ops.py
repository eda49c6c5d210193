"""`/ops` and `/ops/status`: behind the key or a person's session, CSRF on every action."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.api.cookie import COOKIE_NAME
from nurture.core.states import DeliveryStatus
from nurture.db import session_scope
from nurture.ops.status import collect_status
from tests.ops_helpers import ids_of, rows, seed_now, status_of
from tests.support.people import PASSWORD, add_person, sign_in

AUTH = {"Authorization": "Bearer test-key"}


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    # https, as PUBLIC_URL: the session cookie is Secure, so a browser returns it over https only.
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client


def _login(client: TestClient) -> str:
    """Sign in as a manager through the form; returns the session's CSRF token."""
    add_person(None, "manager@example.com", "manager")
    return sign_in(client, "manager@example.com")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _first(state: DeliveryStatus) -> int:
    return next(d.id for d in rows() if d.status is state)


def test_ops_status_needs_the_key(client: TestClient) -> None:
    response = client.get("/ops/status")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    bad = client.get("/ops/status", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_ops_status_is_the_database_figures_as_json(client: TestClient) -> None:
    seed_now()
    response = client.get("/ops/status", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    for key in ("deliveries", "due_now", "oldest_overdue_s", "next_24h", "workers"):
        assert key in body
    assert "scheduler_heartbeat_age_s" in body
    with session_scope() as s:
        expected = collect_status(s, now=datetime.fromisoformat(body["now"]))
    assert {k: body[k] for k in expected} == expected
    assert body["healthy"] is False and body["problems"]


def test_the_page_without_a_session_is_a_401_sign_in_form(client: TestClient) -> None:
    add_person(None, "manager@example.com", "manager")
    response = client.get("/ops", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert 'action="/login"' in response.text and 'name="password"' in response.text
    assert "Failed" not in response.text


def test_a_wrong_password_is_refused_without_a_cookie(client: TestClient) -> None:
    add_person(None, "manager@example.com", "manager")
    response = client.post(
        "/login",
        data={"email": "manager@example.com", "password": "not the password"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "do not match an account" in response.text
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")


def test_signing_in_sets_an_http_only_strict_cookie_and_returns_to_the_page(
    client: TestClient,
) -> None:
    add_person(None, "manager@example.com", "manager")
    response = client.post(
        "/login",
        data={"email": "manager@example.com", "password": PASSWORD, "next": "/ops/search?q=x"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/ops/search?q=x"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/;", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), attribute
    assert client.get("/ops").status_code == 200


def test_a_tampered_cookie_is_not_a_session(client: TestClient) -> None:
    _login(client)
    value = client.cookies[COOKIE_NAME]
    client.cookies.clear()  # the tampered cookie replaces it, rather than riding beside it
    client.cookies.set(COOKIE_NAME, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/ops").status_code == 401


def test_sign_in_never_redirects_off_site(client: TestClient) -> None:
    add_person(None, "manager@example.com", "manager")
    for target in ("https://evil.example/", "//evil.example/ops", "/ops\\@evil"):
        client.cookies.clear()
        response = client.post(
            "/login",
            data={"email": "manager@example.com", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/today", target


def test_the_dashboard_shows_the_figures_and_the_deliveries_to_act_on(client: TestClient) -> None:
    seed_now()
    html = client.get("/ops", headers=AUTH).text
    with session_scope() as s:
        from nurture.core.clock import utcnow

        figures = collect_status(s, now=utcnow())
    for key in ("due_now", "next_24h", "failed", "unknown", "paused"):
        assert f'data-figure="{key}" data-value="{figures[key]}"' in html, key
    for state, count in figures["deliveries"].items():
        assert f'data-state="{state}">{count}<' in html, state
    for d in rows():
        if d.status in (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN):
            assert f'data-delivery-id="{d.id}"' in html
    assert html.count('data-action="resolve-sent"') == figures["unknown"]
    assert 'data-live-s="15"' in html and "http-equiv" not in html


def test_pages_forbid_framing_scripts_and_caching(client: TestClient) -> None:
    response = client.get("/ops/search?q=x", headers=AUTH)
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    # The dashboard runs one script: ours, from a file, never inline.
    dashboard = client.get("/ops", headers=AUTH).headers["content-security-policy"]
    assert "script-src 'self';" in dashboard and "unsafe-inline" not in dashboard.split("script")[1]


def test_an_action_without_the_csrf_token_changes_nothing(client: TestClient) -> None:
    seed_now()
    _login(client)
    failed = _first(DeliveryStatus.FAILED)
    response = client.post(f"/ops/deliveries/{failed}/retry", data={"csrf_token": "0" * 64})
    assert response.status_code == 403
    assert client.post(f"/ops/deliveries/{failed}/retry").status_code == 403
    assert status_of(failed) is DeliveryStatus.FAILED


def test_retry_from_the_page_schedules_a_failed_delivery_again(client: TestClient) -> None:
    seed_now()
    csrf = _login(client)
    failed = _first(DeliveryStatus.FAILED)
    response = client.post(
        f"/ops/deliveries/{failed}/retry",
        data={"csrf_token": csrf, "next": "/ops"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/ops?done=retried&id={failed}"
    assert status_of(failed) is DeliveryStatus.SCHEDULED
    page = client.get(response.headers["location"]).text
    assert f"Delivery {failed} will be sent again" in page


def test_resolve_and_cancel_from_the_page(client: TestClient) -> None:
    seed_now()
    csrf = _login(client)
    first, second = [d.id for d in rows() if d.status is DeliveryStatus.UNKNOWN]
    client.post(f"/ops/deliveries/{first}/resolve", data={"csrf_token": csrf, "sent": "true"})
    client.post(f"/ops/deliveries/{second}/resolve", data={"csrf_token": csrf, "sent": "false"})
    assert (status_of(first), status_of(second)) == (DeliveryStatus.SENT, DeliveryStatus.FAILED)
    client.post(f"/ops/deliveries/{second}/cancel", data={"csrf_token": csrf})
    assert status_of(second) is DeliveryStatus.CANCELED


def test_an_action_that_does_not_fit_the_state_says_why(client: TestClient) -> None:
    seed_now()
    csrf = _login(client)
    sent = _first(DeliveryStatus.SENT)
    response = client.post(f"/ops/deliveries/{sent}/retry", data={"csrf_token": csrf})
    assert response.status_code == 409
    assert f"delivery {sent} is sent; only failed, unknown" in response.text
    missing = client.post("/ops/deliveries/999999/cancel", data={"csrf_token": csrf})
    assert missing.status_code == 404 and "no delivery 999999" in missing.text
    undecided = client.post(f"/ops/deliveries/{sent}/resolve", data={"csrf_token": csrf})
    assert undecided.status_code == 422


def test_scripts_act_with_the_bearer_key_and_get_json(client: TestClient) -> None:
    seed_now()
    failed = _first(DeliveryStatus.FAILED)
    response = client.post(f"/ops/deliveries/{failed}/cancel", headers=AUTH)
    assert response.json() == {"id": failed, "status": "canceled", "done": "canceled"}


def test_search_finds_prospects_by_email_or_phone(client: TestClient) -> None:
    seeded = seed_now()[1]
    contact_id = seeded.failed["enrollment"]["contact_id"]  # type: ignore[index]
    for query in ("failed@example", "FAILED@EXAMPLE.COM", "(617) 555-0001", "5550001"):
        html = client.get("/ops/search", params={"q": query}, headers=AUTH).text
        assert re.findall(r'data-contact-id="(\d+)"', html) == [str(contact_id)], query
    html = client.get("/ops/search", params={"q": "nobody@nowhere"}, headers=AUTH).text
    assert 'id="no-results"' in html


def test_the_contact_page_shows_request_consent_and_each_deliverys_timeline(
    client: TestClient,
) -> None:
    seeded = seed_now()[1]
    contact_id = seeded.unknown["enrollment"]["contact_id"]  # type: ignore[index]
    html = client.get(f"/ops/contacts/{contact_id}", headers=AUTH).text
    assert "unknown@example.com" in html
    assert html.count("opt_in") == 2  # email and sms consent from the request
    for delivery_id in ids_of(seeded.unknown):
        assert f'data-delivery-id="{delivery_id}"' in html
    first = ids_of(seeded.unknown)[0]
    row = html.split(f'data-delivery-id="{first}"')[1].split("</tr>")[0]
    events = re.findall(r'data-event-status="(\w+)"', row)
    assert events == ["queued", "unknown"]  # claimed, then the ambiguous timeout
    assert "timeout: read timeout" in row
    assert client.get("/ops/contacts/999999", headers=AUTH).status_code == 404


def test_logging_out_ends_the_session(client: TestClient) -> None:
    csrf = _login(client)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/ops").status_code == 401
