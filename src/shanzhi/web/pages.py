"""Page routes: parse, call a service, render. No queries here."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from shanzhi.geo.levels import LEVELS, VILLAGE_TYPES

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/map", status_code=302)


@router.get("/map", response_class=HTMLResponse)
def live_map(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    config = {
        "tileUrl": settings.tile_url,
        "tileAttribution": settings.tile_attribution,
        "levels": {lv.name: lv.label_zh for lv in LEVELS},
        "villageTypes": VILLAGE_TYPES,
    }
    return templates.TemplateResponse(request, "map.html", {"title": "活地图", "config": config})


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    # FastAPI's default docs page loads Swagger UI from a CDN; serve the vendored copy instead.
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="shanzhi 善治 API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
    )
