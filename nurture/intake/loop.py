"""Intake on the API's event loop: a never-seen prospect's statement is awaited there, in its
group (`group.py`), where `service.submit` would take a thread of the pool for the wait.

A thread round trip per request (handing the call to the pool, waking a thread, waking the
loop again with the answer) was the largest cost of a request after its validation. Only
the common case comes here: a request without an Idempotency-Key, on PostgreSQL, that does
not decline every channel. Its parameters are built on the loop (no waiting in them), the
group writer's thread writes it, and the answer is built from the rows it wrote, as
`submit` builds it. Anything else (a known or erased address, a group that failed) is
`submit`'s to handle, on the pool, exactly as before.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from nurture.db import get_engine
from nurture.intake.group import group_writer
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.service import EnrollOutcome, declines_every_channel, unkeyed_prospect
from nurture.intake.write_pg import prospect_answer
from nurture.schedule import Catalog


async def enroll_new_on_loop(
    request: ConsultationRequestIn, *, catalog: Catalog, now: datetime, meta: RequestMeta
) -> EnrollOutcome | None:
    """The outcome when `request` (sent without an Idempotency-Key) was written as a
    never-seen prospect, once its group is committed; None when the caller must `submit()`
    it on the threadpool (SQLite, a request declining every channel, an address known or
    erased earlier, or its group failed): then nothing of it was written here."""
    engine = get_engine()
    if engine.dialect.name != "postgresql" or declines_every_channel(request):
        return None
    prospect = unkeyed_prospect(request, catalog=catalog, now=now, meta=meta)
    written = await asyncio.wrap_future(group_writer(engine).submit(prospect.params))
    response = None if written is None else prospect_answer(prospect, written)
    return None if response is None else EnrollOutcome(response=response, created=True)
