"""Malformed numbers, ids, dates and JSON are 4xx answers naming the problem, never a 500:
in signature headers, in every integer parameter of every route, in date ranges, and in
JSON bodies of any depth (checked before any authentication)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from annotated_types import Ge, Le
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.core.inputs import MAX_ID, MAX_JSON_DEPTH, load_json, parse_id
from nurture.errors import InvalidValueError
from tests.conftest import ROOT, use
from tests.signing import (
    CALCOM_SECRET,
    CALENDLY_SIGNING_KEY,
    calcom_signature,
    calendly_signature,
    post_sendgrid,
    post_twilio,
    sign_sendgrid,
)

AUTH = {"Authorization": "Bearer test-key"}
#: Numbers as an attacker writes them: non-ASCII digits, signs, exponents, spaces, sizes.
ODD_NUMBERS = ["²", "١٢٣", "1e9", "+5", "-5", " 7", "1_000", "0x10", "9" * 30, "", "NaN"]
TOO_BIG = str(2**64)
#: Far deeper than Python's recursion limit, well under the body size limit.
DEEP = b"[" * 20_000 + b"]" * 20_000
#: For what is refused before any query (a signature's header, a path or query parameter's
#: bounds, a body's depth): the database adds nothing, so SQLite only. What reaches the
#: database (a SendGrid event's odd numbers, the date ranges) runs on both.
BEFORE_THE_DATABASE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def raw(text: str) -> bytes:
    """A header value as a client may send its bytes: Latin-1 where it can (what the server
    decodes headers as, so '²' arrives as '²'), else UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def post_raw(app: Any, path: str, body: bytes, headers: dict[str, bytes]) -> tuple[int, str]:
    """POST straight to the ASGI app with these exact header bytes (an HTTP client library
    re-encodes them; a server hands them over as they came). Its status and body."""
    import asyncio

    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("192.0.2.1", 1234),
        "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((name.lower().encode(), value) for name, value in headers.items()),
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], text.decode()


@pytest.fixture
def client(db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    use(env, monkeypatch, calendly_signing_key=CALENDLY_SIGNING_KEY, calcom_secret=CALCOM_SECRET)
    with TestClient(create_app()) as test_client:
        yield test_client


# --- numbers in headers ------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ODD_NUMBERS)
@BEFORE_THE_DATABASE
def test_an_odd_timestamp_in_calendlys_signature_is_a_403(client: TestClient, stamp: str) -> None:
    body = b'{"event": "invitee.created", "payload": {}}'
    good = calendly_signature(body).split(",")[1]
    header = {"Calendly-Webhook-Signature": raw(f"t={stamp},{good}")}
    status, text = post_raw(client.app, "/webhooks/calendly", body, header)
    assert status == 403, text
    assert "calendly signature" in text


@pytest.mark.parametrize("stamp", ODD_NUMBERS)
@BEFORE_THE_DATABASE
def test_an_odd_timestamp_from_sendgrid_is_a_403(
    webhook_client: TestClient, sendgrid_key: Any, stamp: str
) -> None:
    payload = "[]"
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": sign_sendgrid(
            sendgrid_key, payload, stamp
        ).encode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": raw(stamp),
    }
    status, text = post_raw(webhook_client.app, "/webhooks/sendgrid/events", b"[]", headers)
    assert status == 403, text


@pytest.mark.parametrize("length", ["²", "-1", "1e3", "99999999999999999999999"])
def test_an_odd_content_length_is_a_400_or_413(length: str) -> None:
    import asyncio

    from nurture.api.bodylimit import BodyLimit

    answers: list[dict[str, Any]] = []

    async def app(*_: Any) -> None:
        raise AssertionError("the app must not see it")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/bookings",
        "headers": [(b"content-length", length.encode())],
    }
    asyncio.run(BodyLimit(app, limit=1024, larger={})(scope, receive, send))
    assert answers[0]["status"] in (400, 413)


# --- integers in every route --------------------------------------------------------------


def _bounds(annotation: Any, metadata: list[Any]) -> tuple[bool, list[Any]]:
    """Whether `annotation` is an integer type, and its constraints (through Optional)."""
    found = list(metadata)
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return _bounds(base, [*found, *extra])
    if typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType):
        results = [_bounds(arg, found) for arg in typing.get_args(annotation)]
        is_int = any(r[0] for r in results)
        return is_int, [c for r in results for c in r[1]]
    return annotation is int, found


