"""The embedded broker's folder shared by several processes: every message whole, once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from queue import Empty

import pytest

from nurture.dispatch.files import BAD_FOLDER, message_name
from tests.support import filebroker

pytestmark = pytest.mark.slow
SPAWN = multiprocessing.get_context("spawn")


def _run(target: object, *args: object) -> multiprocessing.process.BaseProcess:
    process = SPAWN.Process(target=target, args=args)
    process.start()
    return process


def test_three_producers_and_three_consumers_see_every_message_once(tmp_path: Path) -> None:
    broker = tmp_path / "broker"
    consumers = [
        _run(filebroker.consume, str(broker), str(tmp_path / f"got-{n}"), 8.0) for n in range(3)
    ]
    producers = [_run(filebroker.produce, str(broker), f"p{n}", 300) for n in range(3)]
    chatter = [_run(filebroker.bind_and_unbind, str(broker), 200) for _ in range(2)]
    for process in producers + chatter + consumers:
        process.join(120)
        assert process.exitcode == 0, f"{process.name} ended with {process.exitcode}"
    got = [
        line for n in range(3) for line in (tmp_path / f"got-{n}").read_text().splitlines() if line
    ]
    sent = {f"p{p}-{n}" for p in range(3) for n in range(300)}
    assert len(got) == len(sent), "a message was lost or taken twice"
    assert set(got) == sent
    bad = broker / BAD_FOLDER
    assert not bad.exists() or not any(bad.iterdir()), "a message was read half written"
    assert not list((broker / "queue").iterdir())


def test_an_exchange_table_is_never_seen_empty_while_others_change_it(tmp_path: Path) -> None:
    broker = tmp_path / "broker"
    with filebroker.connect(broker) as conn:
        channel = conn.channel()
        filebroker.Queue("keep", filebroker.Exchange("chatter", type="fanout"))(channel).declare()
        changers = [_run(filebroker.bind_and_unbind, str(broker), 300) for _ in range(2)]
        reads = 0
        while any(p.is_alive() for p in changers):
            rows = channel.get_table("chatter")
            assert any(row.queue == "keep" for row in rows), rows
            reads += 1
        for process in changers:
            process.join(60)
            assert process.exitcode == 0
    assert reads > 100


def test_a_message_that_does_not_decode_is_set_aside_and_the_next_one_taken(
    tmp_path: Path,
) -> None:
    broker = tmp_path / "broker"
    with filebroker.connect(broker) as conn:
        queue = conn.SimpleQueue(filebroker.Queue("work", filebroker.EXCHANGE, "work"))
        # What kombu's own transport leaves for a moment: a message file created empty.
        (broker / "queue" / message_name("work")).write_bytes(b"")
        filebroker.produce(str(broker), "after", 1)
        message = queue.get(timeout=5)
        assert message.payload["id"] == "after-0"
        message.ack()
        with pytest.raises(Empty):
            queue.get(timeout=0.3)
    assert [p.stat().st_size for p in (broker / BAD_FOLDER).iterdir()] == [0]
