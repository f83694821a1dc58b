"""``/docs`` (Swagger UI) and ``/redoc`` with their scripts and styles served by esign itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, which a government network without internet cannot
reach; the ``fastapi-offline`` package ships the same bundles (MIT and Apache-2.0 licensed, their licence
files in its distribution), and this module serves them from ``/static/docs``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(str(files("fastapi_offline") / "static"))
PREFIX = "/static/docs"

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # each page starts its bundle with an inline script
        "style-src 'self' 'unsafe-inline'",  # both bundles style elements at run time
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "font-src 'self' data:",
    )
)
"""Same origin only: it keeps ReDoc from fetching its "powered by" logo from its makers' CDN, and proves that
nothing else is fetched from elsewhere."""


REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one address of another origin in ReDoc's bundle: its "powered by" logo, served here as esign's icon."""


def _redoc_bundle() -> bytes:
    return (ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"/static/favicon.svg")


def install(app: FastAPI) -> None:
    """``app`` must be created with ``docs_url=None, redoc_url=None``."""
    redoc_bundle = _redoc_bundle()

    # HEAD as well, as the static files beside it answer it.
    @app.api_route(f"{PREFIX}/redoc.standalone.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(redoc_bundle, media_type="text/javascript")

    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _confined(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title=f"{app.title} API",
                swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
                swagger_css_url=f"{PREFIX}/swagger-ui.css",
                swagger_favicon_url="/static/favicon.svg",
                # Swagger UI would otherwise ask validator.swagger.io about the document.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _confined(
            get_redoc_html(
                openapi_url="/openapi.json",
                title=f"{app.title} API",
                redoc_js_url=f"{PREFIX}/redoc.standalone.js",
                redoc_favicon_url="/static/favicon.svg",
                with_google_fonts=False,
            )
        )


def _confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page