def integer_parameters() -> Iterator[tuple[str, str, str, list[Any]]]:
    """(route, kind, name, constraints) of every integer parameter of every route."""
    app = create_app()

    def walk(dependant: Any) -> Iterator[Any]:
        yield dependant
        for sub in dependant.dependencies:
            yield from walk(sub)

    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        for dependant in walk(context.dependant):
            for kind in ("path", "query", "header", "cookie", "body"):
                for field in getattr(dependant, f"{kind}_params"):
                    info = field.field_info
                    is_int, constraints = _bounds(info.annotation, list(info.metadata))
                    if is_int:
                        yield context.path, kind, field.name, constraints


def test_every_integer_parameter_of_every_route_is_bounded_to_a_64_bit_row_id(
    env: dict[str, str],
) -> None:
    found = list(integer_parameters())
    assert {(path, name) for path, _, name, _ in found} >= {
        ("/ops/contacts/{contact_id}", "contact_id"),
        ("/ops/deliveries/{delivery_id}/{action}", "delivery_id"),
        ("/ops/replies/{reply_id}/{action}", "reply_id"),
        ("/webhooks/twilio/status", "d"),
    }
    for path, kind, name, constraints in found:
        lows = [c.ge for c in constraints if isinstance(c, Ge)]
        highs = [c.le for c in constraints if isinstance(c, Le)]
        assert lows and min(lows) >= 0, f"{path}: {kind} {name} has no lower bound"
        assert highs and max(highs) <= MAX_ID, f"{path}: {kind} {name} has no upper bound"


@pytest.mark.parametrize("value", [TOO_BIG, "²", "-1", "1e400", "0"])
@BEFORE_THE_DATABASE
def test_an_out_of_range_id_in_any_path_is_a_422_naming_it(client: TestClient, value: str) -> None:
    probed = 0
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.dependant.path_params:
            continue
        params = {f.name: f for f in context.dependant.path_params}
        ints = [n for n, f in params.items() if _bounds(f.field_info.annotation, [])[0]]
        for name in ints:
            path = context.path
            for other, field in params.items():
                literal = typing.get_args(field.field_info.annotation)
                filler = value if other == name else (literal[0] if literal else "x")
                path = path.replace("{" + other + "}", str(filler))
            for method in sorted((context.methods or set()) - {"HEAD"}):
                response = client.request(method, path, headers=AUTH)
                assert response.status_code == 422, (method, path, response.text)
                assert name in response.text
                probed += 1
    assert probed >= 3


@pytest.mark.parametrize("d", [TOO_BIG, "²", "-1", "1e3", "9" * 40])
@BEFORE_THE_DATABASE
def test_an_out_of_range_delivery_in_twilios_status_callback_is_a_422(
    webhook_client: TestClient, d: str
) -> None:
    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "failed", "AccountSid": "AC1"}
    response = post_twilio(webhook_client, "/webhooks/twilio/status", params, query=f"d={d}")
    assert response.status_code == 422, response.text
    assert '"d"' in response.text


def test_a_status_callback_for_delivery_zero_a_staff_message_is_accepted(
    webhook_client: TestClient,
) -> None:
    params = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert (
        post_twilio(webhook_client, "/webhooks/twilio/status", params, query="d=0").status_code
        == 204
    )


ODD_DELIVERY_IDS = [TOO_BIG, "²", "-1", "1e3", 2**70, 1.5, None, [1]]
ODD_TIMESTAMPS = [10**20, -(10**20), 1.5e300, "²", True]


def test_odd_numbers_in_a_sendgrid_event_change_nothing_and_are_not_a_500(
    webhook_client: TestClient, sendgrid_key: Any
) -> None:
    """Every pair of an odd delivery id and an odd timestamp, each in a signed post of its
    own on one app (40 posts; a test each cost an app's start-up 40 times over)."""
    answers = {}
    for delivery_id, timestamp in itertools.product(ODD_DELIVERY_IDS, ODD_TIMESTAMPS):
        event = {
            "email": "robin@example.com",
            "timestamp": timestamp,
            "event": "delivered",
            "sg_event_id": f"ev-{delivery_id}-{timestamp}",
            "sg_message_id": "nobody.recvd",
            "delivery_id": delivery_id,
        }
        answer = post_sendgrid(webhook_client, sendgrid_key, [event])
        answers[f"delivery_id={delivery_id!r} timestamp={timestamp!r}"] = answer.status_code
    assert {pair: code for pair, code in answers.items() if code != 204} == {}
    assert len(answers) == len(ODD_DELIVERY_IDS) * len(ODD_TIMESTAMPS)


def test_a_flash_note_names_only_an_ascii_id(client: TestClient) -> None:
    for done in ("/ops?done=canceled&id=²", "/ops/replies?done=handled&id=" + TOO_BIG):
        page = client.get(done, headers=AUTH)
        assert page.status_code == 200 and "²" not in page.text and TOO_BIG not in page.text


