"""`/docs`: the API's reference (Swagger UI), served from the installed `openapi-ui-bundles`
package at the version uv.lock pins, never from a CDN. ReDoc is off.

The page shares its origin with `/ops`, so it is held to the same rule as every page:
nothing from another origin. It runs no inline script (its set-up is `/docs/init.js`),
Swagger UI's validator badge and its `?url=` / `?configUrl=` parameters are off, and its
Content-Security-Policy allows scripts, styles, images and requests from this origin only.
"""

from __future__ import annotations

from pathlib import Path

import openapi_ui_bundles
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from nurture.api.headers import PAGE_HEADERS

router = APIRouter(include_in_schema=False)

VENDOR = Path(openapi_ui_bundles.swagger_ui.static_path)
#: The files of the bundle the page uses; nothing else of the folder is served (its own
#: index.html points at a demo API on the internet).
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
DOCS_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nurture API reference</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
<main id="swagger-ui"></main>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    queryConfigEnabled: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
});
"""


@router.get("/docs", response_class=HTMLResponse)
def docs_page() -> HTMLResponse:
    """Swagger UI for `/openapi.json`."""
    return HTMLResponse(_PAGE, headers=DOCS_HEADERS)


@router.get("/docs/init.js")
def docs_init() -> Response:
    return Response(
        _INIT, media_type="text/javascript", headers={"X-Content-Type-Options": "nosniff"}
    )


@router.get("/docs/static/{name}")
def docs_asset(name: str) -> FileResponse:
    """One file of the installed Swagger UI bundle."""
    if name not in ASSETS:
        raise HTTPException(status_code=404, detail=f"no such file: {name[:80]!r}")
    return FileResponse(
        VENDOR / name,
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
