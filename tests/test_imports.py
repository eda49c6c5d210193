"""Importing code is free of side effects: the API, ops and CLI modules (and the API's
`/readyz`) build no Celery app and create nothing on disk. The embedded broker's folders
appear only once a worker, the scheduler or a publisher builds its app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PROBE = """
import importlib, pkgutil, nurture
import celery._state
skip = ("nurture.worker", "nurture.__main__", "nurture.cli.__main__")
for m in pkgutil.walk_packages(nurture.__path__, "nurture."):
    if m.name not in skip and ".migrations" not in m.name:
        importlib.import_module(m.name)
from fastapi.testclient import TestClient
from nurture.api import create_app
with TestClient(create_app()) as client:  # /readyz asks the broker too
    assert client.get("/readyz").json()["broker"] == "ok"
print(len(celery._state._apps))
"""


def test_importing_every_module_but_the_worker_builds_no_app_and_touches_no_disk(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env.update(NURTURE_VAR_DIR=str(var), NURTURE_DATABASE_URL=f"sqlite:///{tmp_path}/n.db")
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "0", done.stderr
    assert not var.exists()
