"""The clinic studio: every sequence and message as a prospect will see it (`pages`), the
email preview for its iframe (`preview`), and test sends (`testsend`)."""

from __future__ import annotations

from fastapi import APIRouter

from nurture.api.studio import edit_draft, edit_step, pages, preview, testsend

router = APIRouter()
router.include_router(pages.router)
router.include_router(preview.router)
router.include_router(testsend.router)
router.include_router(edit_step.router)
router.include_router(edit_draft.router)

__all__ = ["router"]
