"""`GET /ops/audit`: the audit trail, filtered and paged, or as CSV (`?format=csv`).

Reading the trail is itself audited (`audit-viewed`, with the filters used)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from nurture.api.access import Principal, need
from nurture.api.auditing import record_request
from nurture.api.ops.render import clinic_zone, page
from nurture.api.params import Count
from nurture.core.inputs import parse_instant
from nurture.db import get_engine
from nurture.errors import InvalidValueError
from nurture.people.audit import AuditAction
from nurture.people.audit_query import FIELDS, AuditFilter, count_rows, find_rows, flat
from nurture.people.roles import Role

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)

PAGE_SIZE = 50
#: The longest filter value kept (in the form, and in the audit row of the view).
MAX_FILTER_CHARS = 100
ACTIONS = [a.value for a in AuditAction]


@dataclass(frozen=True)
class Filters:
    """The page's filters as typed (for the form and the links) and as a filter."""

    form: dict[str, str]
    where: AuditFilter


def _query(who: str, action: str, since: str, until: str, target: str) -> Filters:
    """The filters; InvalidValueError naming the field that is wrong. Dates are the clinic's
    days: `to` includes its whole day."""
    form = {
        "who": who.strip()[:MAX_FILTER_CHARS],
        "action": action.strip()[:MAX_FILTER_CHARS],
        "from": since.strip()[:MAX_FILTER_CHARS],
        "to": until.strip()[:MAX_FILTER_CHARS],
        "target": target.strip()[:MAX_FILTER_CHARS],
    }
    if form["action"] and form["action"] not in ACTIONS:
        raise InvalidValueError(f"action: {form['action']!r} is not an action of the audit trail")
    tz = clinic_zone()
    start = parse_instant(form["from"], "from", zone=tz)
    end = parse_instant(form["to"], "to", end_of_day=True, zone=tz)
    if start is not None and end is not None and end <= start:
        raise InvalidValueError(f"to ({form['to']}) must be after from ({form['from']})")
    where = AuditFilter(
        since=start,
        until=end,
        user=form["who"] or None,
        action=form["action"] or None,
        target=form["target"] or None,
    )
    return Filters(form, where)


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(flat(row) for row in rows)
    return out.getvalue()


@router.get("/audit")
def audit_page(
    request: Request,
    who: str = "",
    action: str = "",
    since: str = Query("", alias="from"),
    until: str = Query("", alias="to"),
    target: str = "",
    page_no: Annotated[Count, Query(alias="page")] = 1,
    format: Literal["", "html", "csv"] = "",
    session: Principal = Depends(need(Role.MANAGER, "read the audit trail")),
) -> Response:
    """The trail, newest first, `PAGE_SIZE` rows a page; every matching row as CSV."""
    try:
        query = _query(who, action, since, until, target)
    except InvalidValueError as exc:
        if format == "csv":
            return Response(f"{exc}\n", status_code=400, media_type="text/plain")
        return _render(
            session, None, 400, error=str(exc), form=_raw(who, action, since, until, target)
        )
    number = max(page_no, 1)
    shown = {k: v for k, v in query.form.items() if v}
    with get_engine().connect() as conn:
        if format == "csv":
            rows = list(find_rows(conn, query.where))
        else:
            total = count_rows(conn, query.where)
            offset = (number - 1) * PAGE_SIZE
            rows = list(find_rows(conn, query.where, limit=PAGE_SIZE, offset=offset))
    # Recorded once read, so the page shows the trail as it stood when asked.
    record_request(
        request,
        session.actor,
        AuditAction.AUDIT_VIEWED,
        detail={**shown, "format": format or "html", "page": number},
    )
    if format == "csv":
        return Response(
            _csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return _render(session, query, 200, rows=rows, total=total, number=number)


def _raw(who: str, action: str, since: str, until: str, target: str) -> dict[str, str]:
    values = {"who": who, "action": action, "from": since, "to": until, "target": target}
    return {k: v[:MAX_FILTER_CHARS] for k, v in values.items()}


def _render(
    session: object,
    query: Filters | None,
    status_code: int,
    *,
    rows: list[dict[str, Any]] | None = None,
    total: int = 0,
    number: int = 1,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    form = form if query is None else query.form
    base = {k: v for k, v in (form or {}).items() if v}
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return page(
        "audit.html.j2",
        status_code=status_code,
        session=session,
        rows=rows or [],
        total=total,
        number=number,
        pages=pages,
        actions=ACTIONS,
        form=form or {},
        error=error,
        csv_url="/ops/audit?" + urlencode({**base, "format": "csv"}),
        page_url=lambda n: "/ops/audit?" + urlencode({**base, "page": n}),
        section="audit",
        here="/ops/audit",
    )
