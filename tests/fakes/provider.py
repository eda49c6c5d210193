"""A fake SendGrid and Twilio on one real HTTP server, for the real SDKs to talk to.

It speaks the wire formats nurture uses: SendGrid `POST /v3/mail/send` (JSON in, 202 with
`X-Message-Id` out) and Twilio `POST /2010-04-01/Accounts/{sid}/Messages.json` (a form in, 201
with the message resource out), checks credentials and required fields as they do, and
records every message it accepted. Knobs: a latency, and a queue of scripted failures (429
with Retry-After, 503, 500, accept-then-hang past the client's timeout, accept-then-drop the
connection, Twilio error codes).

It also answers what reconciliation asks, as the real APIs do: Twilio's message list
(`GET /2010-04-01/Accounts/{sid}/Messages.json` with `To`, `From`, `DateSent>`, `DateSent<`,
`PageSize`, paged by `next_page_uri`) and SendGrid's Email Activity API (`GET /v3/messages`
with `query` and `limit`). A message is listed from the moment it was accepted, also when the
answer to its send was delayed or dropped. `lookup_status` makes either answer an error
(403 is an account without SendGrid's Email Activity add-on).

In a test: the `fake_provider` fixture (tests/conftest.py). From another process:
`python -m tests.fakes.provider --port 8025 --latency-ms 100`, then drive it over HTTP:
`GET /_fake/messages`, `POST /_fake/failures` (a JSON list of Failure fields),
`POST /_fake/latency` (`{"ms": 100}`), `POST /_fake/lookup` (`{"api": "sendgrid", "status":
403}`), `POST /_fake/reset`.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from nurture.content.sms import sms_segments

Api = Literal["sendgrid", "twilio"]
_TWILIO_PREFIX = "/2010-04-01/Accounts/"


@dataclass
class Failure:
    """One scripted answer instead of a success, used by the next matching request."""

    #: The HTTP status to answer.
    status: int = 503
    #: Twilio's error code for the JSON body (e.g. 21610), or None.
    code: int | None = None
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    #: Accept and record the message, then wait this long before answering (a timeout after
    #: the provider accepted); the answer is the normal success.
    hang_s: float = 0.0
    #: Accept and record the message, then close the connection without answering.
    drop: bool = False
    #: Which API consumes it; None: whichever asks next.
    api: Api | None = None


@dataclass
class Received:
    """A message the fake accepted."""

    api: Api
    message_id: str
    at: float
    to: str
    sender: str
    text: str
    subject: str | None = None
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    custom_args: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    #: The client's port: requests on one kept-alive connection share it.
    peer_port: int = 0


def delivery_id_of(message: Received) -> int:
    """Our delivery id, as each provider carries it back (custom_args, the callback URL)."""
    if message.api == "sendgrid":
        return int(message.custom_args["delivery_id"])
    return int(parse_qs(urlsplit(message.params["StatusCallback"]).query)["d"][0])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # load tests open many connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the chaos suite does it on purpose) is not our error.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeProvider:
    """The server, its knobs and what it received; thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        #: When set, requests must carry exactly these credentials (else 401, as the real APIs).
        self.sendgrid_api_key: str | None = None
        self.twilio_auth_token: str | None = None
        self._lock = threading.Lock()
        self._failures: deque[Failure] = deque()
        #: Failures drawn at random when none is queued: (probability, failure) pairs.
        self._random: list[tuple[float, Failure]] = []
        self._rng = random.Random(0)
        self._received: list[Received] = []
        self.requests = 0
        #: An error status the lookups answer instead (403: no Email Activity add-on).
        self.lookup_status: dict[Api, int] = {}
        self.lookups: dict[Api, int] = {"sendgrid": 0, "twilio": 0}
        self.server = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeProvider:
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, *failures: Failure) -> None:
        """Queue failures; each is used once, by the next request of its API."""
        with self._lock:
            self._failures.extend(failures)

    def fail_at_random(self, *weighted: tuple[float, Failure], seed: int = 0) -> None:
        """Answer each request with one of `weighted`'s failures at its probability."""
        with self._lock:
            self._random = list(weighted)
            self._rng = random.Random(seed)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._random = []
            self._received.clear()
            self.requests = 0
            self.lookup_status = {}
            self.lookups = {"sendgrid": 0, "twilio": 0}

    def messages(self, api: Api | None = None) -> list[Received]:
        with self._lock:
            return [m for m in self._received if api is None or m.api == api]

    def pending_failures(self) -> int:
        with self._lock:
            return len(self._failures)

    def _take_failure(self, api: Api) -> Failure | None:
        with self._lock:
            self.requests += 1
            for failure in self._failures:
                if failure.api in (None, api):
                    self._failures.remove(failure)
                    return failure
            roll = self._rng.random()
            for probability, failure in self._random:
                if roll < probability:
                    return failure
                roll -= probability
        return None

    def _record(self, message: Received) -> None:
        with self._lock:
            self._received.append(message)


