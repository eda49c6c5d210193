"""Never-seen prospects written in groups on PostgreSQL: one transaction and one commit for
the requests that arrive together (group commit).

Each request is still its own statement (`write_pg.ENROLL_NEW`), handed to the process's
writer thread. That thread takes every statement waiting (`MAX_GROUP` at most), sends them
in one pipeline inside one transaction, commits, and answers each; the statements handed
over meanwhile wait, and form the next group. So under load a process pays one commit and
about one round trip per group instead of per request, and alone a request is written as
before: a group of one is its single autocommitted statement, with no transaction around it.
The API awaits its statement's answer on the event loop (`intake/loop.py`), without taking
a thread of its pool for the wait.

No request is answered before the COMMIT of its group succeeded: a 201 still means written.
If anything in a group fails (a unique violation, a deadlock with another process's group,
a dropped connection, even the COMMIT), the group is rolled back and every one of its
requests is told to write alone, through the path a request takes without grouping: a
failure reaches only the request that causes it, and a statement a failed COMMIT may have
written is then found by its retry (its addresses are known: nothing is written twice).
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import Engine

from nurture.intake.write_pg import (
    ENROLL_NEW,
    NewProspect,
    Written,
    prospect_answer,
    write_prospect,
)

if TYPE_CHECKING:
    import psycopg

log = structlog.get_logger("nurture.intake")

#: The most statements one group holds (its transaction's length stays a few milliseconds).
MAX_GROUP = 32
#: How often an idle writer thread looks whether its engine is gone.
IDLE_CHECK_S = 60.0


@dataclass(eq=False)
class _Waiting:
    """A statement waiting for its group, and where its rows go (None: write it alone)."""

    params: dict[str, Any]
    answer: Future[Written | None] = field(default_factory=Future)


class GroupWriter:
    """Writes the statements handed to it in groups, one commit a group (see the module), on
    a thread of its own that a process starts when it first writes."""

    def __init__(self, engine: Engine, *, max_group: int = MAX_GROUP) -> None:
        # Weak: the thread ends once the engine is gone (`reset_engines`) and nothing waits.
        self._engine = weakref.ref(engine)
        self._max_group = max_group
        self._ready = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._thread: threading.Thread | None = None

    def submit(self, params: dict[str, Any]) -> Future[Written | None]:
        """The statement's rows once its group is committed, or None when the caller must
        run it on its own (its group failed and was rolled back): a future, so that an
        event loop can await it without taking a thread (`asyncio.wrap_future`)."""
        waiting = _Waiting(params)
        with self._ready:
            self._waiting.append(waiting)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="nurture-intake-groups", daemon=True
                )
                self._thread.start()
            elif len(self._waiting) == 1:
                self._ready.notify()  # the thread is waiting for work, or about to look
        return waiting.answer

    def write(self, params: dict[str, Any]) -> Written | None:
        """`submit`, waited for (from a thread of the API's pool, or a command)."""
        return self.submit(params).result()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._waiting:
                    if not self._ready.wait(IDLE_CHECK_S) and self._engine() is None:
                        self._thread = None
                        return
                taken = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
            # A request cancelled while it waited (its client went away) is left out, never
            # written; the others can no longer be cancelled, so each gets its answer.
            group = [w for w in taken if w.answer.set_running_or_notify_cancel()]
            if not group:
                continue
            written: list[Written] = []
            try:
                written = self._write_group([w.params for w in group])
            finally:
                for n, waiting in enumerate(group):
                    waiting.answer.set_result(written[n] if written else None)

    def _write_group(self, group: list[dict[str, Any]]) -> list[Written]:
        """Every statement's rows: all of `group` in one transaction, pipelined, or a group
        of one as its single autocommitted statement. On any failure none of it: []."""
        engine = self._engine()
        if engine is None:
            return []
        try:
            raw = engine.raw_connection()
        except Exception as exc:
            log.warning("intake.group_failed", size=len(group), error=type(exc).__name__)
            return []
        conn = cast("psycopg.Connection[Any]", raw.driver_connection)
        single = len(group) == 1
        written: list[Written] = []
        try:
            conn.autocommit = single
            with conn.cursor() as cursor:
                if single:
                    cursor.execute(ENROLL_NEW, group[0])
                    written.append(cursor.fetchall())
                else:
                    cursor.executemany(ENROLL_NEW, group, returning=True)
                    for _ in group:
                        written.append(cursor.fetchall())
                        cursor.nextset()
            if not single:
                conn.commit()
        except Exception as exc:
            # Each statement runs again on its own: nothing of the group stays written. The
            # error's name only: its text may quote an address (a unique violation's key).
            log.warning("intake.group_failed", size=len(group), error=type(exc).__name__)
            written = []
            try:
                conn.rollback()
            except Exception:
                raw.invalidate()
        finally:
            try:
                conn.autocommit = False  # as the pool hands its connections out
            except Exception:
                raw.invalidate()
            raw.close()
        return written


_writers: dict[int, GroupWriter] = {}
_writers_lock = threading.Lock()


def group_writer(engine: Engine) -> GroupWriter:
    """The process's writer for `engine` (one per engine, as the engine is one per process)."""
    with _writers_lock:
        writer = _writers.get(id(engine))
        if writer is None or writer._engine() is not engine:
            writer = _writers[id(engine)] = GroupWriter(engine)
        return writer


def write_grouped(engine: Engine, prospect: NewProspect) -> dict[str, Any] | None:
    """A never-seen prospect's statement, committed with the requests that came at the same
    time, or on its own when its group failed; the answer, or None when it wrote nothing."""
    written = group_writer(engine).write(prospect.params)
    if written is None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            written = write_prospect(conn, prospect)
    return prospect_answer(prospect, written)
