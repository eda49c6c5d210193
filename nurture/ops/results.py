"""What nurture brings: per sequence, prospects enrolled and booked; per step and channel,
messages sent, delivered, bounced, and what followed them. Used by `GET /ops/results` and
`nurture report`.

Every figure is counted by the database from the tables that record it, so it is exact:

- **enrolled**: enrollments in the sequence whose start falls in the period (`since`
  inclusive, `until` exclusive; the date filters always select by enrollment time).
- **booked**: those enrollments whose prospect booked (`contacts.booked_at`, set by a
  calendar webhook, `POST /v1/bookings` or ops) at or after the enrollment started.
  **conversion** is booked / enrolled; **median days to booking** is the median of
  (booked_at - started_at) over the booked enrollments.
- **sent**: deliveries the provider accepted (they have a send time), whatever happened
  next; **delivered**: now `delivered`; **bounced**: now `bounced` or `undelivered`.
- **clicks**: booking-link clicks (`GET /b/{token}`), each counted on the delivery whose
  link token was clicked.
- **replies**: texts (or emails) in which a person wrote back, each counted on the last
  delivery sent to that prospect on that channel at or before the reply arrived.
- **opt-outs**: opt-outs in the consent ledger, each counted on the last delivery sent to
  that prospect on that channel at or before the opt-out.
- **bookings**: each prospect's booking, counted on the last delivery sent to them (on any
  channel) at or before the booking time: the step that "brought" it.

Attributed events with no delivery sent before them count nowhere in the steps. A step's
figures are the sum of its channels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from nurture.core.inputs import parse_instant
from nurture.core.states import Channel
from nurture.errors import InvalidValueError
from nurture.ops import results_queries as q
from nurture.schedule import Catalog

#: The per-channel figures, in the order the report shows them.
COUNTS = ("sent", "delivered", "bounced", "clicks", "replies", "opt_outs", "bookings")


@dataclass
class ChannelResults:
    channel: str
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    clicks: int = 0
    replies: int = 0
    opt_outs: int = 0
    bookings: int = 0


@dataclass
class StepResults:
    id: str
    index: int
    channels: list[ChannelResults] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(c, name)) for c in self.channels)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "index": self.index,
            **{name: self.total(name) for name in COUNTS},
            "channels": [asdict(c) for c in self.channels],
        }


@dataclass
class SequenceResults:
    id: str
    name: str
    enrolled: int = 0
    booked: int = 0
    median_days_to_booking: float | None = None
    steps: list[StepResults] = field(default_factory=list)

    @property
    def conversion(self) -> float | None:
        """Booked / enrolled, 0..1; None with nobody enrolled."""
        return self.booked / self.enrolled if self.enrolled else None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "enrolled": self.enrolled,
            "booked": self.booked,
            "conversion": self.conversion,
            "median_days_to_booking": self.median_days_to_booking,
            "steps": [s.as_json() for s in self.steps],
        }


@dataclass
class Results:
    since: datetime | None
    until: datetime | None
    sequences: list[SequenceResults]

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "sequences": [s.as_json() for s in self.sequences],
        }


def parse_period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """`--since`/`--until` (or the page's fields) as [since, until) in UTC.

    A date is a whole UTC day: `since` from its start, `until` through its end (both days
    included). An ISO time (UTC unless it has an offset) is that instant, `until` excluded.
    """
    start = parse_instant(since, "since")
    end = parse_instant(until, "until", end_of_day=True)
    if start is not None and end is not None and end <= start:
        raise InvalidValueError(f"until ({until}) must be after since ({since})")
    return start, end


def collect_results(
    session: Session,
    *,
    catalog: Catalog | None = None,
    sequence_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Results:
    """The report for enrollments started in [since, until) (of one sequence, or all)."""
    filters: dict[str, Any] = {"sequence_id": sequence_id, "since": since, "until": until}
    if session.get_bind().dialect.name == "postgresql":
        # The attribution subqueries' cost estimates make PostgreSQL compile the report with
        # JIT, which costs more (~130 ms) than the queries it would speed up.
        session.execute(text("SET LOCAL jit = off"))
    sequences = _skeleton(catalog, sequence_id)
    for row in q.sequence_rows(session, **filters):
        seq = sequences.setdefault(
            row.sequence_id, SequenceResults(row.sequence_id, row.sequence_id)
        )
        seq.enrolled, seq.booked = int(row.enrolled), int(row.booked)
        if row.median_s is not None:
            seq.median_days_to_booking = round(float(row.median_s) / 86400, 2)
    cells: dict[tuple[str, str, str], ChannelResults] = {}
    indexes: dict[tuple[str, str], int] = {}
    for seq in sequences.values():
        for step in seq.steps:
            indexes[seq.id, step.id] = step.index
            for channel in step.channels:
                cells[seq.id, step.id, channel.channel] = channel
    for row in q.step_rows(session, **filters):
        cell = _cell(sequences, cells, indexes, row, int(row.step_index))
        for name in ("sent", "delivered", "bounced", "clicks"):
            setattr(cell, name, int(getattr(row, name)))
    for row in q.attribution_rows(session, **filters):
        cell = _cell(sequences, cells, indexes, row, None)
        for name in q.ATTRIBUTED:
            setattr(cell, name, int(getattr(row, name)))
    ordered = sorted(sequences.values(), key=lambda s: s.id)
    for seq in ordered:
        seq.steps.sort(key=lambda s: (s.index, s.id))
        for step in seq.steps:
            step.channels.sort(key=lambda c: list(Channel).index(Channel(c.channel)))
    return Results(since=since, until=until, sequences=ordered)


def _skeleton(catalog: Catalog | None, sequence_id: str | None) -> dict[str, SequenceResults]:
    """Every step and channel of the schedules, so a step nobody reached yet shows zeros."""
    found: dict[str, SequenceResults] = {}
    if catalog is None:
        return found
    for seq in catalog.sequences.values():
        if sequence_id is not None and seq.id != sequence_id:
            continue
        found[seq.id] = SequenceResults(
            seq.id,
            seq.name,
            steps=[
                StepResults(step.id, n, [ChannelResults(c.value) for c in step.channels])
                for n, step in enumerate(seq.steps, start=1)
            ],
        )
    return found


def _cell(
    sequences: dict[str, SequenceResults],
    cells: dict[tuple[str, str, str], ChannelResults],
    indexes: dict[tuple[str, str], int],
    row: Any,
    index: int | None,
) -> ChannelResults:
    """The figures of (sequence, step, channel), made when the schedules no longer have it."""
    channel = str(getattr(row.channel, "value", row.channel))
    key = (row.sequence_id, row.step_id, channel)
    if key in cells:
        return cells[key]
    seq = sequences.setdefault(row.sequence_id, SequenceResults(row.sequence_id, row.sequence_id))
    step = next((s for s in seq.steps if s.id == row.step_id), None)
    if step is None:
        step = StepResults(row.step_id, index if index is not None else 10_000)
        seq.steps.append(step)
        indexes[seq.id, step.id] = step.index
    cells[key] = ChannelResults(channel)
    step.channels.append(cells[key])
    return cells[key]
