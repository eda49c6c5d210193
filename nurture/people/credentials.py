"""Passwords (Argon2id), random tokens and their digests, TOTP codes and recovery codes."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from nurture.errors import InvalidValueError

MIN_PASSWORD_CHARS = 12
RECOVERY_CODES = 10
_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile


@functools.cache
def _dummy(hasher: PasswordHasher) -> str:
    """Verified when the email names nobody, so an unknown address takes as long as a known
    one. Made on the first sign-in, not at import: every nurture process (a worker, a CLI
    command) imports this module, and one Argon2id hash costs a tenth of a second of CPU."""
    return hasher.hash("not-a-password-of-anyone")


def check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidValueError(
            f"the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )
    if len(password) > 1024:
        raise InvalidValueError("the password is too long: use at most 1024 characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether `password` matches `stored`, and a new hash when the parameters changed
    since it was made (store it). With no stored hash, a dummy is verified all the same."""
    try:
        _hasher.verify(stored or _dummy(_hasher), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)


def new_token() -> str:
    """A random 32-byte token, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """How a random token is stored: its sha256 (enough for 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app accepts (typed or pasted: no QR service)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def totp_ok(secret: str, code: str, now: datetime) -> bool:
    """A 6-digit code valid now (or one 30-second step either side, for clock drift)."""
    code = code.strip().replace(" ", "")
    return (
        len(code) == 6
        and code.isdigit()
        and pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)
    )


def new_recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]


def use_recovery_code(stored: list[str], code: str) -> list[str] | None:
    """The stored digests without the one `code` matches; None when none does."""
    wanted = digest(code.strip().lower())
    for item in stored:
        if hmac.compare_digest(item, wanted):
            return [s for s in stored if s != item]
    return None
