"""The HTTP API (FastAPI): intake, links, webhooks, ops. `create_app()` builds it."""

from nurture.api.app import create_app

__all__ = ["create_app"]
