"""The on-call's web page and JSON: `/ops`, `/ops/status`, and the actions behind the buttons."""

from __future__ import annotations

from fastapi import APIRouter

from nurture.api.ops import (
    actions,
    audit,
    live,
    pages,
    prospects,
    replies,
    results,
    status,
    today,
)

router = APIRouter()
# /ops/status before the page routes, so the JSON route is matched by its own path.
router.include_router(status.router)
router.include_router(results.router)
router.include_router(audit.router)
router.include_router(live.router)
router.include_router(pages.router)
router.include_router(actions.router)
router.include_router(replies.router)
router.include_router(prospects.router)
router.include_router(today.router)

__all__ = ["router"]
