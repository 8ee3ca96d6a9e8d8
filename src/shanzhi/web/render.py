"""Rendering pages: the template, the signed-in user, the CSRF value, errors as pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import holds
from shanzhi.accounts.deps import LoginRequired, csrf_token, remember_csrf
from shanzhi.accounts.models import User
from shanzhi.errors import ShanzhiError
from shanzhi.policy.loader import permissions

T = TypeVar("T")

# Menu entry -> the action it needs.
MENU_ACTIONS = {"command": "stats.read", "events": "event.read", "tasks": "event.handle", "housing": "housing.read",
                "report": "event.report", "users": "user.read"}

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render(
    request: Request, template: str, context: dict[str, Any], *, user: User | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    # Each menu entry shows only to users whose roles grant its action somewhere.
    menu = {key: actor is not None and holds(actor, action) for key, action in MENU_ACTIONS.items()}
    response = templates.TemplateResponse(
        request, template,
        {"user": user, "csrf": csrf_token(request), "menu": menu,
         "role_labels": {k: r.label for k, r in permissions().roles.items()}, **context},
        status_code=status_code,
    )
    remember_csrf(request, response)
    return response


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/map"
    return target


def error_page(request: Request, exc: ShanzhiError) -> Response:
    if isinstance(exc, LoginRequired):
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)
    return render(request, "error.html", {"title": "出错了", "error": exc}, status_code=exc.status_code)


def attempt(session: Session, call: Callable[[], T]) -> tuple[T | None, ShanzhiError | None]:
    """Run one form's service calls as a unit: on a domain error, undo just them (a savepoint)
    and hand the error back for the page to show. The request still commits, so nothing half
    done survives, while denials queued for the audit trail are written as always."""
    try:
        with session.begin_nested():
            return call(), None
    except ShanzhiError as exc:
        return None, exc
