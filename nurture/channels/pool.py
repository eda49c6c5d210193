"""Kept-alive connections to a provider, as `requests` would make them: through the proxy the
environment names for the provider's address, trusting the CAs it names; and one request over
them, never retried (a retried POST could send a message twice)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import urllib3
from requests.utils import get_environ_proxies


def provider_pool(
    base_url: str, size: int, *, default_ca: str | None = None
) -> urllib3.PoolManager:
    """Kept-alive connections to a provider at `base_url`, through the proxy the environment
    names for it (HTTPS_PROXY, NO_PROXY, ...), read once, trusting REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE when set, else `default_ca` (None: the system's, as urllib does)."""
    ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    ca_certs = ca_certs or default_ca
    proxy = get_environ_proxies(base_url).get(urlsplit(base_url).scheme)
    if proxy:
        return urllib3.ProxyManager(proxy, maxsize=size, block=False, ca_certs=ca_certs)
    return urllib3.PoolManager(maxsize=size, block=False, ca_certs=ca_certs)


def send_once(
    pool: urllib3.PoolManager,
    method: str,
    url: str,
    *,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float | None,
    redirect: bool = False,
) -> urllib3.BaseHTTPResponse:
    """One request over `pool`: no retry, urllib3's own errors raised as they come."""
    return pool.request(
        method,
        url,
        body=body,
        headers=headers,
        timeout=timeout,
        retries=False,
        redirect=redirect,
    )
