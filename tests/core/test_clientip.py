"""The client's address behind trusted proxies: X-Forwarded-For read from the right."""

from __future__ import annotations

import pytest

from nurture.config import parse_networks
from nurture.core.clientip import client_address

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.1, ::1")


def test_without_trusted_proxies_the_header_counts_for_nothing() -> None:
    assert client_address("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_forwards() -> None:
    assert client_address("203.0.113.7", ["198.51.100.1"], PROXIES) == "203.0.113.7"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        (["198.51.100.1"], "198.51.100.1"),
        (["198.51.100.1, 10.2.3.4"], "198.51.100.1"),  # an inner proxy is skipped
        (["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # a forged left entry is never reached
        (["6.6.6.6", "198.51.100.1, 192.168.1.1"], "198.51.100.1"),  # several header lines
        (["garbage, 198.51.100.1"], "198.51.100.1"),
        (["198.51.100.1, garbage"], "10.0.0.5"),  # unreadable hop: stop at the last trusted
        (["10.9.9.9"], "10.9.9.9"),  # every hop trusted: the leftmost
        ([], "10.0.0.5"),
    ],
)
def test_a_trusted_proxys_forwarded_for_is_walked_from_the_right(
    forwarded: list[str], client: str
) -> None:
    assert client_address("10.0.0.5", forwarded, PROXIES) == client


def test_ipv6_proxies_and_clients() -> None:
    assert client_address("::1", ["2001:db8::7"], PROXIES) == "2001:db8::7"


def test_a_bad_proxy_setting_names_the_entry() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300'"):
        parse_networks("10.0.0.0/8, 10.0.0.300")
