"""What the browser asked for and what it said, from Chrome's performance and browser logs
(the browser fixture turns them on): requests to other origins, console refusals, and the
open page's HTML as the server sent it. Part of the page checks (tests/support/pages.py)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Schemes that never leave the machine.
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome", "chrome-extension", "devtools"})
#: ChromeDriver tries its own scripts in every frame; a frame sandboxed without scripts (the
#: studio's email previews, on purpose) refuses them. That is the driver's, not the page's.
_SANDBOXED = re.compile(r"Blocked script execution in .* the document's frame is sandboxed")


def _page_url(url: str) -> str:
    return url.split("#", 1)[0]


@dataclass
class _Traffic:
    """What the browser's logs said since the last look: URLs asked for, each main-frame
    document's request id by URL, console messages."""

    requested: list[str] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)


def _traffic(driver: Any) -> _Traffic:
    """Drain the performance and browser logs into the driver's `_Traffic`."""
    traffic: _Traffic = driver.__dict__.setdefault("_nurture_traffic", _Traffic())
    try:
        entries = driver.get_log("performance")
        console = driver.get_log("browser")
    except Exception as exc:  # a driver without the logs: say how to get them
        raise AssertionError(
            "the page checks read Chrome's performance and browser logs: start Chromium with "
            'goog:loggingPrefs {"performance": "ALL", "browser": "ALL"} (the browser fixture does)'
        ) from exc
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            traffic.requested.append(params["request"]["url"])
        elif message["method"] == "Network.responseReceived" and params.get("type") == "Document":
            traffic.documents[_page_url(params["response"]["url"])] = params["requestId"]
    traffic.console.extend(
        f"{m['level']} {m['message']}"
        for m in console
        if (
            (m["level"] == "SEVERE" and m.get("source") in ("javascript", "security"))
            or "Content Security Policy" in m["message"]
        )
        and not _SANDBOXED.search(m["message"])
    )
    return traffic


def outside_requests(driver: Any) -> list[str]:
    """Requests to a non-local origin since the last call, and what the console refused
    or failed on."""
    traffic = _traffic(driver)
    requested = list(dict.fromkeys(traffic.requested))
    console = list(dict.fromkeys(traffic.console))
    traffic.requested.clear()
    traffic.console.clear()
    problems = []
    for url in requested:
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS:
            continue
        problems.append(f"asked a non-local origin for {url[:160]}")
    problems += [f"console: {line[:300]}" for line in console]
    return problems


def served_html(driver: Any) -> str:
    """The open page's HTML as the server sent it (from Chrome's network records); the
    browser's DOM, serialised, only when those records are gone."""
    traffic = _traffic(driver)
    request_id = traffic.documents.get(_page_url(driver.current_url))
    if request_id is not None:
        try:
            body = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": request_id})
        except Exception:  # evicted from Chrome's buffer: fall back to the DOM
            body = None
        if body is not None:
            raw = body["body"]
            return base64.b64decode(raw).decode() if body.get("base64Encoded") else str(raw)
    return str(
        driver.execute_script(
            "return (document.doctype ? '<!DOCTYPE html>\\n' : '')"
            " + document.documentElement.outerHTML"
        )
    )
