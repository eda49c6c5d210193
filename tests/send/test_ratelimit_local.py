"""The in-process rate limiter (embedded mode): GCRA slots with the clock passed in."""

from __future__ import annotations

from nurture.config import Settings
from nurture.core.states import Channel
from nurture.send.ratelimit import LocalRateLimiter, make_throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_reservation_takes_the_next_slot_one_interval_later() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock=clock)
    waits = [limiter.reserve("k", per_s=2, max_wait_s=5).wait_s for _ in range(4)]
    assert waits == [0.0, 0.5, 1.0, 1.5]


def test_a_slot_further_than_the_wait_allowed_is_not_taken() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock=clock)
    limiter.reserve("k", per_s=2, max_wait_s=0.8)
    limiter.reserve("k", per_s=2, max_wait_s=0.8)
    refused = limiter.reserve("k", per_s=2, max_wait_s=0.8)
    assert (refused.granted, refused.wait_s) == (False, 1.0)
    again = limiter.reserve("k", per_s=2, max_wait_s=0.8)
    assert (again.granted, again.wait_s) == (False, 1.0)  # the refusal reserved nothing


def test_time_passing_frees_slots_but_does_not_bank_a_burst() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock=clock)
    limiter.reserve("k", per_s=1, max_wait_s=5)
    clock.now += 60
    waits = [limiter.reserve("k", per_s=1, max_wait_s=5).wait_s for _ in range(3)]
    assert waits == [0.0, 1.0, 2.0]


def test_senders_have_their_own_limits() -> None:
    limiter = LocalRateLimiter(clock=Clock())
    limiter.reserve("nurture:rate:sms:+1", per_s=1, max_wait_s=5)
    assert limiter.reserve("nurture:rate:sms:+2", per_s=1, max_wait_s=5).wait_s == 0.0


def test_no_rate_configured_means_no_throttle() -> None:
    assert make_throttle(Settings(sms_rate="", email_rate=""), email_sender="a@b.c") is None


def test_the_embedded_broker_gets_the_in_process_limiter_for_the_rates_given() -> None:
    throttle = make_throttle(
        Settings(sms_rate="1/s", email_rate="600/m", twilio_from="+16175550100", lease_s=20),
        email_sender="care@clinic.example",
    )
    assert throttle is not None
    assert isinstance(throttle.limiter, LocalRateLimiter)
    assert throttle.rates == {Channel.SMS: 1.0, Channel.EMAIL: 10.0}
    assert throttle.senders == {Channel.SMS: "+16175550100", Channel.EMAIL: "care@clinic.example"}
    assert throttle.max_wait_s == 5.0  # a quarter of the lease
