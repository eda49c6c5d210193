"""What a provider's HTTP answer means for a delivery: retry, unknown, or failed for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nurture.channels.errors import error_for_status, retry_after_s
from nurture.channels.twilio import validity_period_s
from nurture.errors import AmbiguousSendError, PermanentSendError, TransientSendError

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, TransientSendError),
        (503, TransientSendError),
        (408, TransientSendError),
        (500, AmbiguousSendError),
        (502, AmbiguousSendError),
        (504, AmbiguousSendError),
        (400, PermanentSendError),
        (401, PermanentSendError),
        (413, PermanentSendError),
    ],
)
def test_each_status_means_retry_unknown_or_failed(status: int, kind: type) -> None:
    error = error_for_status("sendgrid", status, message="why", now=NOW)
    assert type(error) is kind
    assert error.code == str(status) and error.provider == "sendgrid"
    assert "why" in str(error)


def test_a_provider_code_is_kept_over_the_status() -> None:
    error = error_for_status(
        "twilio", 400, message="Attempt to send to unsubscribed", code="30007", now=NOW
    )
    assert isinstance(error, PermanentSendError) and error.code == "30007"
    assert not error.suppress


def test_retry_after_in_seconds_is_honoured() -> None:
    assert retry_after_s({"Retry-After": "7"}, now=NOW) == 7.0
    assert retry_after_s({"retry-after": " 2.5 "}, now=NOW) == 2.5


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    header = {"Retry-After": "Tue, 03 Mar 2026 15:00:42 GMT"}
    assert retry_after_s(header, now=NOW) == 42.0


def test_rate_limit_reset_as_an_epoch_counts_from_now() -> None:
    reset = int((NOW + timedelta(seconds=30)).timestamp())
    assert retry_after_s({"X-RateLimit-Reset": str(reset)}, now=NOW) == 30.0


def test_rate_limit_reset_as_a_number_of_seconds_is_taken_as_is() -> None:
    assert retry_after_s({"X-RateLimit-Reset": "12"}, now=NOW) == 12.0


def test_retry_after_wins_over_rate_limit_reset_and_the_past_means_now() -> None:
    assert retry_after_s({"Retry-After": "3", "X-RateLimit-Reset": "99"}, now=NOW) == 3.0
    assert retry_after_s({"Retry-After": "Tue, 03 Mar 2026 14:00:00 GMT"}, now=NOW) == 0.0


def test_no_or_garbled_headers_give_no_retry_hint() -> None:
    assert retry_after_s(None, now=NOW) is None
    assert retry_after_s({"Retry-After": "soon"}, now=NOW) is None
    assert retry_after_s({"X-RateLimit-Reset": "later"}, now=NOW) is None


def test_a_429_carries_its_retry_hint() -> None:
    error = error_for_status(
        "sendgrid", 429, message="slow down", headers={"Retry-After": "9"}, now=NOW
    )
    assert isinstance(error, TransientSendError) and error.retry_after_s == 9.0


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (timedelta(hours=2), 7200),
        (timedelta(seconds=90.9), 90),
        (timedelta(hours=30), 36_000),
        (timedelta(seconds=0), 1),
        (timedelta(seconds=-50), 1),
    ],
)
def test_the_validity_period_ends_at_quiet_hours_within_twilios_range(
    left: timedelta, expected: int
) -> None:
    assert validity_period_s(NOW, NOW + left) == expected


def test_without_a_quiet_hours_limit_no_validity_period_is_sent() -> None:
    assert validity_period_s(NOW, None) is None
    assert validity_period_s(None, NOW) is None
