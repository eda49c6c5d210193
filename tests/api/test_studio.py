"""`/studio`: the clinic's pages behind the same login as `/ops`, previews from the send
path, and test sends that touch no prospect's rows or metrics."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nurture.api import create_app
from nurture.api.deps import now_dep
from nurture.api.studio import testsend
from nurture.config import get_settings
from nurture.content.samples import SAMPLES
from nurture.core.keys import TEST_SEND_RATE_KEY
from nurture.db import session_scope
from nurture.db.tables import Base
from nurture.logs import configure_logging
from tests.conftest import ROOT, use
from tests.helpers import outbox, read_email, read_sms
from tests.support.people import add_person, sign_in

# The studio's pages read and write drafts through the ORM only; what differs between the
# databases (row locks, the publish lock) is tested on both in tests/edit/test_drafts.py and
# test_publish.py. These run on SQLite alone.
pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)

AUTH = {"Authorization": "Bearer test-key"}
HIP = "hip-pain-consultation"
SEND = f"/studio/sequences/{HIP}/steps/self-test/test-send"


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    testsend._limiter.cache_clear()
    # https, as PUBLIC_URL: the session cookie is Secure, so a browser returns it over https only.
    with TestClient(create_app(), base_url="https://testserver") as test_client:
        yield test_client
    testsend._limiter.cache_clear()


def table_counts() -> dict[str, int]:
    """Rows in every table of the schema but the audit trail's (a test send is audited)."""
    with session_scope() as session:
        return {
            name: session.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
            if not name.startswith("audit_")
        }


def send_metrics(client: TestClient) -> list[str]:
    """The Prometheus lines that count prospects' sends."""
    text = client.get("/metrics").text
    return sorted(
        line
        for line in text.splitlines()
        if line.startswith(("nurture_sends", "nurture_provider_errors", "nurture_send_lateness"))
    )


def login(client: TestClient) -> str:
    """Sign in as a manager; the studio page hands out the same session's CSRF."""
    add_person(None, "manager@example.com", "manager")
    sign_in(client, "manager@example.com")
    match = re.search(
        r'name="csrf_token" value="([0-9a-f]{64})"', client.get(f"/studio/sequences/{HIP}").text
    )
    assert match, "no CSRF token on the sequence page"
    return match.group(1)


def test_the_studio_lists_every_sequence_with_its_match_steps_channels_and_state(
    client: TestClient,
) -> None:
    response = client.get("/studio", headers=AUTH)
    assert response.status_code == 200
    html = response.text
    for sequence_id in (HIP, "chronic-pain-default", "fast"):
        assert f'data-sequence="{sequence_id}"' in html
    section = html.split(f'data-sequence="{HIP}"')[1].split("</section>")[0]
    assert 'data-state="warnings"' in section  # the shipped files still hold CHANGE-ME
    assert "&#39;gluteus medius&#39;" in section  # what it matches
    for step in ("doctor-first", "self-test", "exercise-videos", "booking"):
        assert f'data-step="{step}"' in section
    assert section.count('<span class="chip">sms</span>') == 4


def test_a_sequence_page_shows_each_email_framed_and_each_sms_with_its_segments(
    client: TestClient,
) -> None:
    html = client.get(f"/studio/sequences/{HIP}", headers=AUTH).text
    frames = re.findall(r"<iframe sandbox=\"\"[^>]*src=\"([^\"]+)\"", html)
    assert len(frames) == 4
    assert all(f.endswith("/preview.html?sample=email-and-phone") for f in frames)
    assert html.count('data-segments="') == 4 and 'data-encoding="GSM-7"' in html
    assert 'id="times"' in html and html.count("<tr data-step=") == 8
    assert "not contact.booked" in html  # the booking step's `when`
    assert 'id="w-self-test-phone"' in html  # the width switch, no script
    assert "<script" not in html


