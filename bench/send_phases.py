"""Where a message's CPU goes on the send path, phase by phase, in one process (no Celery).

`python -m bench.send_phases [-n 3000]` (Redis and PostgreSQL as for `make bench`) sends N due
deliveries of the bench sequence (half email, half SMS) through the SendGrid and Twilio
channels to the fake provider on loopback, in `SEND_CHUNK` batches as the worker does, after
a warm-up of 300; then prints the CPU ms per message of the whole path and of each phase:
the load, the verdict, the render, the take, the provider call (and inside it each SDK call
and its HTTP request), and the recording of the outcomes. Each phase is timed with
`time.thread_time` around its function, so a phase's figure is its own thread's CPU; the
phases nest as indented. Every figure is divided by all N messages: each SDK's share is for
half of them (an email costs twice its "SendGrid SDK" line).
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable
from typing import Any

from bench.stack import bench_stack

#: (module, attribute, label); a label's indent says which phase it is part of.
PHASES = (
    ("nurture.send.pipeline", "load_queued", "load"),
    ("nurture.send.pipeline", "verdict", "verdict"),
    ("nurture.send.pipeline", "compose", "render"),
    ("nurture.content.render.Renderer", "_render", "  jinja templates"),
    ("nurture.content.md", "to_parts_of", "  markdown to HTML and text"),
    ("nurture.send.render", "envelope", "  envelope"),
    ("nurture.send.pipeline", "take_one", "take"),
    ("nurture.send.pipeline", "hand_over", "call"),
    ("nurture.send.calls", "hand_over", "call"),
    ("nurture.content.message.OutgoingMessage", "with_safe_headers", "  headers on one line"),
    ("nurture.channels.sendgrid.SendGridChannel", "_send", "  SendGrid SDK"),
    ("nurture.channels.sendgrid", "send_once", "    SendGrid's HTTP request"),
    ("nurture.channels.twilio.TwilioChannel", "_send", "  Twilio SDK"),
    ("nurture.channels.twilio_http", "send_once", "    Twilio's HTTP request"),
    ("nurture.send.calls", "record", "record"),
)


def _timed(spent: collections.Counter[str]) -> None:
    """Wrap each phase's function so that its thread's CPU time adds up under its label."""
    import importlib

    for where, name, label in PHASES:
        try:
            target: Any = importlib.import_module(where)
        except ModuleNotFoundError:  # a class: module.Class
            module_name, _, owner = where.rpartition(".")
            target = getattr(importlib.import_module(module_name), owner)
        real = getattr(target, name)

        def timed(
            *args: Any, _real: Callable[..., Any] = real, _label: str = label, **kwargs: Any
        ) -> Any:
            started = time.thread_time()
            try:
                return _real(*args, **kwargs)
            finally:
                spent[_label] += time.thread_time() - started

        setattr(target, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.send_phases", description=__doc__)
    parser.add_argument("-n", type=int, default=3000)
    count = parser.parse_args().n
    with bench_stack() as stack:
        from bench.profile import _send_sdk
        from nurture.config import get_settings
        from nurture.logs import configure_logging

        configure_logging(get_settings())  # as a worker does: WARNING, JSON
        spent: collections.Counter[str] = collections.Counter()
        _timed(spent)
        _send_sdk(stack, 300)()  # imports, clients, compiled templates, prepared statements
        spent.clear()
        work = _send_sdk(stack, count)
        started = time.process_time()
        work()
        total = (time.process_time() - started) / count * 1000
    print(f"{'send path, whole process':30s} {total:.3f} ms CPU per message")
    labels = dict.fromkeys(label for *_, label in PHASES)
    for label in labels:
        print(f"{label:30s} {spent[label] / count * 1000:.3f}")


if __name__ == "__main__":
    main()
