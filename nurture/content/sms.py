"""What an SMS costs: its encoding (GSM-7 or UCS-2) and how many segments it takes."""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_encoding(body: str) -> str:
    """ "GSM-7" when every character fits the GSM alphabet, else "UCS-2" (fewer per segment)."""
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in body) else "UCS-2"


def sms_segments(body: str) -> int:
    """SMS segments a body takes: GSM-7 (160/153 chars), or UCS-2 (70/67) for anything else."""
    if sms_encoding(body) == "GSM-7":
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in body)
        return 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)
    return 1 if units <= 70 else -(-units // 67)
