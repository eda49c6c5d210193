"""`nurture run` on the embedded default: no Redis, no PostgreSQL, messages in the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, midday_zone, wait_for

pytestmark = pytest.mark.slow


def test_nurture_run_serves_the_api_and_sends_into_the_outbox(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    log = open(tmp_path / "run.log", "wb")
    # Nothing points at a server: the broker is a folder and the database a file.
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    run_env.update({k: v for k, v in env.items() if k != "NURTURE_DATABASE_URL"})
    run_env["NURTURE_BROKER_URL"] = "embedded"
    process = subprocess.Popen(
        [sys.executable, "-m", "nurture", "run", "--port", str(port)],
        cwd=tmp_path,
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: b"nurture: API on" in (tmp_path / "run.log").read_bytes(),
            timeout_s=150,
            message="nurture run to say the API is on",
        )
        # Said once it answers, not before: the first request right then succeeds.
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        response = httpx.post(
            f"{base}/v1/consultation-requests",
            headers={"Authorization": "Bearer test-key"},
            json={
                "first_name": "Kim",
                "email": "kim@example.com",
                "phone": "+16175550111",
                "concern": "fast",
                "timezone": midday_zone(),
            },
            timeout=10,
        )
        assert response.status_code == 201, response.text
        outbox = Path(env["NURTURE_OUTBOX_DIR"])
        wait_for(
            lambda: (
                len(list(outbox.glob("email/*.eml"))) >= 2
                and len(list(outbox.glob("sms/*.json"))) >= 2
            ),
            timeout_s=40,
            message="the first two steps in the outbox",
        )
        assert (tmp_path / "var" / "nurture.db").exists(), "default SQLite file under ./var"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 0, output
    assert "nurture: stopped" in output
    # The shipped clinic.yaml names nobody to tell of replies: one line says where to.
    notify = "say who at https://nurture.test/studio/settings#notify"
    assert output.count(notify) == 1, output
    assert "Traceback" not in output
    # Quiet: the dispatcher ticked every second, and only what mattered was said.
    assert "Sending due task" not in output and "nurture.dispatch[" not in output
    assert '"http.request"' in output and '"send.sent"' in output
