"""Specification of planning an enrollment's due times: the delay, then the windows."""

from __future__ import annotations

from datetime import date

from nurture.schedule.delays import ClosedDays, Delay
from nurture.schedule.plan import plan_due_at
from tests.schedule.clock import (
    CLINIC_HOURS,
    NY,
    ny,
)

# --- planning -----------------------------------------------------------------------------


def test_planning_adds_the_delay_then_holds_to_the_window() -> None:
    saturday_evening = ny(2026, 6, 6, 19, 30)
    # One day later is Sunday, outside Monday-Saturday: held to Monday's opening.
    due = plan_due_at(saturday_evening, Delay(1, "d"), tz=NY, window=CLINIC_HOURS, channel="sms")
    assert due == ny(2026, 6, 8, 9)
    closed = ClosedDays(dates=frozenset({date(2026, 6, 8)}))
    due = plan_due_at(
        saturday_evening, Delay(1, "bd"), tz=NY, window=CLINIC_HOURS, channel="email", closed=closed
    )
    assert due == ny(2026, 6, 10, 9)  # Tuesday 19:30 is after closing


def test_an_immediate_step_inside_the_window_is_due_at_the_request() -> None:
    request = ny(2026, 6, 3, 11, 5)
    assert plan_due_at(request, Delay(0, "m"), tz=NY, window=CLINIC_HOURS, channel="sms") == request
