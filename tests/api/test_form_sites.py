"""A website recorded by `nurture form-snippet --site` may frame the hosted form, read a
token for its pasted form, and post to it, on the running server (no restart); and the form
tells a framing page its height."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.core.clock import utcnow
from nurture.intake.origins import record_origin
from tests.api.forms_helpers import FORM, aged_token, hidden_fields, person, stored

SITE = "https://www.clinic.example"


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), client=("203.0.113.9", 50000)) as test_client:
        yield test_client


def test_a_recorded_site_may_frame_the_form_without_a_restart(client: TestClient) -> None:
    before = client.get(FORM).headers["content-security-policy"]
    assert SITE not in before
    record_origin(SITE + "/contact-us", now=utcnow())
    after = client.get(FORM).headers["content-security-policy"]
    assert f"frame-ancestors 'self' {SITE}" in after


def test_a_recorded_site_reads_a_token_and_its_pasted_form_posts(client: TestClient) -> None:
    refused = client.get(FORM + "/token", headers={"origin": SITE})
    assert "access-control-allow-origin" not in refused.headers
    record_origin(SITE, now=utcnow())
    allowed = client.get(FORM + "/token", headers={"origin": SITE})
    assert allowed.headers["access-control-allow-origin"] == SITE
    fields = {**hidden_fields(client.get(FORM).text), **person(), "form_token": aged_token()}
    answer = client.post(FORM, data=fields, headers={"origin": SITE}, follow_redirects=False)
    assert answer.status_code == 303
    assert stored()[1] == 1


def test_every_form_page_tells_a_framing_page_its_height_and_nothing_else(
    client: TestClient,
) -> None:
    html = client.get(FORM).text
    assert 'postMessage({type: "nurture-form-height", height: height}, "*")' in html
    assert "window.parent === window" in html
