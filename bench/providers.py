"""The "provider call" of the dispatch figures, pluggable: `--provider outbox|fake-http`.

`outbox` (figure 1) writes each message to a tmpfs folder: the send path's own cost with a
provider that costs next to nothing; its baseline is a bare no-op task. `fake-http` (figures
2 and 5) points the SendGrid/Twilio channels at the fake provider server on loopback with
100 ms latency; its baseline is a bare task making the same HTTP call.
"""

from __future__ import annotations

import importlib.util
import socket
from dataclasses import dataclass, field

from bench.stack import Proc, Stack


@dataclass
class Provider:
    """How sends reach "the provider", and what the bare baseline task does instead."""

    name: str
    #: NURTURE_* settings for the workers (keys without the prefix).
    settings: dict[str, str] = field(default_factory=dict)
    #: The bare task the baseline runs: `bench.noop`, or `bench.http` with `bare_args`.
    bare_task: str = "bench.noop"
    bare_args: list[str] = field(default_factory=list)
    server: Proc | None = None

    def start(self, stack: Stack) -> None:
        """Start what the provider needs (a server) and apply its settings to the stack."""
        stack.apply(**self.settings)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeHttpProvider(Provider):
    """SendGrid and Twilio channels against `python -m tests.fakes.provider` on loopback."""

    latency_ms: int = 100

    def start(self, stack: Stack) -> None:
        try:
            found = importlib.util.find_spec("tests.fakes.provider") is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise RuntimeError(
                "the fake provider (tests/fakes/provider.py) is not in this tree yet: "
                "figures 2 and 5 need it"
            )
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        self.server = stack.spawn(
            "fake-provider",
            [
                "-m",
                "tests.fakes.provider",
                "--port",
                str(port),
                "--latency-ms",
                str(self.latency_ms),
            ],
        )
        self.settings = {
            "email_backend": "sendgrid",
            "sms_backend": "twilio",
            "sendgrid_api_key": "SG.bench",
            "sendgrid_api_host": base,
            "twilio_account_sid": "AC" + "0" * 32,
            "twilio_auth_token": "bench",
            "twilio_from": "+15550001111",
            "twilio_api_base": base,
        }
        # The bare task makes the call a SendGrid send makes: one POST to the same server.
        self.bare_task = "bench.http"
        self.bare_args = [f"{base}/v3/mail/send", self.settings["sendgrid_api_key"]]
        super().start(stack)


def make_provider(name: str) -> Provider:
    """The provider named on the command line."""
    if name == "outbox":
        # Named, not implied: a figure may have pointed the stack at the fake server before.
        return Provider("outbox", settings={"email_backend": "outbox", "sms_backend": "outbox"})
    if name == "fake-http":
        return FakeHttpProvider("fake-http")
    raise ValueError(f"unknown provider {name!r}: use outbox or fake-http")
