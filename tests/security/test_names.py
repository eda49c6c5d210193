"""Names are names: a first or last name holding a link, a domain, an '@' or a phone
number is refused with a message naming the field, wherever it arrives (the API, the hosted
form, `nurture enroll`); invisible characters (bidi controls, zero-width characters, line
separators) are taken out of every field a prospect fills; real names keep working."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.api.deps import now_dep
from nurture.db import session_scope
from nurture.db.tables import ConsultationRequest, Contact
from nurture.intake.formguard import issue_token
from tests.api.forms_helpers import FORM, NOTHING, SECRET, hidden_fields, person, stored
from tests.conftest import ROOT
from tests.helpers import at

AUTH = {"Authorization": "Bearer test-key"}
T0 = at("2026-03-02 12:00")
LINKS = [
    "https://evil.example/phish",
    "http://x",
    "evil.example",
    "bit.ly",
    "Ann bit.ly/x",
    "EVIL.Example",
    "evil\uff0eexample",  # a fullwidth dot
    "evil\u3002example",  # an ideographic full stop
    "www.evil",
    "ann@evil.example",
    "ann\uff20evil",  # a fullwidth @
    "Call 6175550134",
    "Ann (617) 555-0134",
    "Ann 1 2",
    "Ann \u0663\u0663",  # Arabic-Indic digits
    "mailto:x",
    "ev\u200bil.example",  # a zero-width space hiding the domain
]
REAL = ["Mary-Jane O'Neil", "José", "李", "Zoë Saint-Éxupéry", "Dr. Ann Lee", "J.R.R. Tolkien"]
#: Each invisible kind, inside a name and a message.
INVISIBLE = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200f", "\ufeff", "\u2060"]
SEPARATORS = ["\u2028", "\u2029", "\x85"]


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[now_dep] = lambda: T0
    with TestClient(app, client=("203.0.113.9", 50000)) as test_client:
        yield test_client


def request(client: TestClient, **fields: str) -> tuple[int, dict[str, object]]:
    body = {"first_name": "Ann", "email": "ann@example.com", "timezone": "Etc/UTC", **fields}
    answer = client.post("/v1/consultation-requests", json=body, headers=AUTH)
    return answer.status_code, answer.json()


@pytest.mark.parametrize("field", ["first_name", "last_name"])
@pytest.mark.parametrize("name", LINKS)
def test_a_name_holding_a_link_a_domain_an_at_or_a_number_is_refused(
    client: TestClient, field: str, name: str
) -> None:
    status, body = request(client, **{field: name})
    assert status == 422, body
    [error] = body["detail"]  # type: ignore[misc]
    assert error["loc"][-1] == field
    assert error["msg"].startswith(f"{field} must not hold")
    with session_scope() as s:
        assert s.scalars(select(Contact)).all() == []


@pytest.mark.parametrize("name", REAL)
def test_real_names_are_kept_as_typed(client: TestClient, name: str) -> None:
    status, _ = request(client, first_name=name, last_name=name)
    assert status == 201
    with session_scope() as s:
        contact = s.scalars(select(Contact)).one()
        assert (contact.first_name, contact.last_name) == (name, name)


@pytest.mark.parametrize("char", INVISIBLE + SEPARATORS, ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_characters_leave_every_field(client: TestClient, char: str) -> None:
    status, _ = request(
        client,
        first_name=f"An{char}n",
        last_name=f"{char}Lee",
        concern=f"hip{char}",
        message=f"Stairs{char}hurt",
        source=f"site{char}",
    )
    assert status == 201
    with session_scope() as s:
        contact = s.scalars(select(Contact)).one()
        row = s.scalars(select(ConsultationRequest)).one()
        # A line separator is a break: a space on one line, a new line in the message.
        space = " " if char in SEPARATORS else ""
        assert (contact.first_name, contact.last_name) == (f"An{space}n", "Lee")
        assert (row.concern, row.source) == ("hip", "site")
        assert row.message == ("Stairs\nhurt" if char in SEPARATORS else "Stairshurt")


def test_the_hosted_form_says_what_is_wrong_with_a_name(client: TestClient) -> None:
    hidden = hidden_fields(client.get(FORM).text)
    fields = {**hidden, **person(first_name="https://evil.example/phish")}
    fields["form_token"] = issue_token(SECRET, T0 - timedelta(minutes=2))
    answer = client.post(FORM, data=fields, follow_redirects=False)
    assert answer.status_code == 422
    assert "Enter only your first name: it must not hold a link or web address." in answer.text
    assert stored() == NOTHING


def test_the_hosted_form_stores_a_name_without_its_bidi_override(client: TestClient) -> None:
    hidden = hidden_fields(client.get(FORM).text)
    fields = {**hidden, **person(first_name="\u202eanaD", last_name="Re\u200byes")}
    fields["form_token"] = issue_token(SECRET, T0 - timedelta(minutes=2))
    assert client.post(FORM, data=fields, follow_redirects=False).status_code == 303
    with session_scope() as s:
        contact = s.scalars(select(Contact)).one()
        assert (contact.first_name, contact.last_name) == ("anaD", "Reyes")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_nurture_enroll_refuses_a_name_with_a_link_in_one_line(
    db: str, env: dict[str, str]
) -> None:
    args = ["--first-name", "Ann", "--last-name", "bit.ly/x", "--email", "ann@example.com"]
    result = subprocess.run(
        [sys.executable, "-m", "nurture", "enroll", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "last_name must not hold a web address or domain ('bit.ly/x')" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
