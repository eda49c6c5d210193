"""Page checks: what every page of nurture must pass, checked as the field checks it.

In a browser test, with the page open in the `browser` fixture's Chromium:

    def test_the_today_page_lists_who_asked(api_server, browser, page_checks):
        browser.get(f"{api_server}/today")
        page_checks(browser, "today")    # at 390 and 1280 px

`page_checks(driver, name)` (the fixture, tests/api/conftest.py) checks the page at each width
of `WIDTHS` and, once the test has passed, every page it checked goes through the W3C Nu HTML
checker in one run (a JVM start is costly); any problem fails the test, listing all of them.
At each width:

- axe-core (injected into the page) finds no serious or critical violation (rule, impact,
  the elements it names);
- the page does not scroll sideways (`scrollWidth <= innerWidth`; the widest elements are
  named) and has the phone viewport `<meta>`;
- the browser asked nothing of a non-local origin (Chrome's performance log: every request
  since the last check, frames included, even one the page's CSP then refused), and the
  console shows no CSP refusal and no script error;
- a screenshot of the whole page is saved as tests/artifacts/<name>-<width>.png: look at it.

`check_page(driver, name)` does the same at the current width only; `nu_errors(pages)` checks
any {name: html} at once; `served_html(driver)` is the current page's HTML as the server sent
it (what the Nu checker reads, rather than the browser's repaired DOM).

The tools are pinned in tests/pagecheck/package-lock.json and installed by
scripts/pagecheck.sh (run by the test command); without them, or without Java, these tests skip
locally naming what is missing, and fail with CI=true.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser import ARTIFACTS, need_browser
from tests.conftest import IN_CI, ROOT

TOOLS = ROOT / "tests" / "pagecheck"
AXE_JS = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = TOOLS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
#: A phone and a laptop, in CSS pixels.
WIDTHS = (390, 1280)
#: The axe-core impacts that fail a page; and every impact, for pages held to more.
BLOCKING = ("serious", "critical")
EVERY_IMPACT = ("minor", "moderate", "serious", "critical")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Schemes that never leave the machine.
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome", "chrome-extension", "devtools"})
#: The checker's own flags: C1 only (half the start-up CPU) needs a bigger thread stack.
JAVA_FLAGS = ("-Xss16m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
MAX_SHOT_PX = 20_000


def need_page_checks() -> None:
    """Skip locally, fail on CI, naming what the page checks lack and how to get it."""
    need_browser()
    missing = []
    if not AXE_JS.exists() or not VNU_JAR.exists():
        missing.append("axe-core and vnu-jar (scripts/pagecheck.sh: npm ci in tests/pagecheck)")
    if shutil.which("java") is None:
        missing.append("java (apt-get install openjdk-17-jre-headless)")
    if not missing:
        return
    message = f"page checks need {' and '.join(missing)}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


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


#: ChromeDriver tries its own scripts in every frame; a frame sandboxed without scripts (the
#: studio's email previews, on purpose) refuses them. That is the driver's, not the page's.
_SANDBOXED = re.compile(r"Blocked script execution in .* the document's frame is sandboxed")


def _page_url(url: str) -> str:
    return url.split("#", 1)[0]


def outside_requests(driver: Any) -> list[str]:
    """Requests to a non-local origin since the last call, and what the console refused
    or failed on."""
    traffic = _traffic(driver)
    requested, console = (
        list(dict.fromkeys(traffic.requested)),
        list(dict.fromkeys(traffic.console)),
    )
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


_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {iframes: false, resultTypes: ["violations"]})
  .then(r => done(r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " " + n.html.slice(0, 120))}))))
  .catch(e => done({error: String(e)}));
"""


def axe_violations(driver: Any, impacts: Iterable[str] = BLOCKING) -> list[str]:
    """axe-core's violations of `impacts` on the open page (frames are pages of their own)."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE_JS.read_text())
    driver.set_script_timeout(120)
    found = driver.execute_async_script(_AXE_RUN)
    if isinstance(found, dict):
        raise AssertionError(f"axe-core did not run: {found['error']}")
    wanted = set(impacts)
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']}: " + " | ".join(v["nodes"])
        for v in found
        if v["impact"] in wanted
    ]


_SIDEWAYS = """
const width = window.innerWidth;
const page = document.documentElement.scrollWidth;
if (page <= width) return {page, width, culprits: []};
const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
  + [...el.classList].map(c => "." + c).join("");
const path = el => {
  const names = [];
  for (let e = el; e && e !== document.body && names.length < 4; e = e.parentElement) {
    names.unshift(name(e));
    if (e.id) break;
  }
  return names.join(" > ");
};
const clipped = el => {
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== "visible") return true;
  }
  return false;
};
const culprits = [...document.body.querySelectorAll("*")]
  .map(el => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.right > width + 1 && !clipped(el))
  .sort((a, b) => b[1].right - a[1].right || a[1].width - b[1].width)
  .slice(0, 3)
  .map(([el, r]) => `${path(el)} (${Math.round(r.width)} px wide, ends at ${Math.round(r.right)})`);
