"""The hosted form's token enrolls once (a second post with it gets a clear 409 page and
stores nothing, also after a restart); a confirmation page's token waits the form's minimum
fill time; the per-address limit counts one mailbox however its address is spelled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.api.deps import now_dep
from nurture.db import session_scope
from nurture.db.tables import Contact
from nurture.intake.formguard import issue_token
from tests.api.forms_helpers import FORM, NOTHING, SECRET, hidden_fields, person, stored
from tests.conftest import use
from tests.helpers import at
from tests.support.page_rules import nu_errors
from tests.support.pages import need_page_checks

T0 = at("2026-03-02 12:00")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def app_client(clock: Clock, ip: str = "203.0.113.20") -> TestClient:
    app = create_app()
    app.dependency_overrides[now_dep] = clock
    return TestClient(app, client=(ip, 50000))


@pytest.fixture
def client(
    db: str, clock: Clock, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    use(env, monkeypatch, form_rate="100/h")  # the per-client limit is not what is tested
    with app_client(clock) as test_client:
        yield test_client


def post(client: TestClient, fields: dict[str, str]) -> httpx.Response:
    return client.post(FORM, data=fields, follow_redirects=False)


def served(client: TestClient, clock: Clock, **answers: str) -> dict[str, str]:
    """A person's answers in a form served two minutes ago."""
    hidden = hidden_fields(client.get(FORM).text)
    token = issue_token(SECRET, clock.now - timedelta(minutes=2))
    return {**hidden, **person(**answers), "form_token": token}


def test_one_token_enrolls_once_and_a_second_use_gets_a_clear_409(
    client: TestClient, clock: Clock
) -> None:
    first = served(client, clock)
    assert post(client, first).status_code == 303
    token = first["form_token"]
    for n in range(2, 7):
        again = post(client, {**served(client, clock, **person(n)), "form_token": token})
        assert again.status_code == 409, n
        assert "This form was already sent" in again.text
    assert stored()[1:3] == (1, 1)


def test_the_already_sent_page_is_valid_html(client: TestClient, clock: Clock) -> None:
    need_page_checks()
    fields = served(client, clock)
    assert post(client, fields).status_code == 303
    again = post(client, fields)
    assert again.status_code == 409
    assert nu_errors({"form-used": again.text}) == []


def test_a_used_token_stays_used_after_a_restart(db: str, clock: Clock) -> None:
    with app_client(clock) as client:
        fields = served(client, clock)
        assert post(client, fields).status_code == 303
    with app_client(clock, ip="198.51.100.4") as client:
        again = post(
            client, {**served(client, clock, **person(2)), "form_token": fields["form_token"]}
        )
        assert again.status_code == 409
    assert stored()[1] == 1


def test_a_refused_post_does_not_use_up_its_token(client: TestClient, clock: Clock) -> None:
    fields = served(client, clock, email="not-an-address")
    assert post(client, fields).status_code == 422
    assert post(client, {**fields, "email": "dana@example.com"}).status_code == 303
    assert stored()[1] == 1


def test_a_confirmation_page_waits_the_minimum_fill_time_and_is_used_once(
    client: TestClient, clock: Clock
) -> None:
    hidden = hidden_fields(client.get(FORM).text)
    pasted = {**person(), **{k: v for k, v in hidden.items() if k != "form_token"}}
    confirm = post(client, pasted)
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.text
    fields = {**pasted, "form_token": hidden_fields(confirm.text)["form_token"]}
    clock.now = T0 + timedelta(seconds=1.5)  # the default minimum is 3 s
    soon = post(client, fields)
    assert soon.status_code == 200 and 'id="confirm"' in soon.text
    assert hidden_fields(soon.text)["form_token"] == fields["form_token"], "kept, not renewed"
    assert stored() == NOTHING
    clock.now = T0 + timedelta(seconds=3)
    assert post(client, fields).status_code == 303
    assert post(client, fields).status_code == 409
    assert stored()[1] == 1


@pytest.mark.parametrize(
    "spellings",
    [
        ["vary@gmail.com", "vary+1@gmail.com", "v.ary@gmail.com", "V.ARY+x@googlemail.com"],
        ["vary@example.com", "vary+a@example.com", "vary+b@example.com", "VARY+c@example.com"],
    ],
)
def test_the_address_limit_counts_one_mailbox_however_it_is_spelled(
    client: TestClient, clock: Clock, spellings: list[str]
) -> None:
    for n, address in enumerate(spellings[:3]):
        fields = served(client, clock, email=address, phone=f"(617) 555-{3000 + n}")
        assert post(client, fields).status_code == 303, address
    fourth = post(client, served(client, clock, email=spellings[3], phone=""))
    assert fourth.status_code == 429
    with session_scope() as s:
        kept = sorted(c.email or "" for c in s.scalars(select(Contact)))
    assert kept == sorted(a.lower() for a in spellings[:3]), "each address is kept as given"


def test_dots_count_apart_outside_gmail(client: TestClient, clock: Clock) -> None:
    for n, address in enumerate(["v.ary@example.com", "va.ry@example.com", "vary@example.com"]):
        fields = served(client, clock, email=address, phone=f"(617) 555-{3100 + n}")
        assert post(client, fields).status_code == 303
    fields = served(client, clock, email="v.a.ry@example.com", phone="")
    assert post(client, fields).status_code == 303
