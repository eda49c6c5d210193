"""A child process ends when the process that started it dies, even by SIGKILL.

`nurture run` and `nurture worker` start Celery workers in their own process groups (a
terminal's Ctrl-C reaches them once, through the parent). Without a lifeline, a parent killed
with SIGKILL would leave them running, and sending. Two lines, either enough:

- Linux: `PR_SET_PDEATHSIG`: the kernel sends the child SIGTERM (Celery's warm shutdown)
  when its parent ends.
- Everywhere: a pipe whose write end only the parent holds (`LIFELINE_ENV` names the read end
  in the child), read in a thread; end of file means the parent is gone.

The child calls `watch()` as it starts (the worker's `worker_init`), not between fork and
exec: the parent has threads, and code run there may deadlock on a lock one of them held.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

#: The environment variables that give a child the read end of its lifeline pipe, and the
#: pid of the parent that holds the write end.
LIFELINE_ENV = "NURTURE_LIFELINE_FD"
PARENT_ENV = "NURTURE_LIFELINE_PARENT"
_PR_SET_PDEATHSIG = 1


def lifeline_env(read_end: int) -> dict[str, str]:
    """What a parent adds to a child's environment (with `pass_fds=(read_end,)`)."""
    return {LIFELINE_ENV: str(read_end), PARENT_ENV: str(os.getpid())}


def _set_parent_death_signal() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def follow_parent(environ: dict[str, str] | None = None) -> None:
    """In a process a supervised child forked (the worker's embedded scheduler): SIGTERM it
    when that child dies (Linux; elsewhere the lifeline pipe it inherited still ends it with
    the supervisor)."""
    env = environ if environ is not None else dict(os.environ)
    if env.get(LIFELINE_ENV, "").isdigit():
        _set_parent_death_signal()


def watch(environ: dict[str, str] | None = None) -> threading.Thread | None:
    """In the child: SIGTERM this process when the parent that started it dies. None when
    there is no lifeline (a worker started by hand, or by systemd or Docker)."""
    env = environ if environ is not None else dict(os.environ)
    fd_text, parent_text = env.get(LIFELINE_ENV, ""), env.get(PARENT_ENV, "")
    if not (fd_text.isdigit() and parent_text.isdigit()):
        return None
    fd = int(fd_text)
    _set_parent_death_signal()
    if os.getppid() != int(parent_text):  # the parent died before the line was set
        os.kill(os.getpid(), signal.SIGTERM)

    def wait_for_parent() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=wait_for_parent, name="lifeline", daemon=True)
    thread.start()
    return thread
