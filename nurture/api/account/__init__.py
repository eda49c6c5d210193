"""People's pages: sign in and out (`signin`), the invitation (`invite`), your account
(`me`), and for owners the people (`users`) and machine tokens (`tokens`). Refusals are
answered by `refusals`."""

from __future__ import annotations

from fastapi import APIRouter

from nurture.api.account import invite, me, signin, tokens, users

router = APIRouter()
router.include_router(signin.router)
router.include_router(invite.router)
router.include_router(me.router)
router.include_router(users.router)
router.include_router(tokens.router)

__all__ = ["router"]