def test_a_long_non_ascii_name_makes_the_sms_ucs2(client: TestClient) -> None:
    html = client.get(f"/studio/sequences/{HIP}?sample=long-non-ascii-name", headers=AUTH).text
    assert 'data-encoding="UCS-2"' in html
    assert "Anastasía-Zoë" in html


def test_the_preview_is_the_email_as_handed_to_the_provider_and_runs_no_script(
    client: TestClient,
) -> None:
    url = f"/studio/sequences/{HIP}/steps/self-test/preview.html?sample=florida"
    response = client.get(url, headers=AUTH)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    html = response.text
    assert "Jordan" in html and "https://nurture.test/u/" in html  # sample, unsubscribe link
    assert "<style" not in html and 'style="' in html  # CSS inlined


def test_the_preview_matches_what_a_test_send_hands_the_channel(client: TestClient) -> None:
    url = f"/studio/sequences/{HIP}/steps/booking/preview.html?sample=email-only"
    preview = client.get(url, headers=AUTH).text
    response = client.post(
        f"/studio/sequences/{HIP}/steps/booking/test-send",
        headers=AUTH,
        json={"channel": "email", "to": "me@clinic.example", "sample": "email-only"},
    )
    assert response.status_code == 200, response.text
    (sent,) = outbox("email")
    html_part = next(p for p in read_email(sent).walk() if p.get_content_type() == "text/html")
    # The same HTML, byte for byte, once the .eml's SMTP line endings are undone.
    assert html_part.get_payload(decode=True).decode().replace("\r\n", "\n") == preview


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/studio/sequences/nope", "no sequence 'nope'"),
        (f"/studio/sequences/{HIP}?sample=nobody", "no sample prospect 'nobody'"),
        (f"/studio/sequences/{HIP}/steps/nope/preview.html", "no step 'nope'"),
        ("/studio/sequences/nope/steps/self-test/preview.html", "no sequence 'nope'"),
        (f"/studio/sequences/{HIP}/steps/self-test/preview.html?sample=x", "no sample"),
    ],
)
def test_an_unknown_sequence_step_or_sample_is_a_clear_404(
    client: TestClient, url: str, named: str
) -> None:
    response = client.get(url, headers=AUTH)
    assert response.status_code == 404
    assert named in response.text.replace("&#39;", "'")


