"""For the clinic's website: `nurture form-snippet` prints what to paste to connect it."""

from __future__ import annotations

import ipaddress
import json
from html import escape
from urllib.parse import urlsplit

import typer

from nurture.cli import app, err_console, fail
from nurture.config import Settings, get_settings
from nurture.core.clock import utcnow
from nurture.intake.form import version_field
from nurture.intake.formguard import HONEYPOT, TOKEN_FIELD, origin_of
from nurture.intake.origins import allowed_origins, record_origin
from nurture.schedule.catalog import Catalog, load_catalog
from nurture.schedule.form import concern_choices, form_wording

FORM_PATH = "/forms/consultation"
#: Off-screen, not `display: none` (which some bots skip), and out of the tab order.
_HIDDEN = "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden"


def iframe_snippet(settings: Settings, catalog: Catalog) -> str:
    """The hosted form in a frame: branded, guarded and kept up to date by nurture. The frame
    fits its content at any width: the form tells its height (postMessage) and a few lines
    of script set it, after checking the message comes from nurture's origin and frame."""
    title = escape(f"Ask {catalog.clinic.name} for a consultation")
    origin = json.dumps(origin_of(settings.public_url) or "")
    return "\n".join(
        (
            f'<iframe id="nurture-form" src="{escape(settings.public_url + FORM_PATH)}" '
            f'title="{title}" style="width:100%;max-width:42rem;height:1700px;border:0">'
            "</iframe>",
            "<script>",
            "(function () {",
            '  var frame = document.getElementById("nurture-form");',
            '  window.addEventListener("message", function (event) {',
            f"    if (event.origin !== {origin} || event.source !== frame.contentWindow) return;",
            "    var data = event.data || {};",
            '    if (data.type === "nurture-form-height" && data.height > 0) {',
            '      frame.style.height = Math.ceil(data.height) + "px";',
            "    }",
            "  });",
            "})();",
            "</script>",
        )
    )


def html_snippet(settings: Settings, catalog: Catalog) -> str:
    """A plain HTML form in the site's own style, posting to the hosted endpoint.

    A pasted page cannot hold a fresh signed token: its script asks nurture for one when the
    page loads. Without the script (or without JavaScript) the post carries none, and
    nurture answers with its own form, filled in, for the person to confirm.
    """
    action = escape(settings.public_url + FORM_PATH)
    wording = form_wording(catalog)
    lines = [
        f'<form id="nurture-consultation" method="post" action="{action}" accept-charset="utf-8">',
        '  <p><label for="nc-first">First name</label><br>'
        '<input id="nc-first" name="first_name" autocomplete="given-name" required></p>',
        '  <p><label for="nc-last">Last name (optional)</label><br>'
        '<input id="nc-last" name="last_name" autocomplete="family-name"></p>',
        '  <p><label for="nc-email">Email address</label><br>'
        '<input id="nc-email" name="email" type="email" autocomplete="email"></p>',
        '  <p><label for="nc-phone">Mobile phone</label><br>'
        '<input id="nc-phone" name="phone" type="tel" autocomplete="tel"></p>',
        "  <fieldset><legend>What would you like help with?</legend>",
    ]
    for n, choice in enumerate(concern_choices(catalog), start=1):
        lines.append(
            f'    <p><input type="radio" id="nc-concern-{n}" name="concern" '
            f'value="{escape(choice.value)}"> <label for="nc-concern-{n}">'
            f"{escape(choice.label)}</label></p>"
        )
    lines += [
        "  </fieldset>",
        '  <p><label for="nc-message">Anything you would like us to know (optional)</label><br>'
        '<textarea id="nc-message" name="message" rows="5" maxlength="5000"></textarea></p>',
    ]
    for channel, shown in wording.items():
        name = f"consent_{channel.value}"
        lines.append(
            f'  <p><input type="checkbox" id="nc-{name}" name="{name}" value="yes"> '
            f'<label for="nc-{name}">{escape(shown.text)}</label></p>'
        )
        lines.append(
            f'  <input type="hidden" name="{version_field(channel)}" value="{shown.version}">'
        )
    lines += [
        f'  <div style="{_HIDDEN}" aria-hidden="true"><label for="nc-hp">Company website '
        f'(leave this empty)</label><input id="nc-hp" name="{HONEYPOT}" tabindex="-1" '
        'autocomplete="off"></div>',
        f'  <input type="hidden" name="{TOKEN_FIELD}" value="">',
        '  <input type="hidden" name="timezone" value="">',
        '  <p><button type="submit">Send my request</button></p>',
        "</form>",
        "<script>",
        "(function () {",
        '  var form = document.getElementById("nurture-consultation");',
        "  try { form.elements.timezone.value = "
        "Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) {}",
        f'  fetch("{action}/token", {{credentials: "omit"}})',
        "    .then(function (r) { return r.json(); })",
        f"    .then(function (d) {{ form.elements.{TOKEN_FIELD}.value = d.{TOKEN_FIELD}; }})",
        "    .catch(function () {});",
        "})();",
        "</script>",
    ]
    return "\n".join(lines)


def loopback(url: str) -> bool:
    """Whether `url` names this machine only (a website's visitors cannot reach it)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@app.command("form-snippet")
def form_snippet(
    kind: str = typer.Option("both", "--kind", help="iframe, html, or both"),
    site: str | None = typer.Option(
        None, "--site", help="Your website (https://clinic.example): allowed to show the form."
    ),
    local: bool = typer.Option(
        False, "--local", help="Allow a PUBLIC_URL on this machine (to try it out here)."
    ),
) -> None:
    """Print the snippets that connect the clinic's website to the hosted form; with
    --site, also allow that website to frame the form and post to it (no restart)."""
    if kind not in ("iframe", "html", "both"):
        raise typer.BadParameter("use iframe, html or both", param_hint="--kind")
    settings = get_settings()
    if loopback(settings.public_url) and not local:
        raise fail(
            f"NURTURE_PUBLIC_URL is {settings.public_url}, which only this machine can reach: "
            "set it to nurture's public address, or pass --local to try the snippet here"
        )
    catalog = load_catalog(settings.schedules_dir)
    if site is not None:
        try:
            origin = record_origin(site, now=utcnow())
        except ValueError as exc:
            raise fail(f"--site: {exc}") from None
        err_console.print(f"{origin} may now show the form", highlight=False)
    if kind in ("iframe", "both"):
        if kind == "both":
            typer.echo("<!-- 1. The hosted form in a frame (recommended) -->")
        typer.echo(iframe_snippet(settings, catalog))
    if kind in ("html", "both"):
        if kind == "both":
            typer.echo("\n<!-- 2. Or a plain HTML form in your site's own style -->")
        typer.echo(html_snippet(settings, catalog))
    if site is None and not allowed_origins(settings):
        err_console.print(
            "note: no website may show the form yet: run again with --site "
            "https://your-clinic.example (or set NURTURE_FORM_ORIGINS)",
            highlight=False,
            soft_wrap=True,
        )