return {page, width, culprits};
"""


def sideways_scroll(driver: Any) -> list[str]:
    """The page is wider than the window (it scrolls sideways): the widest elements named."""
    found = driver.execute_script(_SIDEWAYS)
    if found["page"] <= found["width"]:
        return []
    return [
        f"scrolls sideways: {found['page']} px wide in a {found['width']} px window; widest: "
        + "; ".join(found["culprits"])
    ]


def phone_viewport(driver: Any) -> list[str]:
    """Without `<meta name=viewport content="width=device-width…">` a phone lays the page out
    980 px wide and shrinks it."""
    content = driver.execute_script(
        "const m = document.querySelector('meta[name=viewport]'); return m && m.content"
    )
    if content and "width=device-width" in content:
        return []
    return ["no <meta name=viewport content=width=device-width>: a phone shows it shrunk"]


def set_width(driver: Any, width: int, height: int = 900) -> None:
    """Make the page's viewport `width` CSS pixels wide (the window is a little wider when
    the browser draws a frame of its own)."""
    driver.set_window_size(width, height)
    inner = int(driver.execute_script("return window.innerWidth"))
    if inner != width:
        driver.set_window_size(2 * width - inner, height)


def shoot(driver: Any, path: Path) -> Path:
    """A screenshot of the whole page at the viewport's width: the window is made as tall as
    the page for it (Chrome's capture beyond the window leaves frames blank), then put back."""
    before = driver.get_window_size()
    chrome = before["height"] - int(driver.execute_script("return window.innerHeight"))
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(before["width"], min(height, MAX_SHOT_PX) + chrome)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(before["width"], before["height"])
    return path


def page_problems(driver: Any, name: str, impacts: Iterable[str] = BLOCKING) -> list[str]:
    """Every check at the current width, the screenshot taken; the problems found."""
    problems = [
        *axe_violations(driver, impacts),
        *sideways_scroll(driver),
        *phone_viewport(driver),
        *outside_requests(driver),
    ]
    width = int(driver.execute_script("return window.innerWidth"))
    shoot(driver, ARTIFACTS / f"{name}-{width}.png")
    return [f"{name} at {width} px: {p}" for p in problems]


def check_page(driver: Any, name: str, impacts: Iterable[str] = BLOCKING) -> None:
    """Fail, listing every problem, unless the open page passes the checks at this width."""
    problems = page_problems(driver, name, impacts)
    if problems:
        pytest.fail("page checks:\n  " + "\n  ".join(problems), pytrace=False)


@dataclass(frozen=True)
class NuError:
    page: str
    line: int | None
    message: str
    extract: str

    def __str__(self) -> str:
        where = f"{self.page}:{self.line}" if self.line else self.page
        return f"{where}: {self.message} [{self.extract.strip()[:100]}]"


def nu_errors(pages: Mapping[str, str]) -> list[NuError]:
    """The W3C Nu HTML checker's errors in each of `pages` ({name: html}), in one run."""
    if not pages:
        return []
    with tempfile.TemporaryDirectory(prefix="nurture-nu-") as folder:
        names = {}
        for n, (name, html) in enumerate(pages.items()):
            file = f"{n:03d}-{re.sub(r'[^A-Za-z0-9_-]+', '-', name)}.html"
            (Path(folder) / file).write_text(html, encoding="utf-8")
            names[file] = name
        done = subprocess.run(
            [
                *("java", *JAVA_FLAGS, "-jar", str(VNU_JAR)),
                *("--errors-only", "--format", "json", "--stdout"),
                *(str(Path(folder) / file) for file in names),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    try:
        messages = json.loads(done.stdout)["messages"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise AssertionError(f"the Nu HTML checker failed: {done.stdout}{done.stderr}") from exc
    return [
        NuError(
            page=names.get(Path(urlsplit(m.get("url", "")).path).name, m.get("url", "?")),
            line=m.get("lastLine"),
            message=m["message"],
            extract=m.get("extract", ""),
        )
        for m in messages
        if m["type"] in ("error", "non-document-error")
    ]


class PageChecks:
    """The `page_checks` fixture: call it with the page open; its Nu check runs once the
    test has passed (tests/api/conftest.py)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    def __call__(
        self,
        driver: Any,
        name: str,
        widths: Iterable[int] = WIDTHS,
        impacts: Iterable[str] = BLOCKING,
    ) -> None:
        """Check the open page at each of `widths`, keep its HTML for the Nu check, and fail
        listing every problem found at any width."""
        need_page_checks()
        html = served_html(driver)
        before = driver.get_window_size()
        problems = []
        try:
            for width in widths:
                set_width(driver, width)
                problems += page_problems(driver, name, impacts)
        finally:
            driver.set_window_size(before["width"], before["height"])
        self.pages[name] = html
        if problems:
            pytest.fail("page checks:\n  " + "\n  ".join(problems), pytrace=False)

    def check_html(self) -> None:
        """Fail listing the Nu HTML checker's errors in the pages checked so far."""
        errors = nu_errors(self.pages)
        self.pages.clear()
        if errors:
            pytest.fail(
                "Nu HTML checker:\n  " + "\n  ".join(map(str, errors)),
                pytrace=False,
            )
