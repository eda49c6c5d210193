"""A studio POST's fields: a browser's form, or a script's JSON object."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from nurture.core.inputs import load_json
from nurture.errors import InvalidValueError


async def submitted(request: Request) -> tuple[dict[str, str], bool]:
    """The fields (values as text) and whether they came as JSON; InvalidValueError for a
    body that is not a JSON object."""
    if request.headers.get("content-type", "").startswith("application/json"):
        data: Any = load_json(await request.body() or b"{}")
        if not isinstance(data, dict):
            raise InvalidValueError("the body is not a JSON object")
        return {k: str(v) for k, v in data.items() if v is not None}, True
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}, False


def wants_json(request: Request) -> bool:
    """A GET that asks for JSON (`Accept: application/json`) rather than the page."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept
