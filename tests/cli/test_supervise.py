"""The supervisor on plain processes: a dead child is started again, soon and then less
often while it keeps dying; stopping ends them all."""

from __future__ import annotations

import os
import signal
import sys

from nurture.cli.supervise import MAX_RESTART_DELAY_S, Supervisor
from tests.conftest import wait_for

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_a_killed_child_is_started_again_and_stop_ends_every_child() -> None:
    children = Supervisor({"a": SLEEPER, "b": SLEEPER}, poll_s=0.05)
    children.start()
    try:
        first = children.running()
        assert all(first.values())
        os.kill(first["a"] or 0, signal.SIGKILL)
        wait_for(
            lambda: children.running()["a"] not in (None, first["a"]),
            timeout_s=10,
            message="a started again",
        )
        assert children.running()["b"] == first["b"], "the other child was left alone"
        assert [c.restarts for c in children.children] == [1, 0]
    finally:
        codes = children.stop(timeout_s=10)
    assert codes == [-signal.SIGTERM, -signal.SIGTERM]
    assert children.running() == {"a": None, "b": None}


def test_a_child_that_keeps_dying_waits_longer_each_time_up_to_the_limit() -> None:
    children = Supervisor({"dies": [sys.executable, "-c", "raise SystemExit(3)"]}, poll_s=0.05)
    children.start()
    try:
        child = children.children[0]
        wait_for(lambda: child.restarts >= 3, timeout_s=30, message="three restarts")
        assert child.delay_s == 8.0 == MAX_RESTART_DELAY_S
    finally:
        children.stop(timeout_s=5)
