"""The results page's charts as plain numbers for the SVG the template draws on the server:
no script, no asset, nothing from the internet. Each chart has the same figures as the table
beside it."""

from __future__ import annotations

from dataclasses import dataclass

from nurture.ops.results import SequenceResults

#: The drawing's width in SVG units. Each bar sits under its label, so the labels keep the
#: whole width on a phone; the value is written at the end of the bar.
WIDTH = 400
VALUE_W = 44
LABEL_H = 18
BAR_H = 16
GAP = 10
ROW_H = LABEL_H + BAR_H + GAP


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    #: Where it is drawn (SVG units): the label's baseline, then the bar's top.
    y: int
    width: float
    bar_y: int = 0
    #: A CSS class naming its colour.
    tone: str = "sent"


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    bars: list[Bar]
    height: int
    width: int = WIDTH
    bar_h: int = BAR_H


def _bars(items: list[tuple[str, int, str]]) -> tuple[list[Bar], int]:
    top = max((value for _, value, _ in items), default=0)
    span = WIDTH - VALUE_W
    bars = [
        Bar(
            label,
            value,
            y=n * ROW_H + LABEL_H - 5,
            width=round(span * value / top, 1) if top else 0.0,
            bar_y=n * ROW_H + LABEL_H,
            tone=tone,
        )
        for n, (label, value, tone) in enumerate(items)
    ]
    return bars, max(len(items) * ROW_H - GAP, ROW_H)


def funnel(seq: SequenceResults) -> Chart:
    """From messages sent to bookings, over every step and channel of the sequence."""
    totals = {
        name: sum(step.total(name) for step in seq.steps)
        for name in ("sent", "delivered", "clicks", "bookings")
    }
    bars, height = _bars(
        [
            ("Messages sent", totals["sent"], "sent"),
            ("Delivered", totals["delivered"], "delivered"),
            ("Booking-link clicks", totals["clicks"], "clicks"),
            ("Bookings after a message", totals["bookings"], "bookings"),
        ]
    )
    return Chart(
        id=f"funnel-{seq.id}",
        title=f"{seq.name}: from messages to bookings",
        description=(
            f"{totals['sent']} messages sent, {totals['delivered']} delivered, "
            f"{totals['clicks']} booking-link clicks, {totals['bookings']} bookings that "
            "followed a message."
        ),
        bars=bars,
        height=height,
    )


def per_step(seq: SequenceResults) -> Chart:
    """Bookings that followed each step, beside its booking-link clicks."""
    items: list[tuple[str, int, str]] = []
    sentences = []
    for step in seq.steps:
        clicks, bookings = step.total("clicks"), step.total("bookings")
        items.append((f"{step.id}: clicks", clicks, "clicks"))
        items.append((f"{step.id}: bookings", bookings, "bookings"))
        sentences.append(f"{step.id}: {clicks} clicks, {bookings} bookings")
    bars, height = _bars(items)
    return Chart(
        id=f"steps-{seq.id}",
        title=f"{seq.name}: clicks and bookings per step",
        description="; ".join(sentences) + "." if sentences else "No steps.",
        bars=bars,
        height=height,
    )
