"""`GET /ops/results`: what nurture brings, per sequence and step, with charts drawn on the
server (managers and owners)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import Principal, need
from nurture.api.deps import catalog_dep
from nurture.api.ops.charts import funnel, per_step
from nurture.api.ops.render import page
from nurture.db import session_scope
from nurture.errors import InvalidValueError
from nurture.ops.results import COUNTS, Results, collect_results, parse_period
from nurture.people.roles import Role
from nurture.schedule.catalog import Catalog

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)


@router.get("/results")
async def results_page(
    sequence: str = "",
    since: str = "",
    until: str = "",
    catalog: Catalog = Depends(catalog_dep),
    session: Principal = Depends(need(Role.MANAGER, "see the results")),
) -> Response:
    form = {"sequence": sequence[:100], "since": since[:40], "until": until[:40]}
    error = None
    try:
        start, end = parse_period(since, until)
    except InvalidValueError as exc:
        error, start, end = str(exc), None, None
    if sequence and sequence not in catalog.sequences:
        error = f"There is no sequence {sequence!r}."

    def collect() -> Results:
        with session_scope() as db:
            return collect_results(
                db, catalog=catalog, sequence_id=sequence or None, since=start, until=end
            )

    results = None if error else await run_in_threadpool(collect)
    charts = {s.id: (funnel(s), per_step(s)) for s in results.sequences} if results else {}
    return page(
        "results.html.j2",
        status_code=400 if error else 200,
        session=session,
        results=results,
        charts=charts,
        counts=COUNTS,
        sequences=sorted(catalog.sequences.values(), key=lambda s: s.id),
        form=form,
        error=error,
        here="/ops/results",
        section="results",
    )
