"""The form token's age window and where a post may come from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nurture.content.links import make_unsubscribe_token
from nurture.core.states import Channel
from nurture.intake.formguard import issue_token, origin_allowed, token_id, token_problem

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SECRET = "s3cret"


def _problem(served_s_ago: float, *, confirm: bool = False, secret: str = SECRET) -> str | None:
    token = issue_token(secret, NOW - timedelta(seconds=served_s_ago), confirm=confirm)
    return token_problem(token, secret=SECRET, now=NOW, min_fill_s=3)


@pytest.mark.parametrize(
    ("age_s", "problem"),
    [(0, "too_fresh"), (2.9, "too_fresh"), (3.0, None), (3600, None), (86400, None),
     (86401, "expired"), (-60, "too_fresh")],
)  # fmt: skip
def test_a_token_is_good_between_the_minimum_fill_time_and_a_day(
    age_s: float, problem: str | None
) -> None:
    assert _problem(age_s) == problem


def test_a_token_signed_with_another_key_or_garbled_is_forged() -> None:
    assert _problem(60, secret="other") == "forged"
    assert token_problem("abc.def", secret=SECRET, now=NOW, min_fill_s=3) == "forged"
    good = issue_token(SECRET, NOW - timedelta(seconds=60))
    assert token_problem(good[:-2] + "xx", secret=SECRET, now=NOW, min_fill_s=3) == "forged"


def test_a_link_token_is_not_a_form_token() -> None:
    token = make_unsubscribe_token(SECRET, 1, Channel.EMAIL)
    assert token_problem(token, secret=SECRET, now=NOW, min_fill_s=3) == "forged"


def test_a_confirmation_page_waits_as_long_as_the_form() -> None:
    assert _problem(1.5, confirm=True) == "too_fresh"
    assert _problem(2.9, confirm=True) == "too_fresh"
    assert _problem(3.0, confirm=True) is None


def test_each_token_has_its_own_id_whatever_the_spelling_of_its_signature() -> None:
    first, second = (issue_token(SECRET, NOW) for _ in range(2))
    assert first != second
    assert token_id(first, secret=SECRET) != token_id(second, secret=SECRET)
    # Another spelling of the same base64 signature still verifies: the id is what it signs.
    payload, _, signature = first.rpartition(".")
    respelled = f"{payload}.{signature}=="
    assert (
        token_problem(respelled, secret=SECRET, now=NOW + timedelta(minutes=1), min_fill_s=3)
        is None
    )
    assert token_id(respelled, secret=SECRET) == token_id(first, secret=SECRET)


OWN = ("https://nurture.test",)
SITES = ("https://clinic.example",)


@pytest.mark.parametrize(
    ("origin", "referer", "allowed"),
    [
        (None, None, True),
        ("https://nurture.test", None, True),
        ("https://clinic.example", None, True),
        ("https://CLINIC.example", None, True),
        ("https://evil.example", "https://clinic.example/", False),  # Origin wins
        ("http://clinic.example", None, False),  # another scheme is another site
        ("null", None, False),
        (None, "https://clinic.example/contact?x=1", True),
        (None, "https://evil.example/x", False),
        (None, "not a url", True),  # says nothing about a site: like no Referer
    ],
)
def test_posts_come_from_us_or_the_clinics_listed_sites(
    origin: str | None, referer: str | None, allowed: bool
) -> None:
    assert origin_allowed(origin, referer, own=OWN, allowed=SITES) is allowed
