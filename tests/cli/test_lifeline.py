"""A child's lifeline: the pipe alone ends it once the parent's end closes (the portable
half; on Linux the parent-death signal is the other)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from nurture.lifeline import lifeline_env, watch

CHILD = "import time; from nurture.lifeline import watch; watch(); time.sleep(60)"


def test_a_child_ends_when_the_lifeline_pipe_closes() -> None:
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        pass_fds=(read_end,),
        env={**os.environ, **lifeline_env(read_end)},
    )
    os.close(read_end)
    try:
        assert child.poll() is None
        os.close(write_end)  # the parent "dies": our end of the pipe closes
        assert child.wait(20) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_without_a_lifeline_nothing_is_watched() -> None:
    assert watch({}) is None
    assert watch({"NURTURE_LIFELINE_FD": "x", "NURTURE_LIFELINE_PARENT": "1"}) is None