def test_without_a_login_the_studio_asks_for_one_like_ops(client: TestClient) -> None:
    for url in ("/studio", f"/studio/sequences/{HIP}"):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 401
        assert "Sign in to nurture" in response.text
    assert client.get(f"/studio/sequences/{HIP}/steps/self-test/preview.html").status_code == 401
    response = client.post(SEND, json={"channel": "sms", "to": "+16175550100"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert client.post(SEND, data={"channel": "sms", "to": "+16175550100"}).status_code == 401
    assert client.get("/studio", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert outbox("sms") == []


def test_a_login_at_ops_opens_the_studio_too(client: TestClient) -> None:
    login(client)
    assert client.get("/studio").status_code == 200
    assert client.get(f"/studio/sequences/{HIP}/steps/self-test/preview.html").status_code == 200


def test_a_test_send_form_without_its_csrf_token_is_refused_and_sends_nothing(
    client: TestClient,
) -> None:
    login(client)
    for token in ("", "0" * 64):
        response = client.post(
            SEND, data={"channel": "sms", "to": "+16175550100", "csrf_token": token}
        )
        assert response.status_code == 403 and "CSRF" in response.text
    assert outbox("sms") == []


def test_a_test_send_from_the_form_goes_out_and_touches_no_prospect_table_or_metric(
    client: TestClient,
) -> None:
    csrf = login(client)
    tables, metrics = table_counts(), send_metrics(client)
    response = client.post(
        SEND,
        data={
            "channel": "email",
            "to": "Me@Clinic.example",
            "sample": "florida",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/studio/sequences/{HIP}?sample=florida&sent=email&step=self-test&via=outbox"
        "#sent-self-test-email"
    )
    back = client.get(response.headers["location"]).text
    result = back.split('id="sent-self-test-email"')[1].split("</p>")[0]
    assert "Test email written to the outbox folder" in result
    assert "no email provider is configured" in result
    assert 'id="sent-self-test-email" tabindex="-1" autofocus' in back
    assert 'role="status" aria-live="polite"' in back
    assert 'data-sent="email"' in back.split('id="step-self-test"')[1].split("step-card")[0]
    (sent,) = outbox("email")
    email = read_email(sent)
    assert email["To"] == "me@clinic.example" and email["Subject"].startswith("[TEST] ")
    assert "Jordan" in sent.read_text()  # rendered for the sample
    assert table_counts() == tables
    assert send_metrics(client) == metrics


def test_a_json_test_send_with_the_bearer_key_sends_one_sms_and_logs_it_masked(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(get_settings())  # JSON lines on the captured stderr
    capsys.readouterr()
    tables = table_counts()
    response = client.post(
        SEND, headers=AUTH, json={"channel": "sms", "to": "(617) 555-0100", "sample": "phone-only"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sent"] is True and body["to"] == "***0100" and body["provider"] == "outbox"
    (sent,) = outbox("sms")
    sms = read_sms(sent)
    assert sms["to"] == "+16175550100" and sms["body"].startswith("[TEST] ")
    assert table_counts() == tables
    logged = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if '"studio.test_send"' in line
    ]
    assert len(logged) == 1
    line = logged[0]
    assert (line["sequence"], line["step"], line["channel"]) == (HIP, "self-test", "sms")
    assert line["to_masked"] == "***0100"
    assert "5550100" not in json.dumps(line) and sms["body"][7:30] not in json.dumps(line)


@pytest.mark.parametrize(
    ("fields", "status", "named"),
    [
        ({"channel": "email", "to": "not-an-address"}, 422, "invalid email 'not-an-address'"),
        ({"channel": "sms", "to": "12"}, 422, "invalid phone '12'"),
        ({"channel": "fax", "to": "me@clinic.example"}, 422, "invalid channel 'fax'"),
        ({"channel": "sms", "to": ""}, 422, "give the phone number"),
        ({"channel": "sms", "to": "+16175550100", "sample": "x"}, 404, "no sample prospect"),
    ],
)
def test_a_bad_test_send_gets_a_clear_error_and_sends_nothing(
    client: TestClient, fields: dict[str, str], status: int, named: str
) -> None:
    response = client.post(SEND, headers=AUTH, json=fields)
    assert response.status_code == status
    assert named in response.json()["detail"]
    assert outbox("sms") == [] and outbox("email") == []


def test_a_refused_form_shows_the_reason_next_to_the_form_it_came_from(
    client: TestClient,
) -> None:
    csrf = login(client)
    response = client.post(SEND, data={"channel": "email", "to": "nope", "csrf_token": csrf})
    assert response.status_code == 422
    assert 'id="err-self-test-email"' in response.text and "invalid email" in response.text
    assert 'value="nope"' in response.text  # what was typed is kept


def test_test_sends_are_limited_to_a_few_per_minute(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, test_send_rate="2/m")
    testsend._limiter.cache_clear()
    answers = [
        client.post(SEND, headers=AUTH, json={"channel": "sms", "to": "+16175550100"})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "too many test sends" in answers[2].json()["detail"]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert len(outbox("sms")) == 2


def test_a_step_whose_template_breaks_still_shows_the_page_with_the_error_in_place(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "hip-pain" / "self-test.sms.j2").write_text("Hi {{ contact.nickname }}")
    (templates / "hip-pain" / "booking.md.j2").write_text("Hi {% if %} there")
    use(env, monkeypatch, templates_dir=str(templates))
    response = client.get(f"/studio/sequences/{HIP}", headers=AUTH)
    assert response.status_code == 200
    html = response.text
    self_test = html.split('id="step-self-test"')[1].split('class="step-card"')[0]
    assert 'data-render-error="sms"' in self_test and "nickname" in self_test
    assert 'data-segments="' not in self_test
    booking = html.split('id="step-booking"')[1]
    assert 'data-render-error="email"' in booking and "booking.md.j2" in booking
    index = client.get("/studio", headers=AUTH).text
    assert f'data-sequence="{HIP}" data-state="errors"' in index
    preview = client.get(f"/studio/sequences/{HIP}/steps/booking/preview.html", headers=AUTH)
    assert preview.status_code == 422 and "booking.md.j2" in preview.text


def test_every_sample_renders_every_sequence(client: TestClient) -> None:
    for sample in SAMPLES:
        for sequence_id in (HIP, "chronic-pain-default"):
            response = client.get(f"/studio/sequences/{sequence_id}?sample={sample}", headers=AUTH)
            assert response.status_code == 200, (sample, sequence_id)
            assert "data-render-error" not in response.text


def test_a_lint_finding_shows_next_to_the_message_it_concerns(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "hip-pain" / "self-test.sms.j2").write_text(
        "Hi {{ contact.first_name }}, about your hip pain: try the self-check today."
    )
    use(env, monkeypatch, templates_dir=str(templates))
    html = client.get(f"/studio/sequences/{HIP}", headers=AUTH).text
    self_test = html.split('id="step-self-test"')[1].split('class="step-card"')[0]
    sms = self_test.split('data-channel="sms"')[1]
    assert 'data-finding="error"' in sms and "hip" in sms.split('class="findings"')[1]
    email = self_test.split('data-channel="sms"')[0]
    assert 'data-finding="error"' not in email
    index = client.get("/studio", headers=AUTH).text
    assert f'data-sequence="{HIP}" data-state="errors"' in index


def test_an_edit_on_disk_shows_on_the_next_page_and_a_broken_file_says_why(
    client: TestClient, schedules_dir: Path
) -> None:
    hip = schedules_dir / f"{HIP}.yaml"
    text = hip.read_text()
    hip.write_text(text.replace("Outer hip pain consultation follow-up", "Hip follow-up, renamed"))
    assert "Hip follow-up, renamed" in client.get("/studio", headers=AUTH).text
    hip.write_text(text.replace("after: 1d", "after: one day"))
    response = client.get("/studio", headers=AUTH)
    assert response.status_code == 200
    assert 'id="catalog-problem"' in response.text and "one day" in response.text
    assert f'data-sequence="{HIP}"' in response.text and "last good version" in response.text
    hip.write_text(text)
    assert 'id="catalog-problem"' not in client.get("/studio", headers=AUTH).text


def test_the_timeline_shows_each_send_time_and_why_it_moved(client: TestClient) -> None:
    # Sunday 17:49 in New York, a Monday-Saturday 09:00-19:00 window (the example).
    sunday = datetime(2026, 3, 1, 22, 49, tzinfo=UTC)
    client.app.dependency_overrides[now_dep] = lambda: sunday  # type: ignore[attr-defined]
    html = client.get(f"/studio/sequences/{HIP}", headers=AUTH).text
    rows = {
        (m.group(1), m.group(2)): m.group(3)
        for m in re.finditer(
            r'<tr data-step="([^"]+)" data-channel="([^"]+)">(.*?)</tr>', html, re.S
        )
    }
    first = rows[("doctor-first", "email")]
    assert "Mon 2 Mar 2026, 09:00 EST" in first and "send window" in first
    spaced = rows[("self-test", "email")]
    assert "Tue 3 Mar 2026, 09:00 EST" in spaced and 'data-reasons="spacing' in spaced
    assert "kept its gap" in spaced


def test_the_test_send_limit_is_shared_through_redis_under_its_own_key(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    import redis

    use(env, monkeypatch, broker_url=redis_url, test_send_rate="2/m")
    testsend._limiter.cache_clear()
    codes = [
        client.post(SEND, headers=AUTH, json={"channel": "sms", "to": "+16175550100"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert redis.Redis.from_url(redis_url).exists(TEST_SEND_RATE_KEY)
