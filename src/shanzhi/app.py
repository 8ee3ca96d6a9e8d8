"""create_app(): the one ASGI application — JSON API, pages and static files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

import shanzhi
from shanzhi.config import Settings, get_settings
from shanzhi.db import get_engine, session_factory
from shanzhi.accounts.api import router as accounts_router
from shanzhi.detect.api import router as detect_router
from shanzhi.events.api import router as events_router
from shanzhi.events.open311 import router as open311_router
from shanzhi.events.stats_api import router as stats_router
from shanzhi.geo.api import router as geo_router
from shanzhi.gridpeople.api import router as gridpeople_router
from shanzhi.orgs.api import router as orgs_router
from shanzhi.housing.api import router as housing_router
from shanzhi.http import install_error_handlers
from shanzhi.web.account_pages import router as account_router
from shanzhi.web.command_pages import router as command_router
from shanzhi.web.event_pages import router as event_pages_router
from shanzhi.web.housing_pages import router as housing_pages_router
from shanzhi.web.layers_api import router as map_layers_router
from shanzhi.web.mobile_pages import router as mobile_pages_router
from shanzhi.web.pages import router as pages_router
from shanzhi.web.public_pages import router as public_pages_router
from shanzhi.web.render import error_page
from shanzhi.web.village_pages import router as village_pages_router

STATIC = Path(__file__).parent / "web" / "static"


def create_app(
    settings: Settings | None = None, sessions: Callable[[], Session] | None = None
) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="shanzhi 善治",
        version=shanzhi.__version__,
        description="网格化基层治理平台 API — grid-based grassroots governance",
        docs_url=None,  # served by web.pages from the vendored Swagger UI
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = sessions or session_factory(get_engine(settings))
    install_error_handlers(app, html=error_page)
    app.include_router(geo_router)
    app.include_router(accounts_router)
    app.include_router(command_router)  # before events: /api/v1/events/clusters is not an event code
    app.include_router(events_router)
    app.include_router(detect_router)
    app.include_router(open311_router)
    app.include_router(stats_router)
    app.include_router(orgs_router)
    app.include_router(gridpeople_router)
    app.include_router(housing_router)
    app.include_router(pages_router)
    app.include_router(account_router)
    app.include_router(mobile_pages_router)
    app.include_router(housing_pages_router)
    app.include_router(public_pages_router)
    app.include_router(event_pages_router)
    app.include_router(map_layers_router)
    app.include_router(village_pages_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
