"""CPU per message in one process, no Celery: nurture's channels and send path against the
bare task's SDK calls (figure 0's baseline), to the fake provider on loopback.

`python -m bench.sdk_cpu [-n 1500]` (Redis and PostgreSQL as for `make bench`) prints, as
CPU ms per message (this process): an email and an SMS through nurture's channels and through the
bare task's calls, each in a loop; then nurture's whole send path (read-ahead, checks,
render, take, call, outcome: `send_deliveries` in batches of 20) against the bare calls.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.providers import FakeHttpProvider
from bench.stack import bench_stack


def _cpu_ms(work: Callable[[], object], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        work()
    return (time.process_time() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_cpu", description=__doc__)
    parser.add_argument("-n", type=int, default=1500)
    count = parser.parse_args().n
    with bench_stack() as stack:
        from bench import bare
        from bench.profile import _send
        from nurture.channels.sendgrid import SendGridChannel
        from nurture.channels.twilio import TwilioChannel
        from nurture.config import get_settings
        from nurture.content.message import OutgoingMessage
        from nurture.core.clock import utcnow
        from nurture.core.states import Channel
        from nurture.logs import configure_logging

        configure_logging(get_settings())  # as a worker does: WARNING, JSON
        provider = FakeHttpProvider("fake-http", latency_ms=0)
        provider.start(stack)
        base = provider.settings["sendgrid_api_host"]
        now = datetime.now(UTC)
        email = OutgoingMessage(
            delivery_id=1,
            channel=Channel.EMAIL,
            to="p@bench.example",
            text=bare.MAIL["content"][0]["value"],  # type: ignore[index]
            html=bare.MAIL["content"][1]["value"],  # type: ignore[index]
            subject="Your follow-up",
            from_email="care@example.com",
            from_name="Clinic",
            unsubscribe_url="https://nurture.bench/u/t",
            now=now,
            metadata={"delivery_id": "1", "enrollment_id": "2"},
        )
        sms = OutgoingMessage(
            delivery_id=1,
            channel=Channel.SMS,
            to="+15550002222",
            text="Hi Sam, a short follow-up from the clinic. Reply STOP to opt out",
            now=now,
            not_after=now + timedelta(hours=3),
        )
        sendgrid = SendGridChannel("SG.bench", host=base, timeout_s=10)
        twilio = TwilioChannel(
            account_sid="AC" + "0" * 32,
            auth_token="bench",
            from_number="+15550001111",
            api_base=base,
            status_callback="https://nurture.bench/webhooks/twilio/status",
            timeout_s=10,
        )
        loops = {
            "nurture email (SendGridChannel)": lambda: sendgrid.send(email),
            "bare email": lambda: bare.sdk.run(base, 0),
            "nurture SMS (TwilioChannel)": lambda: twilio.send(sms),
            "bare SMS": lambda: bare.sdk.run(base, 1),
        }
        for label, work in loops.items():
            _cpu_ms(work, 50)  # warm
            print(f"{label:34s} {_cpu_ms(work, count):.3f} ms")
        send = _send(stack, count)
        started = time.process_time()
        send()
        path = (time.process_time() - started) / count * 1000
        pairs = [lambda n=n: bare.sdk.run(base, n) for n in range(count)]
        started = time.process_time()
        for call in pairs:
            call()
        calls = (time.process_time() - started) / count * 1000
        print(f"{'nurture send path, per message':34s} {path:.3f} ms ({utcnow():%H:%M} UTC)")
        print(f"{'bare SDK calls, per message':34s} {calls:.3f} ms = {path / calls:.2f}x")


if __name__ == "__main__":
    main()
