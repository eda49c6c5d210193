"""Never-seen prospects written in groups on PostgreSQL: one transaction and one commit for
the requests that arrive together (group commit).

Each request is still its own statement (`write_pg.ENROLL_NEW`). A thread that finds no
group being written becomes the writer: it takes every statement waiting (itself first,
`MAX_GROUP` at most), sends them in one pipeline inside one transaction, commits, and hands
each waiting thread its rows; the threads that arrived meanwhile wait, and the first of them
writes the next group. So under load a process pays one commit and about one round trip
per group instead of per request, and alone a request is written as before: a group of one
is its single autocommitted statement, with no transaction around it.

No thread returns before the COMMIT of its group succeeded: an answer still means written.
If anything in a group fails (a unique violation, a deadlock with another process's group,
a dropped connection, even the COMMIT), the group is rolled back and every one of its
requests is told to write alone, through the path a request takes without grouping: a
failure reaches only the request that causes it, and a statement a failed COMMIT may have
written is then found by its retry (its addresses are known: nothing is written twice).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import Engine

from nurture.intake.write_pg import ENROLL_NEW, Written

if TYPE_CHECKING:
    import psycopg

log = structlog.get_logger("nurture.intake")

#: The most statements one group holds (its transaction's length stays a few milliseconds).
MAX_GROUP = 32


@dataclass(eq=False)
class _Waiting:
    """A statement waiting for its group: its parameters, then its rows (or `alone`)."""

    params: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    #: Set by the writer of the previous group: this thread writes the next one.
    lead: bool = False
    written: Written | None = None
    #: The group failed, or held this statement only: the caller writes it on its own.
    alone: bool = False


class GroupWriter:
    """Writes the statements threads hand it in groups, one commit a group (see the module)."""

    def __init__(self, engine: Engine, *, max_group: int = MAX_GROUP) -> None:
        self._engine = engine
        self._max_group = max_group
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._writing = False

    def write(self, params: dict[str, Any]) -> Written | None:
        """The statement's rows once its group is committed; None when the caller must run
        it on its own (alone, or its group failed and was rolled back)."""
        mine = _Waiting(params)
        with self._lock:
            self._waiting.append(mine)
            lead = not self._writing
            self._writing = True
        if not lead:
            mine.done.wait()
            if not mine.lead:
                return None if mine.alone else mine.written
        # This thread writes the next group, its own statement first.
        with self._lock:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
        try:
            self._write_group(group)
        finally:
            self._hand_over(group, mine)
        return None if mine.alone else mine.written

    def _hand_over(self, group: list[_Waiting], mine: _Waiting) -> None:
        """Wake the group's other threads with their rows, and the next writer, if any."""
        for waiting in group:
            if waiting.written is None:
                waiting.alone = True
            if waiting is not mine:
                waiting.done.set()
        with self._lock:
            if self._waiting:
                nxt = self._waiting[0]
                nxt.lead = True
                nxt.done.set()
            else:
                self._writing = False

    def _write_group(self, group: list[_Waiting]) -> None:
        """All of `group` in one transaction, pipelined, or a group of one in its single
        autocommitted statement; on any failure none of it."""
        try:
            raw = self._engine.raw_connection()
        except Exception as exc:
            log.warning("intake.group_failed", size=len(group), error=type(exc).__name__)
            return
        conn = cast("psycopg.Connection[Any]", raw.driver_connection)
        single = len(group) == 1
        written: list[Written] = []
        try:
            conn.autocommit = single
            with conn.cursor() as cursor:
                if single:
                    cursor.execute(ENROLL_NEW, group[0].params)
                    written.append(cursor.fetchall())
                else:
                    cursor.executemany(ENROLL_NEW, [w.params for w in group], returning=True)
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
        for waiting, rows in zip(group, written, strict=False):
            waiting.written = rows


_writers: dict[int, GroupWriter] = {}
_writers_lock = threading.Lock()


def group_writer(engine: Engine) -> GroupWriter:
    """The process's writer for `engine` (one per engine, as the engine is one per process)."""
    with _writers_lock:
        writer = _writers.get(id(engine))
        if writer is None or writer._engine is not engine:
            writer = _writers[id(engine)] = GroupWriter(engine)
        return writer
