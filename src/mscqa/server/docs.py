"""``/docs``: Swagger UI served from the ``swagger-ui-bundle`` package, so it works offline.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script; here the
assets come from ``/docs/assets`` and the start-up code from ``/docs/init.js``, so the page runs
under a ``script-src 'self'`` policy. ReDoc has no offline bundle and is turned off.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""


def swagger_ui_dir() -> Path | None:
    """The folder of Swagger UI's files, or None when ``swagger-ui-bundle`` is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    path = Path(swagger_ui_path)
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def add_docs(app: FastAPI) -> bool:
    """Serve ``/docs`` from local files; returns False (no /docs) when the bundle is missing.

    Create the app with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not added.
    """
    folder = swagger_ui_dir()
    if folder is None or app.openapi_url is None:
        return False
    page = _PAGE.format(title=f"{app.title} - API docs", assets=ASSETS)
    init = (
        "window.ui = SwaggerUIBundle("
        + json.dumps(
            {
                "url": app.openapi_url,
                "dom_id": "#swagger-ui",
                "layout": "BaseLayout",
                "deepLinking": True,
                "showExtensions": True,
                "showCommonExtensions": True,
            }
        )[:-1]
        + ', "presets": [SwaggerUIBundle.presets.apis]});\n'
    )

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/init.js", include_in_schema=False)
    def swagger_init() -> Response:
        return Response(init, media_type="text/javascript")

    app.mount(ASSETS, StaticFiles(directory=folder), name="docs-assets")
    return True
