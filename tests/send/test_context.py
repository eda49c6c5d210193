"""A worker's threads asking for the send context at once share one context and one engine
(each engine would open its own pool of connections: 200 threads made PostgreSQL refuse
clients)."""

from __future__ import annotations

import threading

from nurture.db import engine as db
from nurture.send import context
from nurture.send.context import SendContext


def test_threads_starting_together_build_one_send_context_and_one_engine(
    env: dict[str, str],
) -> None:
    context.forget_send_context()
    db.reset_engines()
    start = threading.Barrier(32)
    got: list[SendContext] = []

    def first_task() -> None:
        start.wait()
        got.append(context.send_context())

    threads = [threading.Thread(target=first_task) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 32
    assert len({id(ctx) for ctx in got}) == 1
    assert len(db._engines) == 1 and len(db._factories) == 1
