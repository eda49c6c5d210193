"""The page checks themselves (tests/support/pages.py), in a real headless Chromium, on pages
served by a local HTTP server: a page that keeps every rule passes, and each broken rule is
reported by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import ARTIFACTS
from tests.support.pages import (
    PageChecks,
    check_page,
    need_page_checks,
    nu_errors,
    page_problems,
    served_html,
    set_width,
)
from tests.support.static_site import serve_pages

pytestmark = pytest.mark.slow

HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
"""
GOOD = (
    HEAD.format(title="A good page")
    + """<body>
<main>
<h1>A page that keeps every rule</h1>
<form method="post" action="/send">
<p><label for="email">Email address</label> <input id="email" name="email" type="email"></p>
<p><button type="submit">Send</button></p>
</form>
</main>
</body>
</html>
"""
)
OUTSIDE = "http://pagecheck-outside.invalid/pixel.png"  # .invalid never resolves
BAD = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>A bad page</title></head>
<body>
<main>
<h1>A page that breaks every rule</h1>
<img src="/missing.png">
<p><input type="text" name="who"></p>
<div id="wide" style="width: 1000px">a box wider than a phone</div>
<img alt="" src="{OUTSIDE}">
<p id="twice">one</p><p id="twice">two</p>
</main>
</body>
</html>
"""
#: The server's CSP refuses the outside image: still an attempt to reach the internet.
REFUSED = (
    HEAD.format(title="Refused")
    + f"""<body><main><h1>Refused</h1>
<img alt="" src="{OUTSIDE}"></main></body></html>
"""
)
#: A stray end tag: the browser's DOM drops it, the source as served keeps it.
SLOPPY = (
    HEAD.format(title="Sloppy")
    + "<body><main><h1>Sloppy</h1><p>one</span></p></main></body></html>"
)


@pytest.fixture
def site() -> Iterator[str]:
    need_page_checks()
    csp = {"Content-Security-Policy": "default-src 'none'; img-src 'self'"}
    with serve_pages(
        {
            "/good": (GOOD, {}),
            "/bad": (BAD, {}),
            "/refused": (REFUSED, csp),
            "/sloppy": (SLOPPY, {}),
        }
    ) as base:
        yield base


def test_a_page_that_keeps_every_rule_passes_at_both_widths_and_is_shot(
    site: str, browser: Any, page_checks: PageChecks
) -> None:
    for width in (390, 1280):
        (ARTIFACTS / f"pagecheck-good-{width}.png").unlink(missing_ok=True)
    browser.get(f"{site}/good")
    page_checks(browser, "pagecheck-good")
    for width in (390, 1280):
        assert (ARTIFACTS / f"pagecheck-good-{width}.png").stat().st_size > 1_000
    assert list(page_checks.pages) == ["pagecheck-good"], "kept for the Nu check"


def test_each_broken_rule_is_reported_naming_what_breaks_it(site: str, browser: Any) -> None:
    browser.get(f"{site}/bad")
    set_width(browser, 390)
    problems = "\n".join(page_problems(browser, "pagecheck-bad"))
    assert "axe image-alt (critical)" in problems
    assert "axe label (critical)" in problems and 'name="who"' in problems
    assert "scrolls sideways" in problems and "div#wide (1000 px wide" in problems
    assert f"asked a non-local origin for {OUTSIDE}" in problems
    assert "no <meta name=viewport" in problems
    errors = [str(e) for e in nu_errors({"bad": served_html(browser)})]
    assert any(e.startswith("bad:") and "Duplicate ID “twice”" in e for e in errors), errors
    with pytest.raises(pytest.fail.Exception, match="image-alt"):
        check_page(browser, "pagecheck-bad")


def test_a_request_the_csp_refused_is_still_reported(site: str, browser: Any) -> None:
    browser.get(f"{site}/refused")
    problems = "\n".join(page_problems(browser, "pagecheck-refused"))
    assert OUTSIDE in problems
    assert "Content Security Policy" in problems


def test_the_nu_check_reads_the_html_as_served_not_the_repaired_dom(
    site: str, browser: Any
) -> None:
    browser.get(f"{site}/sloppy")
    html = served_html(browser)
    assert "<p>one</span></p>" in html
    assert [e.message for e in nu_errors({"sloppy": html})] == ["Stray end tag “span”."]
    assert not nu_errors({"good": GOOD})


def test_the_pages_kept_by_page_checks_fail_on_a_nu_error(site: str, browser: Any) -> None:
    checks = PageChecks()
    browser.get(f"{site}/sloppy")
    checks(browser, "pagecheck-sloppy", widths=(390,))
    with pytest.raises(pytest.fail.Exception, match=r"pagecheck-sloppy:.*Stray end tag"):
        checks.check_html()
