"""Commands a test runs that start processes of their own (the bench starts workers, a
scheduler and servers): whichever way the test ends, none of them outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def run_in_group(
    args: Sequence[str], *, cwd: Path, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, capture_output=True, text=True)` in a process group of its own.

    When it ends, times out (`subprocess.TimeoutExpired`) or the test is stopped (pytest's
    timeout), the group is sent SIGTERM (a supervisor passes it on to its children), given
    a moment, then SIGKILL: an orphaned worker would eat the CPU of every test after it.
    """
    process = subprocess.Popen(
        list(args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    finally:
        _end_group(process)
    return subprocess.CompletedProcess(list(args), process.returncode, stdout, stderr)


def _end_group(process: subprocess.Popen[str], grace_s: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.1)
            process.poll()
    process.poll()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
