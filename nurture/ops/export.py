"""One prospect's history as CSV rows in time order (`nurture export`)."""

from __future__ import annotations

import csv
import json
from dataclasses import astuple, dataclass, replace
from datetime import datetime
from typing import TextIO

from nurture.ops.history import ContactHistory

COLUMNS = (
    "at",
    "kind",
    "enrollment_id",
    "sequence",
    "delivery_id",
    "step",
    "channel",
    "status",
    "source",
    "detail",
)
#: A spreadsheet runs a cell that starts with one of these as a formula: the prospect wrote
#: some of these cells, so they are defused with a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    kind: str
    enrollment_id: int | None = None
    sequence: str = ""
    delivery_id: int | None = None
    step: str = ""
    channel: str = ""
    status: str = ""
    source: str = ""
    detail: str = ""


def history_rows(history: ContactHistory) -> list[HistoryRow]:
    """Requests, enrollments, consent changes, deliveries and their events, oldest first."""
    rows: list[HistoryRow] = []
    for request in history.requests:
        detail = "; ".join(
            f"{name}: {value}"
            for name, value in (("concern", request.concern), ("message", request.message))
            if value
        )
        rows.append(
            HistoryRow(
                request.received_at,
                "request",
                status="received",
                source=request.source or "",
                detail=detail,
            )
        )
    sequences = {e.id: e.sequence_id for e in history.enrollments}
    for e in history.enrollments:
        rows.append(HistoryRow(e.started_at, "enrollment", e.id, e.sequence_id, status="started"))
        if e.ended_at is not None:
            rows.append(
                HistoryRow(
                    e.ended_at,
                    "enrollment",
                    e.id,
                    e.sequence_id,
                    status=e.status.value,
                    detail=e.stop_reason or "",
                )
            )
    for c in history.consent:
        rows.append(
            HistoryRow(
                c.at,
                "consent",
                channel=c.channel.value,
                status=c.action,
                source=c.source,
                detail=json.dumps(c.evidence, sort_keys=True) if c.evidence else "",
            )
        )
    for item in history.deliveries:
        d = item.delivery
        note = " ".join(x for x in (d.provider_message_id or "", d.error_code or "") if x)
        row = HistoryRow(
            d.due_at,
            "delivery",
            d.enrollment_id,
            sequences.get(d.enrollment_id, ""),
            d.id,
            d.step_id,
            d.channel.value,
            status=d.status.value,
            detail=note,
        )
        rows.append(row)
        for ev in item.timeline:
            rows.append(
                replace(
                    row,
                    at=ev.at,
                    kind="delivery_event",
                    status=ev.status,
                    source=ev.source,
                    detail=ev.detail or "",
                )
            )
    rows.sort(key=lambda r: r.at)  # stable: same-instant rows keep their order above
    return rows


def write_history_csv(history: ContactHistory, out: TextIO) -> int:
    """Write the history as CSV with a header; returns the number of rows written."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    rows = history_rows(history)
    for row in rows:
        values = astuple(row)
        writer.writerow([values[0].isoformat(), *(spreadsheet_cell(v) for v in values[1:])])
    return len(rows)


def spreadsheet_cell(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text
