"""A consultation request as a website, a form tool or the command line sends it, and where
it came from (kept as consent evidence)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nurture.core.addressing import normalize_email, normalize_phone
from nurture.core.names import check_name
from nurture.core.text import clean_text
from nurture.core.zones import check_zone


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


#: The one field that keeps its line breaks.
_MULTILINE = frozenset({"message"})


class ConsultationRequestIn(BaseModel):
    """A consultation request as a website or a form tool posts it.

    Every text field arrives without invisible characters (bidi controls, zero-width
    characters, line separators: `core/text.py`), and the names are names (`core/names.py`).
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    timezone: str | None = Field(default=None, max_length=64)
    concern: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=5000)
    consent_email: bool | None = None
    consent_sms: bool | None = None
    source: str | None = Field(default=None, max_length=100)
    #: Which version of the consent text the form showed (kept as consent evidence).
    consent_text_version: str | None = Field(default=None, max_length=50)

    _blanks = field_validator(
        "last_name",
        "email",
        "phone",
        "timezone",
        "concern",
        "message",
        "source",
        "consent_email",
        "consent_sms",
        "consent_text_version",
        mode="before",
    )(_blank_to_none)

    @model_validator(mode="before")
    @classmethod
    def _visible(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            k: clean_text(v, multiline=k in _MULTILINE) if isinstance(v, str) else v
            for k, v in data.items()
        }

    @field_validator("first_name", "last_name")
    @classmethod
    def _plain_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_name(value, str(info.field_name))

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)

    @model_validator(mode="after")
    def _reachable(self) -> ConsultationRequestIn:
        if not self.email and not self.phone:
            raise ValueError("give an email or a phone number (or both)")
        return self


@dataclass(frozen=True)
class RequestMeta:
    """Where a request came from: kept as consent evidence."""

    source: str = "api"  # "api" | "form" | "cli"
    ip: str | None = None
    user_agent: str | None = None
    consent_text_version: str | None = None
    #: The page the request was sent from (a form's Referer, else the form's own address).
    page_url: str | None = None
    #: The version of each consent wording a form showed: (channel, version) pairs.
    wording_versions: tuple[tuple[str, str], ...] = ()

    def wording_version(self, channel: str) -> str | None:
        """The version of the consent wording shown for `channel` (a form's), else the one
        the request named."""
        return dict(self.wording_versions).get(channel) or self.consent_text_version
