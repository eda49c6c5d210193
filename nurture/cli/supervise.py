"""The children of `nurture run` and `nurture worker`: started, watched, started again.

A child that ends without being asked to is started again within `MAX_RESTART_DELAY_S`
(1 s at first, doubling while it keeps dying at once), with one log line each time. Stopping
the parent (SIGTERM, SIGINT) stops every child; a parent killed outright takes its children
with it through their lifeline (`nurture.lifeline`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import structlog

from nurture.lifeline import lifeline_env

log = structlog.get_logger(__name__)

#: The longest a dead child waits before it is started again.
MAX_RESTART_DELAY_S = 8.0
#: A child that ran this long before dying is restarted after the shortest delay again.
STABLE_AFTER_S = 60.0


@dataclass
class Child:
    """One supervised command and its current process."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay_s: float = 1.0
    restarts: int = 0
    dead_since: float | None = field(default=None, repr=False)


class Supervisor:
    """Starts `commands` (name → argv) and keeps them running until `stop()`."""

    def __init__(self, commands: dict[str, list[str]], *, poll_s: float = 0.2) -> None:
        self.children = [Child(name, command) for name, command in commands.items()]
        self.poll_s = poll_s
        self._stopping = threading.Event()
        self._read_end, self._write_end = os.pipe()  # the lifeline: only we hold the write end
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start every child, then watch them from a thread."""
        for child in self.children:
            self._spawn(child)
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.command,
            # Its own group: a terminal's Ctrl-C reaches it once, through `stop`.
            process_group=0,
            pass_fds=(self._read_end,),
            env={**os.environ, **lifeline_env(self._read_end)},
        )
        child.started_at = time.monotonic()
        child.dead_since = None

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_s):
            for child in self.children:
                self.check(child)

    def check(self, child: Child) -> None:
        """Start `child` again if it ended and its restart delay has passed."""
        process = child.process
        if process is None or process.poll() is None or self._stopping.is_set():
            return
        now = time.monotonic()
        if child.dead_since is None:
            child.dead_since = now
            if now - child.started_at > STABLE_AFTER_S:
                child.delay_s = 1.0
            log.error(
                "supervisor.child_died",
                child=child.name,
                pid=process.pid,
                code=process.returncode,
                restart_in_s=child.delay_s,
            )
        if now - child.dead_since < child.delay_s:
            return
        child.delay_s = min(child.delay_s * 2, MAX_RESTART_DELAY_S)
        child.restarts += 1
        self._spawn(child)
        assert child.process is not None
        log.warning(
            "supervisor.child_restarted",
            child=child.name,
            pid=child.process.pid,
            restarts=child.restarts,
        )

    def running(self) -> dict[str, int | None]:
        """Each child's pid, or None while it is down."""
        return {
            c.name: c.process.pid if c.process and c.process.poll() is None else None
            for c in self.children
        }

    def signal_all(self, signum: int) -> None:
        """Pass `signum` to every running child."""
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signum)

    def stop(self, timeout_s: float = 15.0, signum: int = signal.SIGTERM) -> list[int]:
        """`signum` to every child (SIGTERM or SIGINT: Celery's warm shutdown, running tasks
        finish), SIGKILL what is left after `timeout_s`; their exit codes."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self.signal_all(signum)
        deadline = time.monotonic() + timeout_s
        codes = []
        for child in self.children:
            if child.process is None:
                continue
            try:
                codes.append(child.process.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                child.process.kill()
                codes.append(child.process.wait())
        os.close(self._write_end)
        os.close(self._read_end)
        return codes
