"""The fake provider as its own process, driven over HTTP (how load and chaos tests use it)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from nurture.channels.twilio import TwilioChannel
from nurture.errors import TransientSendError
from tests.channels.test_contract import _sms
from tests.conftest import (
    ROOT,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_FROM,
    free_port,
    wait_for,
)


@pytest.fixture
def fake_process() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.provider", "--port", str(port), "--latency-ms", "50"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_for(listening, timeout_s=15, message="the fake provider to listen")
    yield url
    process.terminate()
    process.wait(10)


def _post(url: str, data: object) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204


def test_a_separate_fake_takes_scripted_failures_and_reports_what_it_accepted(
    fake_process: str,
) -> None:
    channel = TwilioChannel(
        account_sid=TWILIO_ACCOUNT_SID,
        auth_token=TWILIO_AUTH_TOKEN,
        from_number=TWILIO_FROM,
        api_base=fake_process,
        timeout_s=2,
    )
    _post(f"{fake_process}/_fake/failures", [{"status": 429, "headers": {"Retry-After": "4"}}])
    with pytest.raises(TransientSendError) as busy:
        channel.send(_sms())
    assert busy.value.retry_after_s == 4.0
    started = time.monotonic()
    sid = channel.send(_sms(text="second try")).message_id
    assert time.monotonic() - started >= 0.05  # the configured latency
    with urllib.request.urlopen(f"{fake_process}/_fake/messages", timeout=5) as response:
        received = json.loads(response.read())
    assert [(m["message_id"], m["text"]) for m in received] == [(sid, "second try")]
    _post(f"{fake_process}/_fake/reset", {})
    with urllib.request.urlopen(f"{fake_process}/_fake/messages", timeout=5) as response:
        assert json.loads(response.read()) == []
    channel.close()
