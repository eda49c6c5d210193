"""The 10-minute soak runs only when asked (`make soak`, or NURTURE_SOAK=1)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("NURTURE_SOAK") == "1":
        return
    skip = pytest.mark.skip(reason="the 10-minute soak runs with `make soak` (NURTURE_SOAK=1)")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)