def test_parse_id_takes_ascii_row_ids_only() -> None:
    assert parse_id("42") == 42 and parse_id(str(MAX_ID)) == MAX_ID
    for odd in [*ODD_NUMBERS, "0", str(MAX_ID + 1), None]:
        assert parse_id(odd) is None, odd


# --- date ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "until", "named"),
    [
        ("0001-01-01", "9999-12-31", "since"),
        ("2026-01-01", "9999-12-31", "until"),
        ("0001-01-01T00:00:00+05:00", "", "since"),
        ("", "9999-12-31T23:59:59-05:00", "until"),
        ("1969-12-31", "", "since"),
        ("", "3000-01-01T00:00", "until"),
    ],
)
def test_a_date_range_past_what_nurture_can_hold_is_a_400_naming_the_field(
    client: TestClient, since: str, until: str, named: str
) -> None:
    page = client.get("/ops/results", params={"since": since, "until": until}, headers=AUTH)
    assert page.status_code == 400, page.text
    assert f"{named}:" in page.text and "out of range" in page.text


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--since", "0001-01-01", "--until", "9999-12-31"],
        ["deliveries", "--since", "99999999999d"],
        ["deliveries", "--until", "9999-12-31T23:59:59-05:00"],
        ["timeline", "hip-pain-consultation", "--start", "9999-12-31T23:00"],
    ],
    ids=["report", "deliveries-since", "deliveries-until", "timeline"],
)
def test_the_cli_says_a_date_is_out_of_range_in_one_line(
    env: dict[str, str], db: str, argv: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nurture.cli", *argv],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "out of range" in done.stderr or "from 1970 to 2999" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


# --- JSON bodies ---------------------------------------------------------------------------

JSON_ROUTES = [
    "/v1/consultation-requests",
    "/v1/bookings",
    "/webhooks/sendgrid/events",
    "/webhooks/calendly",
    "/webhooks/calcom",
    "/studio/sequences/hip-pain-consultation/steps/self-test/test-send",
]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
@BEFORE_THE_DATABASE
def test_deeply_nested_json_is_refused_before_any_auth_or_signature(
    client: TestClient, path: str, chunked: bool
) -> None:
    """No key, no signature: the body is refused before anything reads it."""
    body: Any = iter([DEEP[:20_000], DEEP[20_000:]]) if chunked else DEEP
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in response.json()["detail"]


def test_deep_json_inside_a_string_is_only_text(client: TestClient) -> None:
    body = {"first_name": "Ada", "email": "ada@example.com", "message": "[" * 5000}
    response = client.post("/v1/consultation-requests", json=body, headers=AUTH)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/webhooks/calendly", "calendly"),
        ("/webhooks/calcom", "calcom"),
        ("/v1/consultation-requests", "key"),
        ("/v1/bookings", "key"),
    ],
)
def test_a_signed_or_keyed_body_holding_an_unreadable_number_is_a_4xx(
    client: TestClient, path: str, headers: str
) -> None:
    body = b'{"event": "invitee.created", "first_name": ' + b"1" * 5000 + b"}"
    sent = {
        "calendly": {"Calendly-Webhook-Signature": calendly_signature(body)},
        "calcom": {"X-Cal-Signature-256": calcom_signature(body)},
        "key": AUTH,
    }[headers]
    response = client.post(path, content=body, headers={**sent, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "too large to read" in response.text


def test_deep_json_in_inbound_parses_envelope_field_is_not_a_500(
    client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, sendgrid_inbound_user="parse", sendgrid_inbound_password="pw")
    with TestClient(create_app()) as inbound:
        for envelope in ("[" * 5000, '{"to": 5}', '{"to": "a@b.example"}', "1" * 5000):
            response = inbound.post(
                "/webhooks/sendgrid/inbound",
                data={"from": "a@b.example", "to": "c@d.example", "envelope": envelope},
                auth=("parse", "pw"),
            )
            assert response.status_code < 500, response.text


def test_load_json_names_what_is_wrong() -> None:
    for raw, words in [
        (DEEP, "nested deeper"),
        (b"{", "invalid JSON"),
        (b"\xff", "invalid JSON"),
        (b"1" * 5000, "too large to read"),
    ]:
        with pytest.raises(InvalidValueError, match=words):
            load_json(raw)
    assert load_json(json.dumps({"a": [[["x]]]"]]]})) == {"a": [[["x]]]"]]]}


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv", [["retry", TOO_BIG], ["cancel", "0"], ["replies", "--handled", TOO_BIG]]
)
def test_the_cli_refuses_an_id_out_of_range_without_a_traceback(
    env: dict[str, str], db: str, argv: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nurture.cli", *argv],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Invalid value" in done.stderr and "Traceback" not in done.stderr
