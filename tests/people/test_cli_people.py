"""`nurture users …` and `nurture tokens …`: what each prints, and one clear line for a
mistake (a real process: the exit code and stderr are what a person sees)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.db.tables import User
from nurture.people.accounts import invitation_user
from tests.conftest import ROOT

#: Each `nurture` command is a new Python process: a few seconds each when the machine is
#: idle, twenty when it is shared (load 15 on 2 cores), and a test runs up to eight.
pytestmark = pytest.mark.timeout(600)


def nurture(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nurture", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_users_add_list_role_disable_reset(db: str, env: dict[str, str]) -> None:
    added = nurture(env, "users", "add", "Ann@Example.com", "--role", "owner", "--name", "Ann")
    assert added.returncode == 0, added.stderr
    url = added.stdout.strip().splitlines()[-1]
    assert url.startswith("https://nurture.test/invite/")
    with session_scope() as session:
        _, user = invitation_user(session, url.rsplit("/", 1)[1], utcnow())
        assert (user.email, user.role, user.name) == ("ann@example.com", "owner", "Ann")

    assert nurture(env, "users", "add", "bob@example.com", "--role", "front-desk").returncode == 0
    listed = json.loads(nurture(env, "users", "list", "--json").stdout)
    assert [(u["email"], u["role"], u["state"]) for u in listed] == [
        ("ann@example.com", "owner", "invited"),
        ("bob@example.com", "front-desk", "invited"),
    ]
    assert nurture(env, "users", "role", "bob@example.com", "manager").returncode == 0
    assert nurture(env, "users", "disable", "bob@example.com").returncode == 0
    again = nurture(env, "users", "reset", "ann@example.com")
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] != url
    with session_scope() as session:
        bob = session.query(User).filter_by(email="bob@example.com").one()
        assert bob.role == "manager" and bob.disabled_at is not None


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("users", "add", "x@example.com", "--role", "chief"), "unknown role 'chief'"),
        (("users", "add", "not-an-email", "--role", "viewer"), "invalid email 'not-an-email'"),
        (("users", "role", "nobody@example.com", "viewer"), "no person with the email"),
        (("tokens", "create", "web", "--scope", "all"), "unknown scope 'all'"),
        (("tokens", "revoke", "web"), "no live token named 'web'"),
    ],
)
def test_a_mistake_is_one_line_and_exit_1(
    db: str, env: dict[str, str], args: tuple[str, ...], said: str
) -> None:
    result = nurture(env, *args)
    assert result.returncode == 1
    assert said in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_tokens_create_prints_once_list_shows_use_revoke_ends_it(
    db: str, env: dict[str, str]
) -> None:
    created = nurture(env, "tokens", "create", "website", "--scope", "intake")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("nt_") and len(token) > 40
    listed = json.loads(nurture(env, "tokens", "list", "--json").stdout)
    assert [(t["name"], t["scope"], t["last_used"], t["revoked"]) for t in listed] == [
        ("website", "intake", None, None)
    ]
    assert token not in nurture(env, "tokens", "list").stdout
    assert nurture(env, "tokens", "revoke", "website").returncode == 0
    assert json.loads(nurture(env, "tokens", "list", "--json").stdout)[0]["revoked"]
