"""``/api.html``: Swagger UI over the API document, served entirely from the app.

The scripts and stylesheet come from the npm package ``swagger-ui-dist``, fetched pinned and
integrity-checked into ``/static/vendor`` (scripts/vendor-web.sh, docs/web-assets.md), so the
page loads nothing from elsewhere and works under the app's Content-Security-Policy. Swagger
UI's validator badge (an image from an outside service) is switched off.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.access import rule
from app.links import root

router = APIRouter()
VENDOR = "/static/vendor/swagger-ui"


@router.get("/api.html", include_in_schema=False, openapi_extra=rule("open"))
def api_docs(request: Request) -> HTMLResponse:
    base = root(request)
    return get_swagger_ui_html(
        openapi_url=f"{base}/api",
        title="Ondermijningskaart: API-documentatie",
        swagger_js_url=f"{base}{VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{base}{VENDOR}/swagger-ui.css",
        swagger_favicon_url=f"{base}/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": False},
    )
