"""Specification of planning an enrollment's due times: the delay, then the windows."""

from __future__ import annotations

from datetime import date

from nurture.core.states import Channel
from nurture.schedule import load_catalog
from nurture.schedule.delays import ClosedDays, Delay
from nurture.schedule.plan import hold_until, plan_due_at, plan_schedule
from tests.conftest import ROOT
from tests.schedule.clock import (
    CLINIC_HOURS,
    NY,
    ny,
)


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


def test_an_enrollment_is_planned_step_by_step_in_due_order_with_a_reason_for_what_cannot_go() -> (
    None
):
    catalog = load_catalog(ROOT / "schedules")
    sequence = catalog.get("hip-pain-consultation")
    start = ny(2026, 6, 3, 11, 5)  # a Wednesday morning
    plan = plan_schedule(
        sequence,
        catalog.clinic,
        start=start,
        tz=NY,
        region=None,
        addresses={Channel.EMAIL: "ann@example.com", Channel.SMS: None},
    )
    assert [(p.step_id, p.channel.value) for p in plan] == [
        (step.id, channel.value) for step in sequence.steps for channel in step.channels
    ]
    assert [p.due_at for p in plan] == sorted(p.due_at for p in plan)
    assert plan[0].due_at == start and plan[0].skip_reason is None
    assert {p.skip_reason for p in plan if p.channel is Channel.SMS} == {"no_address"}
    assert [p.step_index for p in plan if p.channel is Channel.EMAIL] == [1, 2, 3, 4]


def test_a_message_falling_due_at_night_is_held_to_its_window_and_a_late_one_goes_at_once() -> None:
    catalog = load_catalog(ROOT / "schedules")
    sequence = catalog.get("hip-pain-consultation")
    night = ny(2026, 6, 3, 22, 30)
    held = hold_until(night, tz=NY, sequence=sequence, channel=Channel.SMS, region=None)
    assert held == ny(2026, 6, 4, 9)  # the sequence's window opens at 09:00
    late_morning = ny(2026, 6, 4, 10)
    assert hold_until(late_morning, tz=NY, sequence=sequence, channel=Channel.SMS, region=None) == (
        late_morning
    )
