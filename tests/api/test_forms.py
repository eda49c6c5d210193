"""The hosted form over HTTP: a person is enrolled, bots and other sites store nothing, and
mistakes come back with the input kept. On SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.config import get_settings
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import ConsentEvent, ConsultationRequest, Enrollment
from nurture.logs import configure_logging
from nurture.schedule import load_catalog
from nurture.schedule.form import form_wording
from tests.api.forms_helpers import (
    FORM,
    NOTHING,
    aged_token,
    hidden_fields,
    person,
    stored,
)
from tests.conftest import use

THANKS = "/forms/consultation/thanks"


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), client=("203.0.113.7", 50000)) as test_client:
        yield test_client


def form_fields(client: TestClient, **changes: str) -> dict[str, str]:
    """A person's answers with the hidden fields of a freshly served form, and a token as if
    the form had been served two minutes ago."""
    hidden = hidden_fields(client.get(FORM).text)
    return {**hidden, **person(**changes), "form_token": aged_token()}


def post(client: TestClient, fields: dict[str, str], **headers: str) -> httpx.Response:
    """Post the form; headers by keyword (`user_agent` is User-Agent)."""
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    return client.post(FORM, data=fields, headers=sent, follow_redirects=False)


def test_the_form_offers_each_concern_and_two_unticked_consent_boxes(client: TestClient) -> None:
    page = client.get(FORM)
    assert page.status_code == 200
    html = page.text
    assert "Benjamin Friction Therapy" in html
    values = re.findall(r'name="concern" value="([^"]+)"', html)
    assert "Outer hip pain" in values and values[-1] == "something-else"
    assert f'<label for="concern-{len(values)}">Something else</label>' in html
    boxes = re.findall(r'<input type="checkbox"[^>]*>', html)
    assert len(boxes) == 2 and not any("checked" in b for b in boxes)
    assert "Msg &amp; data rates may apply" in html and "Reply STOP to opt out" in html
    honeypot = re.search(r'<div class="hp" aria-hidden="true">.*?</div>', html, re.S)
    assert (
        honeypot
        and 'tabindex="-1"' in honeypot.group()
        and 'autocomplete="off"' in honeypot.group()
    )
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'<script nonce="{nonce.group(1)}">' in html
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert "unsafe-inline" not in csp
    assert not re.search(r'(src|href)="https?://', html.split("<footer>")[0]), "loads nothing"


def test_a_person_is_enrolled_in_the_sequence_of_their_concern_with_consent_evidence(
    client: TestClient, env: dict[str, str]
) -> None:
    fields = form_fields(client, timezone="America/Chicago")
    answer = post(
        client,
        fields,
        referer="https://nurture.test/forms/consultation",
        user_agent="Mozilla/5.0 (test)",
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == THANKS
    assert client.get(THANKS).status_code == 200
    wording = form_wording(load_catalog(Path(env["NURTURE_SCHEDULES_DIR"])))
    with session_scope() as s:
        enrollment = s.scalars(select(Enrollment)).one()
        assert enrollment.sequence_id == "hip-pain-consultation"
        assert enrollment.timezone == "America/Chicago"  # the browser's, over the phone's
        request = s.scalars(select(ConsultationRequest)).one()
        assert (request.source, request.concern) == ("form", "Outer hip pain")
        rows = {r.channel.value: r for r in s.scalars(select(ConsentEvent))}
    assert set(rows) == {"email", "sms"}
    for row in rows.values():
        assert row.action == "opt_in" and row.source == "form"
        assert row.wording_version == wording[row.channel].version
        assert row.page_url == "https://nurture.test/forms/consultation"
        assert (row.ip, row.user_agent) == ("203.0.113.7", "Mozilla/5.0 (test)")


def test_something_else_enrolls_in_the_default_sequence(client: TestClient) -> None:
    assert post(client, form_fields(client, concern="something-else")).status_code == 303
    with session_scope() as s:
        assert s.scalars(select(Enrollment)).one().sequence_id == "chronic-pain-default"


def test_unticked_boxes_record_no_consent_and_the_form_still_enrolls(client: TestClient) -> None:
    fields = form_fields(client)
    del fields["consent_email"], fields["consent_sms"]  # an unticked box is not sent at all
    assert post(client, fields).status_code == 303
    with session_scope() as s:
        rows = s.scalars(select(ConsentEvent)).all()
    assert sorted((r.channel.value, r.action) for r in rows) == [
        ("email", "opt_out"),
        ("sms", "opt_out"),
    ]


@pytest.mark.parametrize(
    ("reason", "change"),
    [
        ("honeypot", {"company_website": "https://cheap-pills.example"}),
        ("too_fresh", {"form_token": "FRESH"}),
        ("forged", {"form_token": aged_token(secret="not-the-secret")}),
        ("expired", {"form_token": aged_token(2 * 86400)}),
    ],
)
def test_a_bots_post_gets_the_same_thanks_and_stores_nothing(
    client: TestClient,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reason: str,
    change: dict[str, str],
) -> None:
    use(env, monkeypatch, form_min_fill_s="60")  # the served form's own token is too fresh
    fields = form_fields(client)
    if change.get("form_token") == "FRESH":
        change = {"form_token": hidden_fields(client.get(FORM).text)["form_token"]}
    fields.update(change)
    person_answer = post(client, form_fields(client, email="someone@example.com", phone=""))
    configure_logging(get_settings())  # JSON lines on the captured stderr
    capsys.readouterr()
    answer = post(client, fields)
    assert answer.status_code == person_answer.status_code == 303
    assert answer.headers["location"] == person_answer.headers["location"]
    assert stored()[1] == 1, "only the person's request is stored"
    out, err = capsys.readouterr()
    logged = [json.loads(line) for line in (out + err).splitlines() if '"form.' in line]
    assert {"event": "form.rejected", "reason": reason} in [
        {k: e[k] for k in ("event", "reason") if k in e} for e in logged
    ]
    assert not any("dana" in json.dumps(e).lower() for e in logged), "no field values logged"


def test_a_field_error_shows_the_form_again_with_the_input_kept(client: TestClient) -> None:
    fields = form_fields(client, first_name="", email="dana-at-example", message="Stairs hurt")
    answer = post(client, fields)
    assert answer.status_code == 422
    html = answer.text
    assert stored() == NOTHING
    assert 'value="dana-at-example"' in html and "Stairs hurt</textarea>" in html
    assert 'value="Outer hip pain" checked' in html
    assert 'id="consent_sms" name="consent_sms" value="yes" checked' in html
    assert re.search(r'id="first_name"[^>]*aria-describedby="first_name-error"', html)
    assert 'id="first_name-error"' in html and "Enter your first name." in html
    assert 'aria-describedby="reach-hint email-error" aria-invalid="true"' in html
    assert '<div class="summary" role="alert"' in html and 'href="#email"' in html
    assert hidden_fields(html)["form_token"] == fields["form_token"], "the token is kept"
    assert "company_website" in html and "cheap" not in html


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_the_sixth_post_from_one_client_gets_429_and_stores_nothing(
    client: TestClient,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    if backend == "redis":
        use(env, monkeypatch, broker_url=request.getfixturevalue("redis_url"))
    for n in range(1, 6):
        assert post(client, form_fields(client, **person(n))).status_code == 303, n
    before = stored()
    assert before[1] == 5
    sixth = post(client, form_fields(client, **person(6)))
    assert sixth.status_code == 429
    assert "try again in an hour" in sixth.text and sixth.headers["retry-after"] == "3600"
    assert stored() == before


def test_one_address_is_limited_across_clients(client: TestClient) -> None:
    for n in range(3):
        fields = form_fields(client, email="same@example.com", phone=f"(617) 555-{2000 + n}")
        assert post(client, fields).status_code == 303
    before = stored()
    fourth = post(client, form_fields(client, email="same@example.com", phone=""))
    assert fourth.status_code == 429
    assert stored() == before


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"referer": "https://evil.example/page"},
        {"origin": "null"},
    ],
)
def test_a_post_from_a_site_not_allowed_stores_nothing(
    client: TestClient,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
) -> None:
    use(env, monkeypatch, form_origins="https://clinic.example")
    answer = post(client, form_fields(client), **headers)
    assert answer.status_code == 403
    assert "cannot be sent from this website" in answer.text
    assert stored() == NOTHING


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://clinic.example"},
        {"referer": "https://clinic.example/contact"},
        {"origin": "https://nurture.test"},  # our own public URL
        {"origin": "http://testserver"},  # the request's own host
        {},
    ],
)
def test_our_own_and_the_clinics_listed_sites_may_post(
    client: TestClient,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
) -> None:
    use(env, monkeypatch, form_origins="https://clinic.example, https://www.clinic.example")
    assert post(client, form_fields(client), **headers).status_code == 303
    assert stored()[1] == 1


def test_the_clinics_sites_may_frame_the_form(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, form_origins="https://clinic.example")
    csp = client.get(FORM).headers["content-security-policy"]
    assert "frame-ancestors 'self' https://clinic.example" in csp


def test_a_pasted_form_without_a_token_is_shown_back_to_confirm_and_stores_nothing(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, form_min_fill_s="1")
    hidden = hidden_fields(client.get(FORM).text)
    fields = {**person(), **{k: v for k, v in hidden.items() if k != "form_token"}}
    confirm = post(client, fields, origin="http://testserver")
    assert confirm.status_code == 200
    assert stored() == NOTHING
    assert 'id="confirm"' in confirm.text and 'value="dana1@example.com"' in confirm.text
    again = hidden_fields(confirm.text)
    assert again["form_token"]
    fields["form_token"] = again["form_token"]
    time.sleep(1.2)  # at least the minimum fill time (here 1 s), as for the form itself
    assert post(client, fields).status_code == 303
    assert stored()[1] == 1


def test_a_form_served_before_the_wording_changed_is_confirmed_again(client: TestClient) -> None:
    fields = form_fields(client, consent_version_sms="0123456789ab")
    answer = post(client, fields)
    assert answer.status_code == 200
    assert "consent wording has changed" in answer.text
    assert stored() == NOTHING


def test_a_trusted_proxys_forwarded_client_is_the_one_limited_and_recorded(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, db: str
) -> None:
    use(env, monkeypatch, trusted_proxies="10.0.0.0/8", form_rate="2/h")
    with TestClient(create_app(), client=("10.1.2.3", 50000)) as proxied:
        for n in (1, 2):
            fwd = "198.51.100.9, 10.9.9.9"  # client, then an inner proxy
            assert (
                post(proxied, form_fields(proxied, **person(n)), x_forwarded_for=fwd).status_code
                == 303
            )
        # A third from the same client is over; another client behind the proxy is not.
        assert (
            post(
                proxied, form_fields(proxied, **person(3)), x_forwarded_for="198.51.100.9"
            ).status_code
            == 429
        )
        assert (
            post(
                proxied, form_fields(proxied, **person(4)), x_forwarded_for="192.0.2.44"
            ).status_code
            == 303
        )
    with session_scope() as s:
        ips = sorted({r.ip for r in s.scalars(select(ConsentEvent))})
    assert ips == ["192.0.2.44", "198.51.100.9"]


def test_a_forwarded_header_from_an_untrusted_peer_counts_for_nothing(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, form_rate="2/h")
    for n in (1, 2):
        assert (
            post(
                client, form_fields(client, **person(n)), x_forwarded_for=f"192.0.2.{n}"
            ).status_code
            == 303
        )
    assert (
        post(client, form_fields(client, **person(3)), x_forwarded_for="192.0.2.3").status_code
        == 429
    )
    with session_scope() as s:
        assert {r.ip for r in s.scalars(select(ConsentEvent))} == {"203.0.113.7"}


def test_the_token_endpoint_is_readable_only_by_the_clinics_sites(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, form_origins="https://clinic.example")
    allowed = client.get(FORM + "/token", headers={"origin": "https://clinic.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://clinic.example"
    assert allowed.json()["form_token"]
    other = client.get(FORM + "/token", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_the_api_path_keeps_working_with_its_key(client: TestClient) -> None:
    answer = client.post(
        "/v1/consultation-requests",
        json={"first_name": "Ann", "email": "ann@example.com", "concern": "hip"},
        headers={"Authorization": "Bearer test-key"},
    )
    assert answer.status_code == 201
    with session_scope() as s:
        row = s.scalars(select(ConsentEvent)).one()
    assert row.source == "api" and row.wording_version is None and row.ip == "203.0.113.7"


def test_new_wording_makes_a_new_version_and_earlier_rows_keep_theirs(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post(client, form_fields(client)).status_code == 303
    clinic = Path(env["NURTURE_SCHEDULES_DIR"]) / "clinic.yaml"
    clinic.write_text(
        clinic.read_text() + "consent:\n  email: Yes, {clinic} may email me about my request.\n"
    )
    use(env, monkeypatch)  # the API reads the schedules again
    assert post(client, form_fields(client, **person(2))).status_code == 303
    with session_scope() as s:
        rows = s.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    email = [r.wording_version for r in rows if r.channel.value == "email"]
    sms = [r.wording_version for r in rows if r.channel.value == "sms"]
    assert email[0] != email[1] and sms[0] == sms[1]
    wording = form_wording(load_catalog(clinic.parent))
    assert email[1] == wording[Channel.EMAIL].version
    assert "Yes, Benjamin Friction Therapy may email me about my request." in client.get(FORM).text


def test_the_clinics_logo_and_thank_you_page_are_used(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(env["NURTURE_SCHEDULES_DIR"])
    (folder / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    )
    clinic = folder / "clinic.yaml"
    clinic.write_text(
        clinic.read_text()
        + "thanks_url: https://clinic.example/thank-you\n"
        + 'brand: {colour: "#2d5016", accent: "#8a3b12", logo: logo.svg, logo_alt: BFT logo}\n'
    )
    use(env, monkeypatch)
    page = client.get(FORM)
    assert '<img src="/forms/consultation/logo" alt="BFT logo">' in page.text
    assert "--brand: #2d5016" in page.text
    assert "form-action 'self' https://clinic.example" in page.headers["content-security-policy"]
    logo = client.get("/forms/consultation/logo")
    assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/svg+xml")
    answer = post(client, form_fields(client))
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://clinic.example/thank-you"


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    fields = form_fields(client, message="x" * 70_000)
    assert post(client, fields).status_code == 413
    assert stored() == NOTHING
