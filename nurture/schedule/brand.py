"""The clinic's look on its hosted form (`brand:` in clinic.yaml): two colours and a logo,
with the contrast the page needs to stay readable checked when the file is loaded."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pydantic import Field, field_validator, model_validator

from nurture.schedule.sequence import Strict

_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
#: WCAG 2 AA: normal text on its background, and a control's outline or focus ring.
TEXT_CONTRAST = 4.5
UI_CONTRAST = 3.0
LOGO_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")
#: A logo is read into memory and served by the API: keep it a logo.
LOGO_MAX_BYTES = 512 * 1024
WHITE = "#ffffff"


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG relative luminance of `#rgb` or `#rrggbb`."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


class Brand(Strict):
    """`colour`: headings and the Send button (white text on it); `accent`: focus rings and
    the top bar; `logo`: an image file in the schedules folder (served by nurture itself, so
    the form loads nothing from elsewhere)."""

    colour: str = "#1d4f91"
    accent: str = "#b4501c"
    logo: str | None = Field(default=None, max_length=200)
    logo_alt: str | None = Field(default=None, max_length=200)

    @field_validator("colour", "accent")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _HEX.match(value):
            raise ValueError(f"invalid colour {value!r}: use #rrggbb, e.g. #1d4f91")
        return value.lower()

    @field_validator("logo")
    @classmethod
    def _logo_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or "://" in value:
            raise ValueError("give the logo as a file in the schedules folder, e.g. logo.png")
        if path.suffix.lower() not in LOGO_SUFFIXES:
            raise ValueError(f"the logo must be one of {', '.join(LOGO_SUFFIXES)}")
        return value

    @model_validator(mode="after")
    def _readable(self) -> Brand:
        ratio = contrast(self.colour, WHITE)
        if ratio < TEXT_CONTRAST:
            raise ValueError(
                f"colour {self.colour} has a contrast of {ratio:.1f}:1 with white text on the "
                f"Send button; it needs at least {TEXT_CONTRAST}:1 (choose a darker colour)"
            )
        ratio = contrast(self.accent, WHITE)
        if ratio < UI_CONTRAST:
            raise ValueError(
                f"accent {self.accent} has a contrast of {ratio:.1f}:1 with the white page; "
                f"focus rings need at least {UI_CONTRAST}:1 (choose a darker accent)"
            )
        return self
