"""`GET /metrics`: Prometheus text, summed over every worker and API process."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from nurture.api.deps import settings_dep
from nurture.config import Settings
from nurture.ops.metrics import CONTENT_TYPE, render_metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(settings: Settings = Depends(settings_dep)) -> Response:
    body = render_metrics(settings)
    return Response(content=body, media_type=CONTENT_TYPE)
