"""Every error nurture raises on purpose: this tree is all of them.

::

    NurtureError
    ├── ConfigError            bad settings or environment
    │   └── InvalidPublicKey       NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key
    ├── ScheduleError          a schedule file that does not validate (file, line, field)
    ├── TemplateError          a template that does not render (template, reason)
    ├── InvalidValueError      a value a person typed that does not parse (also a ValueError)
    │   ├── InvalidAddressError    an email address or phone number
    │   ├── DelayError             a step's `after:` (90s, 2h, 1d, 3bd)
    │   ├── UnknownTimezoneError   a timezone name outside the IANA database
    │   └── InvalidToken           a link token tampered with or signed with another key
    ├── IntakeError            a consultation request that cannot be enrolled
    ├── NotFoundError          an id or address that names nothing
    ├── InvalidStateError      an ops action that does not fit the delivery's state
    ├── TooManyRequestsError   over a limit (test sends, sign-ins): try again in retry_after_s
    ├── SignInError            a wrong email, password or code, or a disabled account
    ├── AccessDenied           signed in, but the role or token scope does not cover it
    └── SendError              a channel could not hand a message to its provider
        ├── TransientSendError     not processed: safe to retry (connection refused, 429, 503)
        ├── PermanentSendError     refused for good (bad number, unsubscribed, 4xx)
        └── AmbiguousSendError     may or may not have reached the provider: never resend by itself

`InvalidValueError` is also a `ValueError`, so pydantic validators that meet one report it
as a field error naming the value.
"""

from __future__ import annotations


class NurtureError(Exception):
    """Root of nurture's own errors."""


class ConfigError(NurtureError):
    """Settings that cannot work, e.g. a channel backend without its credentials."""


class InvalidPublicKey(ConfigError, ValueError):
    """NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER public key."""


class ScheduleError(NurtureError):
    """A schedule file that does not validate; says which file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = file or "schedules"
        if line is not None:
            where += f":{line}"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {message}")


class TemplateError(NurtureError):
    """A template that is missing, does not compile, or does not render."""

    def __init__(
        self, message: str, *, template: str | None = None, line: int | None = None
    ) -> None:
        self.template = template
        self.line = line
        self.reason = message
        super().__init__(f"{template}: {message}" if template else message)


class InvalidValueError(NurtureError, ValueError):
    """A value a person typed (in a request, a schedule file, a command) that does not parse;
    the message names the value and what would be right."""


class InvalidAddressError(InvalidValueError):
    """An email address or phone number that is not one."""


class DelayError(InvalidValueError):
    """A step's `after:` text is not a delay; the message names the text and the fix."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


class UnknownTimezoneError(InvalidValueError):
    """A timezone name is not in the IANA database; the message names it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown timezone {name!r}: use an IANA name such as America/New_York")
        self.name = name


class InvalidToken(InvalidValueError):
    """A link token that was tampered with, truncated or signed with another key."""


class IntakeError(NurtureError):
    """A consultation request that cannot be enrolled; `field` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class NotFoundError(NurtureError):
    """An id, email or phone that names nothing we hold."""


class InvalidStateError(NurtureError):
    """An ops action that does not fit the current state (e.g. retrying a sent message)."""


class SignInError(NurtureError):
    """A sign-in refused: the message says what to do, never which part was wrong."""


class AccessDenied(NurtureError):
    """The caller may not do `what`: it needs `role` (a role's value), or another token scope."""

    def __init__(self, message: str, *, role: str, what: str) -> None:
        self.role = role
        self.what = what
        super().__init__(message)


class TooManyRequestsError(NurtureError):
    """Over a rate limit a person meets (test sends); `retry_after_s` says when to try again."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class SendError(NurtureError):
    """A channel could not hand a message to its provider."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.provider = provider
        self.code = code
        self.retry_after_s = retry_after_s
        super().__init__(message)


class TransientSendError(SendError):
    """The provider did not process the message (refused connection, 429, 503): retry later."""


class PermanentSendError(SendError):
    """The provider refused the message for good.

    `suppress` says the address must not be used again; `opt_out` that the recipient opted
    out at the provider (Twilio 21610), which also goes into the consent ledger.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str | None = None,
        suppress: bool = False,
        opt_out: bool = False,
    ) -> None:
        super().__init__(message, provider=provider, code=code)
        self.suppress = suppress or opt_out
        self.opt_out = opt_out


class AmbiguousSendError(SendError):
    """The request may have reached the provider (timeout after sending, 500/502/504)."""
