"""No page nurture serves loads anything from the internet: every HTML page of every GET
route (and the error and login pages) names no other origin in a script, style sheet,
image or frame, and its Content-Security-Policy allows none (outside the links the clinic
configures for its prospects). `/docs` is Swagger UI from the installed package."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.api.docs import ASSETS
from nurture.api.headers import clinic_origins
from nurture.api.requestlog import failure
from nurture.config import get_settings
from nurture.content.links import make_booking_token, make_unsubscribe_token
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import Contact, Delivery
from nurture.schedule import load_catalog
from tests.conftest import SECRET_KEY
from tests.helpers import at, enroll

AUTH = {"Authorization": "Bearer test-key"}
#: Attributes that make a browser fetch something, on the elements that have them.
FETCHING = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "track": ("src",),
    "input": ("src",),
}
CSP_KEYWORDS = {"'self'", "'none'", "'unsafe-inline'", "data:"}


class Fetches(HTMLParser):
    """Every URL an HTML page makes the browser fetch, and its inline style's url()s."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in FETCHING.get(tag, ()):
                self.urls += [part.strip().split(" ")[0] for part in value.split(",")]
            if value and name == "style" and "url(" in value:
                self.urls.append(value.split("url(", 1)[1].split(")", 1)[0].strip("'\""))


def external(url: str) -> str | None:
    """The origin `url` points at, when it is another site's; None for this site or data."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("", "data") and not parts.netloc:
        return None
    return f"{parts.scheme or 'https'}://{parts.netloc}".lower()


def foreign_sources(csp: str) -> list[str]:
    """The sources of a Content-Security-Policy that name another origin (or any)."""
    foreign = []
    for directive in csp.split(";"):
        name, *sources = directive.split()
        for source in sources:
            if source in CSP_KEYWORDS or source.startswith("'nonce-") or name == "sandbox":
                continue
            foreign.append(source)
    return foreign


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    enroll(at("2026-03-02 12:00"), concern="hip")
    with TestClient(create_app()) as test_client:
        yield test_client


def path_values() -> dict[str, str]:
    with session_scope() as s:
        contact = s.scalar(select(Contact))
        delivery = s.scalar(select(Delivery).where(Delivery.channel == Channel.EMAIL))
        assert contact is not None and delivery is not None
        return {
            "contact_id": str(contact.id),
            "sequence_id": delivery.enrollment.sequence_id,
            "step_id": delivery.step_id,
            "name": "swagger-ui.css",
            "/u/{token}": make_unsubscribe_token(SECRET_KEY, contact.id, Channel.EMAIL),
            "/b/{token}": make_booking_token(SECRET_KEY, contact.id, delivery.id),
            "/invite/{token}": "an-invitation-nobody-sent",
            "version": "1",
        }


def every_page(client: TestClient) -> Iterator[tuple[str, str]]:
    """(what, URL) of every GET route with real values, and of pages reached otherwise."""
    values = path_values()
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if "GET" not in (context.methods or set()):
            continue
        path = context.path or ""
        for name in re.findall(r"\{(\w+)(?::\w+)?\}", path):
            value = values.get(context.path or "") or values.get(name)
            assert value, f"{context.path}: give {name} a real value so its page is checked"
            path = re.sub(r"\{" + name + r"(:\w+)?\}", value, path)
        yield context.path or "", path
    yield "a link that is not valid", "/u/not-a-token"
    yield "a missing sequence", "/studio/sequences/no-such-sequence"
    yield "a missing prospect", "/ops/contacts/999999"


def check_page(what: str, response: object, allowed: set[str]) -> None:
    html, headers = response.text, response.headers  # type: ignore[attr-defined]
    parser = Fetches()
    parser.feed(html)
    loaded = {external(url) for url in parser.urls} - {None} - allowed
    assert not loaded, f"{what} loads from {loaded}"
    csp = headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp, f"{what}: no strict Content-Security-Policy"
    assert not set(foreign_sources(csp)) - allowed, f"{what}: CSP allows {foreign_sources(csp)}"


def test_no_html_page_loads_anything_from_another_origin(client: TestClient) -> None:
    catalog = load_catalog(get_settings().schedules_dir)
    allowed = set(clinic_origins(catalog.clinic))
    thanks = catalog.clinic.thanks_url
    if thanks:
        allowed.add(external(thanks) or "")
    checked = set()
    for what, url in every_page(client):
        for headers in (AUTH, {"Accept": "text/html"}):  # signed in, and not
            response = client.get(url, headers=headers, follow_redirects=False)
            # /readyz answers 503 while no worker reports (none runs here): its answer, no error.
            readiness = url == "/readyz" and response.status_code == 503
            assert response.status_code < 500 or readiness, (url, response.text[:300])
            if response.headers.get("content-type", "").startswith("text/html"):
                check_page(f"{what} ({url})", response, allowed)
                checked.add(what)
    assert checked >= {
        "/docs",
        "/ops",
        "/login",
        "/account",
        "/users",
        "/tokens",
        "/ops/search",
        "/ops/contacts/{contact_id}",
        "/ops/replies",
        "/ops/results",
        "/ops/audit",
        "/studio",
        "/studio/sequences/{sequence_id}",
        "/studio/sequences/{sequence_id}/steps/{step_id}/preview.html",
        "/forms/consultation",
        "/u/{token}",
        "a link that is not valid",
    }, checked


def test_the_error_page_loads_nothing_either() -> None:
    page = failure(RuntimeError("boom"), "req-1", wants_html=True)
    assert "default-src 'none'" in page.headers["content-security-policy"]
    parser = Fetches()
    parser.feed(bytes(page.body).decode())
    assert not {external(u) for u in parser.urls} - {None}


def test_docs_is_swagger_ui_from_the_installed_package_and_redoc_is_off(
    client: TestClient,
) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in page.text
    assert "<script>" not in page.text, "no inline script: the CSP allows none"
    for name, media_type in ASSETS.items():
        asset = client.get(f"/docs/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media_type)
        assert len(asset.content) > 500
    assert client.get("/docs/static/index.html").status_code == 404
    init = client.get("/docs/init.js").text
    assert "validatorUrl: null" in init and "queryConfigEnabled: false" in init
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "nurture"
