"""The rules the page checks apply (tests/support/pages.py): axe-core in the page, no
sideways scroll, the phone viewport, and the W3C Nu HTML checker over many pages at once."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import ROOT

TOOLS = ROOT / "tests" / "pagecheck"
AXE_JS = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = TOOLS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
#: The axe-core impacts that fail a page; and every impact, for pages held to more.
BLOCKING = ("serious", "critical")
EVERY_IMPACT = ("minor", "moderate", "serious", "critical")
#: The checker's own flags: C1 only (half the start-up CPU) needs a bigger thread stack.
JAVA_FLAGS = ("-Xss16m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


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
