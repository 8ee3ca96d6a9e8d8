"""Page routes: parse, call a service, render. No queries here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shanzhi.accounts import signin
from shanzhi.accounts.authz import start_page, widest_scope
from shanzhi.accounts.crypto import sign
from shanzhi.accounts.deps import (
    SESSION_COOKIE,
    PageUser,
    check_csrf,
    cookie_session,
    remember_csrf,
    set_cookie,
)
from shanzhi.errors import ShanzhiError
from shanzhi.geo.levels import LEVELS, VILLAGE_TYPES
from shanzhi.http import DbSession
from shanzhi.policy.loader import permissions
from shanzhi.web.render import render, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, user: PageUser) -> RedirectResponse:
    # Each role starts where its work is (policy: permissions.toml `start`).
    return RedirectResponse(start_page(request.state.actor), status_code=302)


# Notices after a redirect are chosen by key, so nothing typed in a URL is echoed.
LOGIN_NOTICES = {
    "password_changed": "密码已修改，请用新密码重新登录。",
    "signed_out": "您已安全退出。",
}


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, notice: str | None = None) -> HTMLResponse:
    return render(request, "login.html", {"title": "登录", "next": safe_next(next),
                                          "notice": LOGIN_NOTICES.get(notice or "")})


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/map",
) -> Response:
    check_csrf(request, session, csrf_token)
    ip = request.client.host if request.client else None
    try:
        user = signin.authenticate(session, username=username, password=password, ip=ip)
    except ShanzhiError as exc:
        # The form again, with the reason; the failure is counted and audited after the request.
        return render(request, "login.html", {"title": "登录", "next": safe_next(next), "error": exc,
                                             "username": username}, status_code=exc.status_code)
    token = signin.start_session(session, user=user, ip=ip)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, sign(token, "session"), permissions().sessions.hours * 3600)
    remember_csrf(request, response, rotate=True)  # a new CSRF value for the new session
    return response


@router.post("/logout")
def logout(
    request: Request, session: DbSession, csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    token = cookie_session(request)
    if token:
        signin.end_session(session, token=token)
    response = RedirectResponse("/login?notice=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/map", response_class=HTMLResponse)
def live_map(request: Request, user: PageUser) -> HTMLResponse:
    settings = request.app.state.settings
    config = {
        "tileUrl": settings.tile_url,
        "tileAttribution": settings.tile_attribution,
        "levels": {lv.name: lv.label_zh for lv in LEVELS},
        "villageTypes": VILLAGE_TYPES,
        # The map opens on the user's own patch: a town dispatcher on the town.
        "start": widest_scope(request.state.actor),
    }
    return render(request, "map.html", {"title": "活地图", "config": config}, user=user)


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
