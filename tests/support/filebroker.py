"""Processes that put and get on the embedded broker's folder at once (tests/dispatch)."""

from __future__ import annotations

import time
from pathlib import Path
from queue import Empty

from kombu import Connection, Exchange, Queue

EXCHANGE = Exchange("nurture", type="direct")


def connect(folder: Path) -> Connection:
    """A kombu connection to the file broker in `folder` (the layout nurture uses)."""
    from nurture.dispatch import files  # noqa: F401  (registers nurture-files://)

    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return Connection(
        "nurture-files://",
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "polling_interval": 0.01,
        },
    )


def produce(folder: str, tag: str, count: int) -> None:
    """Publish `count` messages `tag-0`... on the `work` queue (binding it first, as every
    process that starts does)."""
    with connect(Path(folder)) as conn:
        queue = Queue("work", EXCHANGE, routing_key="work")
        producer = conn.Producer()
        for n in range(count):
            producer.publish(
                {"id": f"{tag}-{n}", "pad": "x" * 2000},
                exchange=EXCHANGE,
                routing_key="work",
                declare=[queue],
            )


def consume(folder: str, out: str, idle_s: float) -> None:
    """Take messages from `work` until none came for `idle_s`; write their ids to `out`."""
    got: list[str] = []
    with connect(Path(folder)) as conn:
        queue = conn.SimpleQueue(Queue("work", EXCHANGE, routing_key="work"))
        last = time.monotonic()
        while time.monotonic() - last < idle_s:
            try:
                message = queue.get(timeout=0.05)
            except Empty:
                continue
            got.append(message.payload["id"])
            message.ack()
            last = time.monotonic()
    Path(out).write_text("\n".join(got))


def bind_and_unbind(folder: str, rounds: int) -> None:
    """Declare and delete a fanout queue over and over (what a pidbox reply queue does)."""
    fanout = Exchange("chatter", type="fanout")
    with connect(Path(folder)) as conn:
        channel = conn.channel()
        for n in range(rounds):
            queue = Queue(f"reply-{n}", fanout)(channel)
            queue.declare()
            queue.delete()
