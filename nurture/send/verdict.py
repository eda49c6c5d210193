"""Whether a loaded delivery goes now: one pure verdict on what was read and the time.

- `Go`: send it now (the take checks the stop, consent, booking and suppression again);
- `Skip`: never send it, with the reason (stopped, no consent, suppressed, booked, the
  step's condition false, no address);
- `Hold`: not now: back to `scheduled` until it is due, until its send window opens (or,
  paused, until the clinic resumes the run). A delivery that may not go is parked, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from nurture.core.states import EnrollmentStatus
from nurture.core.zones import zone
from nurture.schedule.plan import hold_until
from nurture.send.taken import Taken

if TYPE_CHECKING:
    from nurture.send.context import SendContext


@dataclass(frozen=True)
class Go:
    """Send it now."""


@dataclass(frozen=True)
class Skip:
    """Never send it: `reason` says why (stored as the delivery's error code)."""

    reason: str


@dataclass(frozen=True)
class Hold:
    """Not now: back to `scheduled`, due again at `until` (None: when the run resumes)."""

    code: str
    until: datetime | None = None


Verdict = Go | Skip | Hold
GO = Go()


def verdict(c: Taken, now: datetime, ctx: SendContext) -> Verdict:
    """Go, skip (with the reason) or hold (until when) a loaded delivery, as read, at `now`.

    Pure: `ctx` only lends the template environment a step's `when` condition is read with.
    """
    if c.delivery.due_at > now:
        # Handed over early (a dispatcher claims a little ahead and publishes when due, by
        # its own clock): never before due, so back to `scheduled` at the same due time.
        return Hold("not_due", c.delivery.due_at)
    if c.enrollment.status is EnrollmentStatus.PAUSED:
        # A person wrote back: hold the message until the clinic resumes or stops the run.
        return Hold("enrollment_paused")
    reason = skip_reason(c, ctx)
    if reason is not None:
        return Skip(reason)
    opening = window_opening(c, now)
    if opening > now:
        # Late (a backlog, an outage): hold to the window's next opening, never drop.
        return Hold("held_for_window", opening)
    return GO


def skip_reason(c: Taken, ctx: SendContext) -> str | None:
    """Why the delivery must not go at all, or None."""
    contact = c.contact
    if c.enrollment.status is not EnrollmentStatus.ACTIVE:
        return f"enrollment_{c.enrollment.status.value}"
    if c.sequence is None:
        return "sequence_removed"  # published away in the studio: nobody gets it any more
    if c.step is None:
        return "step_removed"
    if not c.address:
        return "no_address"
    if c.suppressed:
        return "suppressed"
    if not c.consent:
        return "no_consent"
    if contact.booked and c.sequence is not None and "booked" in c.sequence.stop_on:
        return "booked"
    if c.step is not None and c.step.when and not condition_holds(c, ctx):
        return "condition_false"
    return None


def window_opening(c: Taken, now: datetime) -> datetime:
    """When the delivery may go: `now`, or the next opening of its send windows."""
    return hold_until(
        now,
        tz=zone(c.enrollment.timezone),
        sequence=c.sequence,
        channel=c.delivery.channel,
        region=c.enrollment.region,
    )


def condition_holds(c: Taken, ctx: SendContext) -> bool:
    """The step's `when` expression, on what templates may know."""
    assert c.step is not None and c.step.when
    expression = ctx.renderer.env.compile_expression(c.step.when)
    return bool(
        expression(
            contact=c.contact, step={"id": c.step.id}, sequence={"id": c.enrollment.sequence_id}
        )
    )
