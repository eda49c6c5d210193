"""The clinic's hosted consultation form (`/forms/consultation`): the page (`page`) and its
routes (`routes`)."""

from nurture.api.forms.routes import router

__all__ = ["router"]
