"""The clinic studio: every sequence and message as a prospect will see it (`pages`), the
email preview for its iframe (`preview`), test sends (`testsend`); the editors, each save a
draft (`settings`, `edit_sequence`, `edit_step`, `edit_draft`); `publish` and `history`
(rollback)."""

from __future__ import annotations

from fastapi import APIRouter

from nurture.api.studio import (
    edit_draft,
    edit_sequence,
    edit_step,
    history,
    pages,
    preview,
    publish,
    settings,
    testsend,
)

router = APIRouter()
router.include_router(pages.router)
router.include_router(preview.router)
router.include_router(testsend.router)
router.include_router(publish.router)
router.include_router(history.router)
router.include_router(settings.router)
router.include_router(edit_sequence.router)
router.include_router(edit_step.router)
router.include_router(edit_draft.router)

__all__ = ["router"]
