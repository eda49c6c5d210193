"""Names for made-up prospects: a name holding digits is refused (a name is no place for
a number), so prospect number `n` is spelled in letters."""

from __future__ import annotations


def letter_name(n: int) -> str:
    """`P` and `n`'s digits as letters (0 -> a, 1 -> b, …): 10 -> "Pba"; distinct per `n`."""
    return "P" + "".join(chr(ord("a") + int(d)) for d in str(n))
