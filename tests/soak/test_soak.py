"""`nurture run` on the embedded default keeps every part alive under steady use: `/ops`
reloaded and a request posted every second while the sequence sends (docs/RELIABILITY.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.soak import soak

#: The suite's short run and `make soak`'s long one, in seconds.
SHORT_S = float(os.environ.get("NURTURE_SOAK_SHORT_S", "40"))
LONG_S = float(os.environ.get("NURTURE_SOAK_S", "600"))


def _report(name: str, seconds: float, result: object) -> None:
    print(f"[soak] {name} {seconds:.0f}s: {result}")


@pytest.mark.slow
@pytest.mark.timeout(SHORT_S + 420)
def test_a_short_soak_keeps_every_part_alive(env: dict[str, str], tmp_path: Path) -> None:
    result = soak(env, tmp_path / "run.log", SHORT_S)
    _report("short", SHORT_S, result)
    assert result.posted >= SHORT_S * 0.5, "under one request every two seconds"


@pytest.mark.soak
@pytest.mark.timeout(LONG_S + 600)
def test_ten_minutes_of_use_keep_every_part_alive(env: dict[str, str], tmp_path: Path) -> None:
    result = soak(env, tmp_path / "run.log", LONG_S)
    _report("long", LONG_S, result)
    assert result.posted >= LONG_S * 0.5, "under one request every two seconds"
