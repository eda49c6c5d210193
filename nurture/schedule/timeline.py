"""A sequence's timeline: when each (step, channel) would go for a prospect enrolled at
`start`, and why it moved. It is the enrollment planner's own output (`plan.plan_schedule`),
shown with local times; nothing here reads the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nurture.core.states import Channel
from nurture.core.zones import region_for_phone
from nurture.core.zones import zone as zone_info
from nurture.schedule.clinic import Clinic
from nurture.schedule.delays import require_aware
from nurture.schedule.plan import plan_schedule
from nurture.schedule.sequence import Sequence


@dataclass(frozen=True)
class TimelineRow:
    """One message: its local and UTC send time and every reason it moved (empty if none)."""

    step_id: str
    channel: str
    local: datetime
    utc: datetime
    reasons: list[str]

    def to_json(self) -> dict[str, object]:
        return {
            "step": self.step_id,
            "channel": self.channel,
            "local": self.local.isoformat(),
            "utc": self.utc.isoformat(),
            "reasons": list(self.reasons),
        }


def timeline(
    sequence: Sequence, clinic: Clinic, start: datetime, zone: str, phone: str | None = None
) -> list[TimelineRow]:
    """Every (step, channel) of `sequence` for a prospect in `zone` enrolled at `start`.

    `phone` (E.164) gives the prospect's state for SMS hours (a Florida number: 08:00-20:00).
    UnknownTimezoneError for an unknown zone; `start` must be timezone-aware.
    """
    require_aware(start, "start")
    tz = zone_info(zone)
    plan = plan_schedule(
        sequence,
        clinic,
        start=start.astimezone(UTC),
        tz=tz,
        region=region_for_phone(phone),
        addresses={Channel.EMAIL: "sample", Channel.SMS: "sample"},
    )
    return [
        TimelineRow(
            step_id=p.step_id,
            channel=p.channel.value,
            local=p.due_at.astimezone(tz),
            utc=p.due_at.astimezone(UTC),
            reasons=list(p.reasons),
        )
        for p in plan
    ]
