"""Who is asking: a bearer token (integrations) or a signed session cookie (browsers).

Browsers also carry a CSRF cookie (signed double-submit): every form posts its value back, and
JSON calls made with the session cookie send it as the X-CSRF-Token header. Requests whose
Origin (or Referer) is another site are refused outright.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, Request, Response

from shanzhi.accounts import service, signin, tokens
from shanzhi.accounts.authz import Actor
from shanzhi.accounts.crypto import new_secret, sign, unsign
from shanzhi.accounts.models import User
from shanzhi.audit import service as audit
from shanzhi.errors import Forbidden, Unauthorized
from shanzhi.http import DbSession
from shanzhi.policy.loader import permissions

SESSION_COOKIE = "shanzhi_session"
CSRF_COOKIE = "shanzhi_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_MAX_AGE = 7 * 24 * 3600


class LoginRequired(Unauthorized):
    """Raised by pages: the error handler turns it into a redirect to /login."""

    code = "login_required"


def _session_max_age() -> int:
    return permissions().sessions.hours * 3600


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )


def cookie_session(request: Request) -> str | None:
    return unsign(request.cookies.get(SESSION_COOKIE), "session", _session_max_age())


def cookie_user(request: Request, session: DbSession) -> User | None:
    token = cookie_session(request)
    return signin.session_user(session, token=token) if token else None


# -- CSRF --------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The CSRF value for this browser; a new one is remembered for `remember_csrf`."""
    current = unsign(request.cookies.get(CSRF_COOKIE), "csrf", CSRF_MAX_AGE)
    if current:
        return current
    fresh = getattr(request.state, "new_csrf", None) or new_secret(24)
    request.state.new_csrf = fresh
    return fresh


def remember_csrf(request: Request, response: Response, *, rotate: bool = False) -> None:
    """Set the CSRF cookie when this request created (or, after sign-in, rotated) the value."""
    if rotate:
        request.state.new_csrf = new_secret(24)
    fresh = getattr(request.state, "new_csrf", None)
    if fresh:
        set_cookie(response, request, CSRF_COOKIE, sign(fresh, "csrf"), CSRF_MAX_AGE)


def check_csrf(request: Request, session: DbSession, supplied: str | None) -> None:
    expected = unsign(request.cookies.get(CSRF_COOKIE), "csrf", CSRF_MAX_AGE)
    source = request.headers.get("origin") or request.headers.get("referer")
    cross_site = source is not None and source != "null" and urlparse(source).netloc != request.url.netloc
    if cross_site or source == "null":
        reason = "cross_site"
    elif not expected or not supplied or not hmac.compare_digest(expected, supplied):
        reason = "missing_or_wrong_token"
    else:
        return
    audit.record_durably(session, action="auth.csrf", outcome="denied",
                         detail={"reason": reason, "path": request.url.path})
    raise Forbidden(
        "The form is stale or came from another site; reload the page and try again",
        "表单已过期或来源不可信，请刷新页面后重试",
        code="csrf_failed",
    )


# -- actors ------------------------------------------------------------------------------------


def optional_actor(request: Request, session: DbSession) -> Actor | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, raw = header.partition(" ")
        actor = tokens.actor_for_token(session, raw=raw.strip()) if scheme.lower() == "bearer" else None
        if actor is None:
            audit.record_durably(session, action="auth.token", outcome="denied",
                                 detail={"reason": "invalid_token", "path": request.url.path})
            raise Unauthorized("Invalid, expired or revoked token", "令牌无效、已过期或已撤销", code="invalid_token")
        return actor
    user = cookie_user(request, session)
    if user is None:
        return None
    if request.method in UNSAFE:
        check_csrf(request, session, request.headers.get(CSRF_HEADER))
    return service.load_actor(session, user)


def api_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    if actor is None:
        raise Unauthorized(
            "Sign in or send 'Authorization: Bearer <token>'",
            "请先登录，或在请求头中提供 Bearer 令牌",
            code="unauthorized",
        )
    return actor


def page_user(request: Request, session: DbSession) -> User:
    user = cookie_user(request, session)
    if user is None:
        raise LoginRequired("Sign in first", "请先登录")
    # Pages show only the menus the user may use.
    request.state.actor = service.load_actor(session, user)
    return user


ApiActor = Annotated[Actor, Depends(api_actor)]
PageUser = Annotated[User, Depends(page_user)]
