"""Two runs of the suite at once never share a Redis database (tests/support/databases.py):
each test process claims one no other holds, and a process that ends lets go of its claim."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import ROOT

CLAIM = (
    "import sys; from tests.support.databases import own_redis_db; "
    "print(own_redis_db(), flush=True); sys.stdin.read()"
)


def _claimer() -> tuple[subprocess.Popen[str], int]:
    """A process that claims a database and holds it until its stdin closes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NURTURE_TEST_REDIS_DB", "NURTURE_TEST_REDIS_DBS", "PYTEST_XDIST_WORKER")
    }
    process = subprocess.Popen(
        [sys.executable, "-c", CLAIM],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def test_two_processes_claim_two_databases_and_an_ended_one_lets_go() -> None:
    first, one = _claimer()
    second, two = _claimer()
    try:
        assert one != two, "two test processes at once were given the same Redis database"
    finally:
        second.communicate("")
    first.communicate("")
    host = os.environ.get("NURTURE_TEST_REDIS_HOST", "127.0.0.1")
    port = os.environ.get("NURTURE_TEST_REDIS_PORT", "6379")
    lock = Path(tempfile.gettempdir()) / "nurture-test-redis" / f"{host}-{port}-{one}.lock"
    with open(lock, "ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the claim outlived it
        fcntl.flock(held, fcntl.LOCK_UN)
