"""How fast the SendGrid and Twilio channels hand messages to the fake provider.

`python -m bench.channel_calls [--messages 400] [--latency-ms 0]`: the real SDKs over real
HTTP to an in-process fake, 1 and 8 threads; prints messages/s and the mean call time.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

from nurture.channels import BaseChannel, OutgoingMessage
from nurture.channels.sendgrid import SendGridChannel
from nurture.channels.twilio import TwilioChannel
from tests.channels.test_contract import _email, _sms
from tests.fakes.provider import FakeProvider


def measure(
    channel: BaseChannel, make: Callable[..., OutgoingMessage], count: int, threads: int
) -> str:
    messages = [make(delivery_id=n) for n in range(1, count + 1)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(channel.send, messages))
    elapsed = time.perf_counter() - started
    return (
        f"{channel.provider:9} threads={threads}: {count / elapsed:7.0f} msg/s, "
        f"{elapsed / count * threads * 1000:6.2f} ms per call"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    fake = FakeProvider(latency_s=args.latency_ms / 1000).start()
    sendgrid = SendGridChannel("SG.bench", host=fake.url, timeout_s=10)
    twilio = TwilioChannel(
        account_sid="AC" + "0" * 32,
        auth_token="bench",
        from_number="+16175550100",
        api_base=fake.url,
        status_callback="https://nurture.example/webhooks/twilio/status",
        timeout_s=10,
    )
    try:
        for channel, make in ((sendgrid, _email), (twilio, _sms)):
            for threads in (1, 8):
                print(measure(channel, make, args.messages, threads), flush=True)
    finally:
        twilio.close()
        fake.stop()


if __name__ == "__main__":
    main()
