"""Settings from `NURTURE_*` environment variables and a `.env` file.

The defaults are the embedded mode: SQLite, a broker with no server, and outbox channels,
so `nurture run` works on a laptop with nothing installed.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_address
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nurture.errors import ConfigError
from nurture.settings_values import parse_limit as parse_limit
from nurture.settings_values import parse_networks as parse_networks
from nurture.settings_values import parse_origins as parse_origins
from nurture.settings_values import parse_rate as parse_rate

EMBEDDED_BROKER = "embedded"
DEFAULT_SECRET_KEY = "dev-secret-change-me"
DEFAULT_API_KEY = "dev-api-key"
#: Off loopback, SECRET_KEY must be at least this long: anyone who receives one email holds
#: signed links to try keys against, offline, as fast as they like.
MIN_SECRET_KEY_CHARS = 32
_MAKE_ONE = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


class Settings(BaseSettings):
    """Everything configurable, read once per process (see `get_settings`)."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/nurture.db"
    broker_url: str = EMBEDDED_BROKER
    var_dir: Path = Path("var")
    schedules_dir: Path = Path("schedules")
    templates_dir: Path = Path("templates")
    email_backend: Literal["outbox", "sendgrid", "smtp"] = "outbox"
    sms_backend: Literal["outbox", "twilio"] = "outbox"
    outbox_dir: Path = Path("var/outbox")

    sendgrid_api_key: str = ""
    sendgrid_api_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    #: Seconds a provider call may take; a read timeout after sending makes the delivery unknown.
    provider_timeout_s: float = Field(default=10.0, gt=0)

    public_url: str = "http://127.0.0.1:8000"
    #: Signs links and sessions. The default is for loopback only (`refuse_known_secrets`).
    secret_key: str = DEFAULT_SECRET_KEY
    api_key: str = DEFAULT_API_KEY

    lease_s: int = Field(default=300, ge=5)
    dispatch_interval_s: float = Field(default=1.0, gt=0)
    dispatch_batch: int = Field(default=500, ge=1)
    #: Most deliveries per send task message. Batches save Celery's per-task cost; each
    #: delivery is still claimed, checked and sent on its own, and a batch's provider calls
    #: over the network are made at once, 10 at most in flight. 1: one task per delivery.
    send_chunk: int = Field(default=20, ge=1, le=100)
    #: Celery task events, for Flower or `celery events` (off: three broker messages a task).
    task_events: bool = False
    #: PostgreSQL connections each process keeps, and how many more it may open at a peak.
    #: A worker's threads each hold one while they send a batch: keep it above the threads
    #: (`nurture worker` raises it to its --concurrency + 4 unless set). More than that are
    #: opened and closed per statement.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    send_max_attempts: int = Field(default=8, ge=1)
    retry_base_s: float = Field(default=5.0, ge=0)
    retry_max_s: float = Field(default=900.0, ge=0)
    sms_rate: str = ""
    email_rate: str = ""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    #: `nurture status`, `/ops`: unhealthy when the oldest due delivery is later than this,
    ops_max_lateness_s: float = Field(default=300.0, gt=0)
    #: or the scheduler has not ticked for this long,
    ops_max_heartbeat_age_s: float = Field(default=60.0, gt=0)
    #: or no worker answers a ping within this.
    ops_ping_timeout_s: float = Field(default=1.0, gt=0)
    #: How often the /ops page updates its figures in place (0: never).
    ops_refresh_s: int = Field(default=15, ge=0)
    # Clinic studio, test sends: at most this many test messages (all channels together),
    # e.g. "5/m"; they may come in a burst of that many, then one per 1/rate.
    test_send_rate: str = "5/m"

    # The hosted form (/forms/consultation): its abuse guards.
    #: A form token younger than this is a bot's (nobody fills the form that fast).
    form_min_fill_s: float = Field(default=3.0, ge=0)
    #: Form posts per client IP, and per email address or phone number, per window.
    form_rate: str = "5/h"
    form_address_rate: str = "3/h"
    #: Other sites allowed to post the form and frame it (the clinic's own website).
    form_origins: str = ""
    #: Proxies whose X-Forwarded-For is believed (addresses or CIDRs); none by default.
    trusted_proxies: str = ""

    # People (docs/ACCOUNTS.md): sessions, sign-in throttling, two-factor codes.
    #: A session unused for this many minutes ends,
    session_idle_min: int = Field(default=30, ge=1)
    #: and any session ends this many hours after sign-in.
    session_max_h: int = Field(default=12, ge=1)
    #: Failed sign-ins allowed per account and per client IP per window, e.g. "5/15m".
    login_rate: str = "5/15m"
    #: Owners must turn on a TOTP code before they can use nurture.
    owner_totp: bool = False

    @field_validator("form_rate", "form_address_rate", "login_rate")
    @classmethod
    def _check_limit(cls, value: str) -> str:
        parse_limit(value)
        return value

    @field_validator("form_origins")
    @classmethod
    def _check_origins(cls, value: str) -> str:
        parse_origins(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    # Bookings from the calendar (Calendly and Cal.com webhooks; docs/RESULTS.md).
    #: Calendly's webhook signing key (the `signing_key` of the subscription); empty: refused.
    calendly_signing_key: str = ""
    #: Cal.com's webhook secret (Settings > Developer > Webhooks); empty: refused.
    calcom_secret: str = ""

    # Replies (docs/REPLIES.md): email replies through SendGrid Inbound Parse, staff notices.
    #: The domain whose MX points at SendGrid Inbound Parse; each email's Reply-To is
    #: `r-<token>@` it. Empty: Reply-To stays the clinic's address.
    inbound_email_domain: str = ""
    #: HTTP basic auth Inbound Parse must send (set in the Parse URL); empty: 503, nothing read.
    sendgrid_inbound_user: str = ""
    sendgrid_inbound_password: str = ""
    #: How often the worker sends due staff messages (notifications, forwards, answers).
    staff_interval_s: float = Field(default=2.0, gt=0)

    # Reconciliation: asking the provider about `unknown` deliveries (docs/RELIABILITY.md).
    #: Seconds after an attempt before "the provider has no such message" sends it again
    #: (unset: NURTURE_LEASE_S).
    reconcile_lag_s: int | None = Field(default=None, ge=0)
    #: Least seconds between two questions about a delivery the provider could not answer.
    reconcile_every_s: int = Field(default=600, ge=1)
    #: Seconds between two reconcile runs on the scheduler's beat.
    reconcile_interval_s: float = Field(default=60.0, gt=0)
    #: Most deliveries one reconcile run asks about.
    reconcile_batch: int = Field(default=100, ge=1)

    @field_validator("sms_rate", "email_rate", "test_send_rate")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("public_url", "sendgrid_api_host", "twilio_api_base")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def reconcile_lag(self) -> int:
        """The safety lag of reconciliation, in seconds: NURTURE_RECONCILE_LAG_S or the lease."""
        return self.lease_s if self.reconcile_lag_s is None else self.reconcile_lag_s

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url == EMBEDDED_BROKER

    @property
    def broker_dir(self) -> Path:
        return self.var_dir / "broker"

    @property
    def metrics_dir(self) -> Path:
        """Where this deployment's processes keep their Prometheus metric files."""
        return self.var_dir / "metrics"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()


def is_loopback(host: str | None) -> bool:
    """Whether `host` (a name or an address) can only be reached from this machine."""
    host = (host or "").strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _known(value: str, default: str) -> str | None:
    """Why `value` is a secret anyone can read, or None."""
    if not value.strip():
        return "is empty"
    if value == default:
        return f"is the default ({default}), which anyone can read"
    if "change-me" in value.lower():
        return "is still a placeholder (change-me), which anyone can read"
    return None


def refuse_known_secrets(settings: Settings, *, listen_host: str | None = None) -> None:
    """ConfigError naming each variable whose value anyone can know (the default, a
    placeholder, empty, a SECRET_KEY shorter than MIN_SECRET_KEY_CHARS or equal to the API
    key), unless nurture is reachable from this machine only: PUBLIC_URL (and the address
    the API listens on, when given) on loopback. With them anyone could forge unsubscribe
    links, booking links and an ops session."""
    exposed = [
        where
        for where, host in (
            (
                f"NURTURE_PUBLIC_URL is {settings.public_url}",
                urlsplit(settings.public_url).hostname,
            ),
            (f"the API listens on {listen_host}", listen_host),
        )
        if host is not None and not is_loopback(host)
    ]
    if not exposed:
        return
    problems = []
    for name, value, default in (
        ("NURTURE_SECRET_KEY", settings.secret_key, DEFAULT_SECRET_KEY),
        ("NURTURE_API_KEY", settings.api_key, DEFAULT_API_KEY),
    ):
        why = _known(value, default)
        if why:
            problems.append(f"{name} {why}")
    if not problems and len(settings.secret_key) < MIN_SECRET_KEY_CHARS:
        problems.append(
            f"NURTURE_SECRET_KEY is {len(settings.secret_key)} characters, fewer than"
            f" {MIN_SECRET_KEY_CHARS}"
        )
    if not problems and settings.secret_key == settings.api_key:
        problems.append("NURTURE_SECRET_KEY is the same as NURTURE_API_KEY")
    if problems:
        raise ConfigError(
            f"refusing to start: {'; '.join(problems)}; and nurture is reachable from other"
            f" machines ({', '.join(exposed)}): set a long random value, e.g. the output of"
            f" {_MAKE_ONE}"
        )
