"""`nurture run` watches its worker: a dead one is started again and sending resumes; a
parent killed outright leaves no child behind."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest

from tests.conftest import ApiProcess, wait_for
from tests.helpers import outbox
from tests.support.running import descendants, post_request, readyz, worker_pid

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _emails_to(n: int) -> int:
    return sum(f"p{n}@example.com" in p.read_text(errors="replace") for p in outbox("email"))


def test_a_killed_worker_is_started_again_and_a_killed_parent_leaves_no_child(
    env: dict[str, str], tmp_path: Path
) -> None:
    run = ApiProcess(env, tmp_path / "run.log", command=("run",)).start(timeout_s=150)
    try:
        wait_for(lambda: readyz(run)[0] == 200, timeout_s=90, message="a worker reporting")
        first = worker_pid(run)
        assert first is not None
        psutil.Process(first).send_signal(signal.SIGKILL)
        wait_for(
            lambda: (pid := worker_pid(run)) is not None and pid != first,
            timeout_s=10,
            message="the worker started again within 10 s",
        )
        assert post_request(run, 1).status_code == 201
        wait_for(lambda: _emails_to(1), timeout_s=90, message="sending to resume")
        assert run.log().count('"supervisor.child_died"') == 1, run.log()
        assert readyz(run)[1]["workers"] == "ok"

        family = descendants(run.process.pid)
        assert len(family) >= 2, "the worker and its embedded scheduler"
        run.process.send_signal(signal.SIGKILL)
        run.process.wait(10)
        _, alive = psutil.wait_procs(family, timeout=20)
        assert not alive, f"children left running: {[p.pid for p in alive]}"
    finally:
        for process in descendants(run.process.pid):
            process.kill()
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)
        run._log.close()
