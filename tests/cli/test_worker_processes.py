"""`nurture worker`: one process per CPU core by default, each with a threads pool."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nurture.cli.services import worker_processes, worker_queues
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE
from nurture.db import upgrade
from nurture.ops.broker import ping_workers
from tests.conftest import ROOT, use, wait_for


def test_the_default_is_one_threads_worker_process_per_core() -> None:
    cores = os.cpu_count() or 1
    assert worker_processes(0, "threads") == cores
    assert worker_processes(3, "threads") == 3
    # prefork forks its own processes (--concurrency), solo is one by design.
    assert worker_processes(0, "prefork") == 1
    assert worker_processes(4, "solo") == 1


def test_a_worker_takes_sends_and_the_dispatchers_ticks_unless_told_one_of_them() -> None:
    assert worker_queues("send,dispatch") == f"{SEND_QUEUE},{DISPATCH_QUEUE}"
    assert worker_queues("send") == SEND_QUEUE
    assert worker_queues(" dispatch , dispatch ") == DISPATCH_QUEUE
    for wrong in ("", "sends", "send,beat", ","):
        with pytest.raises(ValueError, match="send, dispatch or both"):
            worker_queues(wrong)


@pytest.mark.slow
def test_a_worker_of_two_processes_answers_as_two_nodes_and_stops_on_sigterm(
    env: dict[str, str], redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use(env, monkeypatch, broker_url=redis_url)
    upgrade()
    host = socket.gethostname()
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nurture.cli",
                "worker",
                "--processes",
                "2",
                "--concurrency",
                "2",
            ],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            nodes = [f"celery@{host}", f"celery1@{host}"]
            wait_for(
                lambda: ping_workers(timeout_s=1.0, destination=nodes) == 2,
                timeout_s=90,
                message="both worker processes answering a ping",
            )
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(60) == 0
            assert ping_workers(timeout_s=1.0, destination=nodes) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
