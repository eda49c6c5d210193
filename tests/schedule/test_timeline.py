"""The timeline: when each message goes and every reason it moved, from the planner itself."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from nurture.core.states import Channel
from nurture.errors import UnknownTimezoneError
from nurture.schedule import load_catalog
from nurture.schedule.clinic import Clinic
from nurture.schedule.plan import plan_schedule
from nurture.schedule.sequence import Sequence
from nurture.schedule.timeline import timeline
from tests.conftest import ROOT

NY = ZoneInfo("America/New_York")


def _sequence(
    *steps: tuple[str, str, list[str]], window: dict[str, object] | None = None
) -> Sequence:
    return Sequence.model_validate(
        {
            "id": "s",
            "name": "S",
            "default": True,
            "send_window": window,
            "steps": [
                {"id": i, "after": a, "channels": c, "template": f"t/{i}"} for i, a, c in steps
            ],
        }
    )


@pytest.fixture(scope="module")
def clinic() -> Clinic:
    return load_catalog(ROOT / "schedules").clinic


def _rows(seq: Sequence, clinic: Clinic, start: datetime, phone: str | None = None) -> dict:
    return {
        (r.step_id, r.channel): (r.local.replace(tzinfo=None), r.reasons)
        for r in timeline(seq, clinic, start, "America/New_York", phone)
    }


def test_a_request_on_sunday_evening_keeps_the_one_day_gap_after_the_monday_hold(
    clinic: Clinic,
) -> None:
    seq = load_catalog(ROOT / "schedules").get("hip-pain-consultation")
    rows = _rows(seq, clinic, datetime(2026, 3, 1, 17, 49, tzinfo=NY))
    assert rows["doctor-first", "email"] == (datetime(2026, 3, 2, 9), ["send window"])
    assert rows["self-test", "email"] == (datetime(2026, 3, 3, 9), ["spacing"])
    assert rows["self-test", "sms"] == (datetime(2026, 3, 3, 9), ["spacing"])


def test_nothing_moves_and_no_reason_shows_inside_the_window(clinic: Clinic) -> None:
    seq = load_catalog(ROOT / "schedules").get("hip-pain-consultation")
    rows = _rows(seq, clinic, datetime(2026, 3, 2, 11, 0, tzinfo=NY))  # a Monday morning
    assert rows["doctor-first", "sms"] == (datetime(2026, 3, 2, 11), [])
    assert rows["self-test", "email"] == (datetime(2026, 3, 3, 11), [])


def test_a_later_step_already_past_the_gap_is_not_spaced(clinic: Clinic) -> None:
    seq = _sequence(
        ("a", "0m", ["email"]),
        ("b", "3d", ["email"]),
        window={"start": "09:00", "end": "19:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
    )
    rows = _rows(seq, clinic, datetime(2026, 3, 6, 18, 30, tzinfo=NY))  # Friday evening
    assert rows["a", "email"] == (datetime(2026, 3, 6, 18, 30), [])
    # Friday + 3d = Monday 18:30, inside the window: no hold, no spacing.
    assert rows["b", "email"] == (datetime(2026, 3, 9, 18, 30), [])


def test_sms_quiet_hours_and_florida_hours_are_named(clinic: Clinic) -> None:
    seq = _sequence(("a", "0m", ["email", "sms"]))
    late = _rows(seq, clinic, datetime(2026, 3, 3, 22, 0, tzinfo=NY))
    assert late["a", "email"] == (datetime(2026, 3, 3, 22), [])
    assert late["a", "sms"] == (datetime(2026, 3, 4, 8), ["sms quiet hours"])
    evening = datetime(2026, 3, 3, 20, 30, tzinfo=NY)
    assert _rows(seq, clinic, evening, "+16175550100")["a", "sms"] == (
        evening.replace(tzinfo=None),
        [],
    )
    florida = _rows(seq, clinic, evening, "+13055550100")
    assert florida["a", "sms"] == (datetime(2026, 3, 4, 8), ["florida hours"])
    assert _rows(seq, clinic, evening, "+17275550100")["a", "sms"][1] == ["florida hours"]


def test_business_days_and_closed_days_are_named(clinic: Clinic) -> None:
    assert date(2026, 12, 25) in clinic.closed.dates
    seq = _sequence(("a", "0m", ["email"]), ("b", "1bd", ["email"]))
    friday = _rows(seq, clinic, datetime(2026, 3, 6, 11, 0, tzinfo=NY))
    assert friday["b", "email"] == (datetime(2026, 3, 9, 11), ["business days"])
    christmas_eve = _rows(seq, clinic, datetime(2026, 12, 24, 11, 0, tzinfo=NY))
    assert christmas_eve["b", "email"] == (
        datetime(2026, 12, 28, 11),
        ["closed day"],
    )


def test_the_timeline_is_the_planner_enrollment_uses(clinic: Clinic) -> None:
    seq = load_catalog(ROOT / "schedules").get("chronic-pain-default")
    start = datetime(2026, 3, 7, 18, 55, tzinfo=NY)
    plan = plan_schedule(
        seq, clinic, start=start, tz=NY, region=None,
        addresses={Channel.EMAIL: "a@example.com", Channel.SMS: "+16175550100"},
    )  # fmt: skip
    rows = timeline(seq, clinic, start, "America/New_York")
    assert [(r.step_id, r.channel, r.utc) for r in rows] == [
        (p.step_id, p.channel.value, p.due_at) for p in plan
    ]


def test_an_unknown_zone_is_refused_by_name(clinic: Clinic) -> None:
    seq = _sequence(("a", "0m", ["email"]))
    with pytest.raises(UnknownTimezoneError, match="Nowhere/Town"):
        timeline(seq, clinic, datetime(2026, 3, 3, tzinfo=NY), "Nowhere/Town")
