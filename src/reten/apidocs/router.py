"""`/docs` (Swagger UI) and `/redoc` (ReDoc) with their assets served by the process itself."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"
_VENDOR = Path(__file__).parent / "static" / "vendor"

# Nothing the reference pages load may leave this server. ReDoc's sidebar links its logo from
# its vendor's CDN; the policy keeps the browser from fetching it (the image hides itself). The
# pages' small start-up scripts are inline, as FastAPI renders them; ReDoc parses in a worker.
_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    )
)


def install_api_docs(app: FastAPI, *, openapi_url: str, title: str) -> None:
    """Mount the vendored assets and the two reference pages on `app`.

    The app is created with `docs_url=None, redoc_url=None` so that FastAPI does not add its
    CDN-backed pages; these take their place at the same paths.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=_VENDOR), name="api-docs-assets")

    async def swagger_ui() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{title} — reference",
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            )
        )

    async def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{title} — reference",
                redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
                # The default pulls fonts from Google: nothing may come from the internet.
                with_google_fonts=False,
            )
        )

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _CSP
    return page
