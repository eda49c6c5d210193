"""The HTTP client under Twilio's SDK: what it sends is what the SDK's own client would send,
over one kept-alive connection, through the environment's proxy."""

from __future__ import annotations

import pytest
import urllib3
from requests.models import RequestEncodingMixin

from nurture.channels.pool import provider_pool
from nurture.channels.twilio_http import PooledTwilioHttpClient, _encoded
from tests.channels.test_contract import _sms
from tests.channels.test_providers import _twilio
from tests.fakes.provider import FakeProvider


@pytest.mark.parametrize(
    "values",
    [
        {"To": "+16175550199", "Body": "Hi & bye = 100%", "ValidityPeriod": 2700},
        {"MediaUrl": ["https://a.example/1.png", "https://a.example/2.png"], "Body": "é ✓"},
        {"From": None, "To": "+1", "StatusCallback": "https://n.test/s?d=5&x=1"},
        {"PageSize": 50, "DateSent>": "2026-12-01", "Flag": True},
    ],
)
def test_a_form_or_query_is_encoded_as_requests_encodes_it(values: dict[str, object]) -> None:
    assert _encoded(values) == RequestEncodingMixin._encode_params(values)


def test_sms_sends_keep_their_connection(fake_provider: FakeProvider) -> None:
    channel = _twilio(fake_provider)
    try:
        for n in range(5):
            channel.send(_sms(delivery_id=70 + n))
    finally:
        channel.close()
    sent = fake_provider.messages("twilio")
    assert len(sent) == 5
    assert len({m.peer_port for m in sent}) == 1


def test_the_environments_proxy_carries_the_calls_unless_no_proxy_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    pool = provider_pool("https://api.twilio.com", 4)
    assert isinstance(pool, urllib3.ProxyManager)
    assert pool.proxy is not None and pool.proxy.host == "proxy.internal"

    monkeypatch.setenv("NO_PROXY", "api.twilio.com")
    assert not isinstance(provider_pool("https://api.twilio.com", 4), urllib3.ProxyManager)


def test_a_ca_bundle_from_the_environment_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/clinic/ca.pem")
    client = PooledTwilioHttpClient("https://api.twilio.com", timeout_s=1)
    assert client.pool.connection_pool_kw["ca_certs"] == "/etc/clinic/ca.pem"