# --- the two APIs ------------------------------------------------------------------------


def _sendgrid_errors(status: int, *messages: str) -> tuple[int, dict[str, str], bytes]:
    body = {"errors": [{"message": m, "field": None, "help": None} for m in messages]}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _sendgrid_check(payload: Any) -> list[str]:
    """The required fields SendGrid refuses a mail/send without."""
    problems = []
    if not isinstance(payload, dict):
        return ["The request body must be a JSON object."]
    personalizations = payload.get("personalizations") or []
    if not personalizations or not (personalizations[0].get("to") or []):
        problems.append("The personalizations field is required and must have at least one to.")
    if not (payload.get("from") or {}).get("email"):
        problems.append("The from object must be provided for every email send.")
    subject = payload.get("subject") or (
        personalizations[0].get("subject") if personalizations else None
    )
    if not subject:
        problems.append("The subject is required.")
    content = payload.get("content") or []
    if not content:
        problems.append(
            "Unless a valid template_id is provided, the content parameter is required."
        )
    elif content[0].get("type") != "text/plain" and any(
        c.get("type") == "text/plain" for c in content
    ):
        problems.append("If present, text/plain content must be first.")
    return problems


def _twilio_error(status: int, code: int, message: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _twilio_resource(sid: str, account: str, form: dict[str, str]) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    body = form.get("Body", "")
    return {
        "sid": sid,
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": now,
        "date_updated": now,
        "date_sent": None,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": str(sms_segments(body)),
        "price": None,
        "price_unit": "USD",
        "status": "accepted" if form.get("MessagingServiceSid") else "queued",
        "subresource_uris": {"media": f"{_TWILIO_PREFIX}{account}/Messages/{sid}/Media.json"},
        "to": form.get("To"),
        "uri": f"{_TWILIO_PREFIX}{account}/Messages/{sid}.json",
    }


_TERM = re.compile(r"""^\s*(unique_args\['([A-Za-z0-9_-]+)'\]|[a-z_]+)\s*=\s*"([^"]*)"\s*$""")


def _activity_terms(query: str) -> list[tuple[str, str]] | None:
    """`key="value"` terms joined by AND (the subset of SendGrid's query language nurture
    uses); None when the query is not that."""
    terms = []
    for part in re.split(r"\s+AND\s+", query.strip()) if query.strip() else []:
        match = _TERM.match(part)
        if match is None:
            return None
        key = f"arg:{match.group(2)}" if match.group(2) else match.group(1)
        terms.append((key, match.group(3)))
    return terms


def _activity_field(m: Received, key: str) -> str | None:
    if key.startswith("arg:"):
        return m.custom_args.get(key[4:])
    return {
        "to_email": m.to,
        "from_email": m.sender,
        "subject": m.subject,
        "msg_id": _sendgrid_msg_id(m),
    }.get(key)


def _sendgrid_msg_id(m: Received) -> str:
    return f"{m.message_id}.filterdrecv-fake-1-{int(m.at)}-0"


def _activity_row(m: Received) -> dict[str, Any]:
    return {
        "from_email": m.sender,
        "msg_id": _sendgrid_msg_id(m),
        "subject": m.subject,
        "to_email": m.to,
        "status": "delivered",
        "opens_count": 0,
        "clicks_count": 0,
        "last_event_time": datetime.fromtimestamp(m.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _twilio_day_or_time(value: str | None) -> datetime | str | None:
    """A `DateSent` filter: a day (`YYYY-MM-DD`) or a time (ISO 8601, as the SDK sends)."""
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        datetime.strptime(value, "%Y-%m-%d")  # ValueError when it is no day
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _twilio_within(at: float, after: datetime | str | None, before: datetime | str | None) -> bool:
    """On or after `after`, on or before `before`: days compare as days."""
    sent = datetime.fromtimestamp(at, UTC)
    for bound, later in ((after, True), (before, False)):
        if bound is None:
            continue
        mine: Any = sent.strftime("%Y-%m-%d") if isinstance(bound, str) else sent
        if (mine < bound) if later else (mine > bound):
            return False
    return True


def _twilio_listed(m: Received, account: str) -> dict[str, Any]:
    """The message resource as the list shows it (sent at acceptance)."""
    resource = _twilio_resource(m.message_id, account, m.params)
    sent = formatdate(m.at, usegmt=True)
    resource.update(date_created=sent, date_updated=sent, date_sent=sent, status="sent")
    return resource


def _handler_for(fake: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle and the client's delayed
        # ACK add ~40 ms to every answer on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read what was received, not an access log

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout): exactly what a hang is for

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/_fake/messages"):
                data = [asdict(m) for m in fake.messages()]
                self._answer(200, {"Content-Type": "application/json"}, json.dumps(data).encode())
            elif path == "/v3/messages":
                self._answer(*self._activity())
            elif path.startswith(_TWILIO_PREFIX) and path.endswith("/Messages.json"):
                self._answer(*self._twilio_list())
            else:
                self._answer(404, {}, b"")

        def _query(self) -> dict[str, str]:
            query = urlsplit(self.path).query
            return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

        def _activity(self) -> tuple[int, dict[str, str], bytes]:
            """SendGrid's Email Activity API: `query` (`key="value"` terms joined by AND;
            `unique_args['name']="value"` for a custom argument) and `limit`."""
            auth = self.headers.get("Authorization", "")
            expected = fake.sendgrid_api_key
            if not auth.startswith("Bearer ") or (expected and auth != f"Bearer {expected}"):
                return _sendgrid_errors(401, "The provided authorization grant is invalid.")
            fake.lookups["sendgrid"] += 1
            status = fake.lookup_status.get("sendgrid")
            if status:
                return _sendgrid_errors(status, "access forbidden")
            params = self._query()
            terms = _activity_terms(params.get("query", ""))
            if terms is None:
                return _sendgrid_errors(400, "invalid query")
            try:
                limit = int(params.get("limit", "10"))
            except ValueError:
                return _sendgrid_errors(400, "limit must be a number")
            if not 1 <= limit <= 1000:
                return _sendgrid_errors(400, "limit must be between 1 and 1000")
            found = [
                _activity_row(m)
                for m in reversed(fake.messages("sendgrid"))
                if all(_activity_field(m, key) == value for key, value in terms)
            ]
            body = json.dumps({"messages": found[:limit]}).encode()
            return 200, {"Content-Type": "application/json"}, body

        def _twilio_list(self) -> tuple[int, dict[str, str], bytes]:
            """Twilio's message list, newest first: `To`, `From`, `DateSent>`, `DateSent<`
            (a day, or a time), `PageSize` (default 50, most 1000), `Page` and `PageToken`."""
            path = urlsplit(self.path).path
            account = path[len(_TWILIO_PREFIX) :].split("/", 1)[0]
            if not self._twilio_authorized(account):
                return _twilio_error(401, 20003, "Authenticate")
            fake.lookups["twilio"] += 1
            status = fake.lookup_status.get("twilio")
            if status:
                return _twilio_error(status, status, "scripted lookup failure")
            params = self._query()
            try:
                size = int(params.get("PageSize", "50"))
                page = int(params.get("Page", "0"))
                after = _twilio_day_or_time(params.get("DateSent>"))
                before = _twilio_day_or_time(params.get("DateSent<"))
            except ValueError:
                return _twilio_error(400, 20001, "Invalid parameter")
            if not 1 <= size <= 1000 or page < 0:
                return _twilio_error(400, 20001, "Invalid PageSize")
            chosen = [
                m
                for m in reversed(fake.messages("twilio"))
                if m.params.get("AccountSid", account) == account
                and params.get("To") in (None, m.to)
                and params.get("From") in (None, m.params.get("From"))
                and _twilio_within(m.at, after, before)
            ]
            rows = chosen[page * size : (page + 1) * size]
            base = f"{_TWILIO_PREFIX}{account}/Messages.json"
            filters = {k: v for k, v in params.items() if k not in ("Page", "PageToken")}

            def uri(n: int) -> str:
                return f"{base}?{urlencode({**filters, 'PageSize': size, 'Page': n})}"

            more = (page + 1) * size < len(chosen)
            data = {
                "messages": [_twilio_listed(m, account) for m in rows],
                "page": page,
                "page_size": size,
                "start": page * size,
                "end": page * size + max(len(rows) - 1, 0),
                "uri": uri(page),
                "first_page_uri": uri(0),
                "previous_page_uri": uri(page - 1) if page else None,
                "next_page_uri": (
                    f"{uri(page + 1)}&PageToken=PA{uuid.uuid4().hex[:8]}" if more else None
                ),
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()

        def _twilio_authorized(self, account: str) -> bool:
            auth = self.headers.get("Authorization", "")
            user, token = "", ""
            if auth.startswith("Basic "):
                user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
            expected = fake.twilio_auth_token
            return user == account and not (expected and token != expected)

        def do_POST(self) -> None:
            raw = self._body()
            result: tuple[int, dict[str, str], bytes] | None
            if self.path == "/v3/mail/send":
                result = self._sendgrid(raw)
            elif self.path.startswith(_TWILIO_PREFIX) and self.path.endswith("/Messages.json"):
                result = self._twilio(raw)
            elif self.path.startswith("/_fake/"):
                result = self._control(raw)
            else:
                result = (404, {}, b"")
            if result is None:  # accepted, then the connection dropped without an answer
                self.close_connection = True
                return
            self._answer(*result)

        def _control(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
            data = json.loads(raw or b"null")
            if self.path == "/_fake/failures":
                fake.fail_next(*(Failure(**f) for f in data))
            elif self.path == "/_fake/latency":
                fake.latency_s = float(data["ms"]) / 1000
            elif self.path == "/_fake/lookup":
                fake.lookup_status[data["api"]] = int(data["status"])
            elif self.path == "/_fake/reset":
                fake.reset()
            else:
                return 404, {}, b""
            return 204, {}, b""

        def _delay(self) -> None:
            if fake.latency_s:
                time.sleep(fake.latency_s)

        def _sendgrid(self, raw: bytes) -> tuple[int, dict[str, str], bytes] | None:
            received_at = time.time()
            auth = self.headers.get("Authorization", "")
            expected = fake.sendgrid_api_key
            if not auth.startswith("Bearer ") or (expected and auth != f"Bearer {expected}"):
                return _sendgrid_errors(401, "The provided authorization grant is invalid.")
            try:
                payload = json.loads(raw)
            except ValueError:
                return _sendgrid_errors(400, "Bad Request")
            failure = fake._take_failure("sendgrid")
            self._delay()
            if failure is not None and not (failure.hang_s or failure.drop):
                status, headers, body = _sendgrid_errors(failure.status, failure.message)
                return status, {**headers, **failure.headers}, body
            problems = _sendgrid_check(payload)
            if problems:
                return _sendgrid_errors(400, *problems)
            message_id = uuid.uuid4().hex[:22]
            person = payload["personalizations"][0]
            content = {c["type"]: c["value"] for c in payload.get("content", [])}
            fake._record(
                Received(
                    api="sendgrid",
                    message_id=message_id,
                    at=received_at,
                    to=person["to"][0]["email"],
                    sender=payload["from"]["email"],
                    subject=payload.get("subject") or person.get("subject"),
                    text=content.get("text/plain", ""),
                    html=content.get("text/html"),
                    headers=dict(payload.get("headers") or {}),
                    custom_args=dict(payload.get("custom_args") or {}),
                    params=payload,
                    peer_port=self.client_address[1],
                )
            )
            if failure is not None:
                time.sleep(failure.hang_s)
                if failure.drop:
                    return None
            return 202, {"X-Message-Id": message_id}, b""

        def _twilio(self, raw: bytes) -> tuple[int, dict[str, str], bytes] | None:
            received_at = time.time()
            account = self.path[len(_TWILIO_PREFIX) :].split("/", 1)[0]
            auth = self.headers.get("Authorization", "")
            user, token = "", ""
            if auth.startswith("Basic "):
                user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
            expected = fake.twilio_auth_token
            if user != account or (expected and token != expected):
                return _twilio_error(401, 20003, "Authenticate")
            form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
            failure = fake._take_failure("twilio")
            self._delay()
            if failure is not None and not (failure.hang_s or failure.drop):
                status, headers, body = _twilio_error(
                    failure.status, failure.code or failure.status, failure.message
                )
                return status, {**headers, **failure.headers}, body
            if not form.get("To"):
                return _twilio_error(400, 21604, "A 'To' phone number is required.")
            if not form.get("Body"):
                return _twilio_error(400, 21602, "Message body is required.")
            if not (form.get("From") or form.get("MessagingServiceSid")):
                return _twilio_error(400, 21603, "A 'From' phone number is required.")
            validity = form.get("ValidityPeriod")
            if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
                return _twilio_error(400, 21624, "Invalid validity period value")
            sid = f"SM{uuid.uuid4().hex}"
            fake._record(
                Received(
                    api="twilio",
                    message_id=sid,
                    at=received_at,
                    to=form["To"],
                    sender=form.get("From") or form.get("MessagingServiceSid", ""),
                    text=form["Body"],
                    params=form,
                    peer_port=self.client_address[1],
                )
            )
            if failure is not None:
                time.sleep(failure.hang_s)
                if failure.drop:
                    return None
            resource = _twilio_resource(sid, account, form)
            return 201, {"Content-Type": "application/json"}, json.dumps(resource).encode()

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake SendGrid and Twilio for load tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeProvider(args.host, args.port, latency_s=args.latency_ms / 1000)
    print(f"fake provider listening on {fake.url}", flush=True)
    try:
        fake.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.server.server_close()


if __name__ == "__main__":
    main()
