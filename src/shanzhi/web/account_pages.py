"""Account pages: my profile, password and API tokens (/account); user administration within
my scope (/admin/users).

Handlers parse the form, call the accounts services and render; the services decide who may
do what. A service error re-renders the same page with its Chinese message and status code,
keeping what was typed (except passwords, which are never echoed back into a page).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from math import ceil
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from shanzhi.accounts import service, tokens
from shanzhi.accounts.authz import Actor, Target, can, scope_prefixes, widest_scope
from shanzhi.accounts.deps import SESSION_COOKIE, PageUser, check_csrf
from shanzhi.accounts.models import ApiToken, User
from shanzhi.db import as_utc
from shanzhi.errors import InvalidInput, ShanzhiError
from shanzhi.http import DbSession
from shanzhi.policy.loader import permissions
from shanzhi.web.forms import Code, Csrf
from shanzhi.web.render import attempt, render

router = APIRouter(include_in_schema=False)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 20

Short = Annotated[str, Form(max_length=64)]
Secret = Annotated[str, Form(max_length=128)]

TOKEN_STATUS = {"active": "有效", "expired": "已过期", "revoked": "已撤销"}

# What a redirect after a successful POST says; keyed, so no typed text is ever reflected.
NOTICES = {
    "token_revoked": "令牌已撤销，使用它的接口调用将被拒绝。",
    "created": "用户已创建。",
    "assigned": "角色已分配。",
    "unassigned": "角色分配已撤销。",
    "disabled": "账号已停用，该用户的登录会话已全部结束。",
    "enabled": "账号已启用。",
    "reset": "密码已重置，该用户需用新密码重新登录。",
}

# The detail page's forms, and the action each one needs on the user.
USER_FORMS = {
    "assign": "user.assign",
    "active": "user.disable",
    "reset": "user.reset_password",
    "reveal": "personal.reveal",
}


# -- helpers -----------------------------------------------------------------------------------


def _local(at: datetime | None) -> str:
    """Times are stored in UTC and shown in Asia/Shanghai."""
    if at is None:
        return ""
    utc = as_utc(at)
    assert utc is not None
    return utc.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _done(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'done': notice})}", status_code=303)


def _no_store(response: HTMLResponse) -> HTMLResponse:
    # Pages holding a secret (a new token, a revealed phone) stay out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _role_options() -> list[dict[str, str]]:
    return [{"value": name, "label": role.label} for name, role in permissions().roles.items()]


def _assignments(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": a["id"], "role": a["role_label"], "region": a["region"]["name"], "code": a["region"]["code"],
         "org_id": a["org_id"]}
        for a in info["assignments"]
    ]


def _user_target(info: dict[str, Any]) -> Target:
    """The user as an authorization target, from its view: home first, then its scopes (like
    the service's own target), so `can()` answers without another query."""
    home = info["home_region"]["code"]
    others = sorted({a["region"]["code"] for a in info["assignments"]} - {home})
    return Target("user", str(info["id"]), (home, *others), label="用户")


# -- /account ----------------------------------------------------------------------------------


def _token_row(token: ApiToken, scope: str) -> dict[str, Any]:
    status = tokens.token_status(token)
    return {
        "id": token.id, "name": token.name, "prefix": token.prefix, "scope": scope,
        "status": status, "status_label": TOKEN_STATUS[status], "active": status == "active",
        "expires": _local(token.expires_at), "last_used": _local(token.last_used_at) or "从未使用",
    }


def _account_page(
    request: Request, session: Session, user: User, *, error: ShanzhiError | None = None,
    error_form: str | None = None, form: dict[str, str] | None = None, new_token: dict[str, Any] | None = None,
    notice: str | None = None, status_code: int = 200,
) -> HTMLResponse:
    actor = service.load_actor(session, user)
    info = service.view(session, user).as_dict()
    rows = [_token_row(t, scope) for t, scope in tokens.list_tokens(session, actor=actor)]
    policy = permissions().tokens
    context = {
        "title": "我的账号",
        "me": info,
        "assignments": _assignments(info),
        "tokens": rows,
        "may_create_token": bool(scope_prefixes(actor, "token.create")),
        "token_scope_hint": widest_scope(actor) or "",
        "default_days": policy.default_days,
        "max_days": policy.max_days,
        "new_token": new_token,
        "error": error,
        "error_form": error_form,
        "form": form or {},
        "notice": notice,
    }
    return render(request, "account.html", context, user=user, status_code=status_code)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: DbSession, user: PageUser, done: str | None = None) -> HTMLResponse:
    return _account_page(request, session, user, notice=NOTICES.get(done or ""))


@router.post("/account/password")
def change_password(
    request: Request, session: DbSession, user: PageUser, csrf_token: Csrf = "",
    current_password: Secret = "", new_password: Secret = "", repeat_password: Secret = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    if new_password != repeat_password:
        error: ShanzhiError | None = InvalidInput(
            "The new password and its repetition differ", "两次输入的新密码不一致", code="password_mismatch")
    else:
        _, error = attempt(session, lambda: service.change_password(
            session, user=user, old_password=current_password, new_password=new_password))
    if error is not None:
        return _account_page(request, session, user, error=error, error_form="password",
                             status_code=error.status_code)
    # The service ended every session of this user, this one included: sign in again.
    response = RedirectResponse("/login?" + urlencode({"next": "/account", "notice": "password_changed"}),
                                status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/account/tokens")
def create_token(
    request: Request, session: DbSession, user: PageUser, csrf_token: Csrf = "",
    name: Short = "", region: Code = "", days: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    check_csrf(request, session, csrf_token)
    form = {"name": name, "region": region, "days": days}
    actor = service.load_actor(session, user)
    created: tuple[ApiToken, str] | None = None
    error: ShanzhiError | None = None
    try:
        lifetime = int(days) if days.strip() else None
    except ValueError:
        error = InvalidInput("days must be a whole number", "有效期应为整数天数", code="invalid_days")
    else:
        created, error = attempt(session, lambda: tokens.create_token(
            session, actor=actor, name=name, region=region.strip() or None, days=lifetime))
    if error is not None:
        return _account_page(request, session, user, error=error, error_form="token", form=form,
                             status_code=error.status_code)
    assert created is not None
    token, raw = created
    shown = {"name": token.name, "raw": raw, "expires": _local(token.expires_at)}
    return _no_store(_account_page(request, session, user, new_token=shown))


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, session: DbSession, user: PageUser, token_id: int, csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    actor = service.load_actor(session, user)
    _, error = attempt(session, lambda: tokens.revoke_token(session, actor=actor, token_id=token_id))
    if error is not None:
        return _account_page(request, session, user, error=error, error_form="tokens", status_code=error.status_code)
    return _done("/account", "token_revoked")


# -- /admin/users ------------------------------------------------------------------------------


def _users_page(
    request: Request, session: Session, me: User, actor: Actor, *, q: str = "", role: str = "", page: int = 1,
    error: ShanzhiError | None = None, form: dict[str, str] | None = None, status_code: int = 200,
) -> HTMLResponse:
    # The service answers 403 to anyone who may not read users anywhere.
    users, total = service.list_users(session, actor=actor, q=q or None, role=role or None, page=page, size=PAGE_SIZE)
    rows = []
    for v in service.views(session, users):
        info = v.as_dict()
        rows.append({**info, "roles": _assignments(info), "status_label": "正常" if info["is_active"] else "已停用"})
    pages = max(1, ceil(total / PAGE_SIZE))

    def link(to: int) -> str | None:
        if not 1 <= to <= pages or to == page:
            return None
        return "/admin/users?" + urlencode({k: v for k, v in (("q", q), ("role", role), ("page", to)) if v})

    context = {
        "title": "用户管理",
        "rows": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "prev_url": link(page - 1),
        "next_url": link(page + 1),
        "q": q,
        "role": role,
        "roles": _role_options(),
        "may_create": bool(scope_prefixes(actor, "user.create")),
        "home_hint": widest_scope(actor) or "",
        "error": error,
        "form": form or {},
    }
    return render(request, "admin_users.html", context, user=me, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users(
    request: Request, session: DbSession, me: PageUser,
    q: Annotated[str, Query(max_length=64)] = "",
    role: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    actor = service.load_actor(session, me)
    return _users_page(request, session, me, actor, q=q.strip(), role=role, page=page)


@router.post("/admin/users")
def create_user(
    request: Request, session: DbSession, me: PageUser, csrf_token: Csrf = "",
    username: Short = "", display_name: Short = "", home_region: Code = "", phone: Code = "",
    password: Secret = "", role: Code = "", scope: Code = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    actor = service.load_actor(session, me)
    form = {"username": username, "display_name": display_name, "home_region": home_region, "phone": phone,
            "role": role, "scope": scope}

    def create() -> User:
        user = service.create_user(session, actor=actor, username=username.strip(), display_name=display_name,
                                   password=password, home_region=home_region.strip(),
                                   phone=phone.strip() or None)
        if role:
            # No scope typed: the role holds where the account lives.
            service.assign_role(session, actor=actor, user_id=user.id, role=role,
                                region=scope.strip() or home_region.strip())
        return user

    created, error = attempt(session, create)
    if error is not None:
        return _users_page(request, session, me, actor, error=error, form=form, status_code=error.status_code)
    assert created is not None
    return _done(f"/admin/users/{created.id}", "created")


def _user_page(
    request: Request, session: Session, me: User, actor: Actor, user_id: int, *,
    error: ShanzhiError | None = None, error_form: str | None = None, form: dict[str, str] | None = None,
    revealed: str | None = None, notice: str | None = None, status_code: int = 200,
) -> HTMLResponse:
    # Outside the actor's scope the user does not exist for them: the service answers 404.
    user = service.get_user(session, actor=actor, user_id=user_id)
    info = service.view(session, user).as_dict()
    target = _user_target(info)
    may = {name: can(actor, action, target) for name, action in USER_FORMS.items()}
    is_self = user.id == me.id
    context = {
        "title": f"用户 {info['display_name']}",
        "u": info,
        "assignments": _assignments(info),
        "created": _local(user.created_at),
        "status_label": "正常" if info["is_active"] else "已停用",
        "may": may,
        "may_disable": may["active"] and info["is_active"] and not is_self,
        "may_enable": may["active"] and not info["is_active"],
        "may_reveal": may["reveal"] and info["phone"] is not None,
        "is_self": is_self,
        "roles": _role_options(),
        "revealed": revealed,
        "error": error,
        "error_form": error_form,
        "form": form or {},
        "notice": notice,
    }
    return render(request, "admin_user.html", context, user=me, status_code=status_code)


def _after(
    request: Request, session: Session, me: User, actor: Actor, user_id: int, form_name: str,
    call: Callable[[], object], notice: str, form: dict[str, str] | None = None,
) -> Response:
    """One detail-page action: on success back to the page with a notice; on a domain error the
    same page again with the message next to the form that caused it."""
    _, error = attempt(session, call)
    if error is not None:
        return _user_page(request, session, me, actor, user_id, error=error, error_form=form_name, form=form,
                          status_code=error.status_code)
    return _done(f"/admin/users/{user_id}", notice)


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_detail(
    request: Request, session: DbSession, me: PageUser, user_id: int, done: str | None = None,
) -> HTMLResponse:
    actor = service.load_actor(session, me)
    return _user_page(request, session, me, actor, user_id, notice=NOTICES.get(done or ""))


@router.post("/admin/users/{user_id}/assignments")
def assign_role(
    request: Request, session: DbSession, me: PageUser, user_id: int, csrf_token: Csrf = "",
    role: Code = "", region: Code = "", org_code: Code = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    actor = service.load_actor(session, me)
    return _after(request, session, me, actor, user_id, "assign", lambda: service.assign_role(
        session, actor=actor, user_id=user_id, role=role, region=region.strip(), org_code=org_code.strip() or None,
    ), "assigned", {"role": role, "region": region, "org_code": org_code})


@router.post("/admin/users/{user_id}/assignments/{assignment_id}/remove")
def remove_assignment(
    request: Request, session: DbSession, me: PageUser, user_id: int, assignment_id: int, csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    actor = service.load_actor(session, me)
    return _after(request, session, me, actor, user_id, "assign", lambda: service.remove_assignment(
        session, actor=actor, user_id=user_id, assignment_id=assignment_id), "unassigned")


def _set_active(request: Request, session: Session, me: User, user_id: int, csrf: str, version: str,
                active: bool) -> Response:
    check_csrf(request, session, csrf)
    actor = service.load_actor(session, me)
    # The version the form was rendered with: a change made meanwhile answers 409.
    expected = int(version) if version.strip().isdigit() else None
    return _after(request, session, me, actor, user_id, "active", lambda: service.set_active(
        session, actor=actor, user_id=user_id, active=active, expected_version=expected,
    ), "enabled" if active else "disabled")


@router.post("/admin/users/{user_id}/disable")
def disable_user(
    request: Request, session: DbSession, me: PageUser, user_id: int, csrf_token: Csrf = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    return _set_active(request, session, me, user_id, csrf_token, version, active=False)


@router.post("/admin/users/{user_id}/enable")
def enable_user(
    request: Request, session: DbSession, me: PageUser, user_id: int, csrf_token: Csrf = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    return _set_active(request, session, me, user_id, csrf_token, version, active=True)


@router.post("/admin/users/{user_id}/password")
def reset_password(
    request: Request, session: DbSession, me: PageUser, user_id: int, csrf_token: Csrf = "",
    new_password: Secret = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    actor = service.load_actor(session, me)
    return _after(request, session, me, actor, user_id, "reset", lambda: service.reset_password(
        session, actor=actor, user_id=user_id, new_password=new_password), "reset")


@router.post("/admin/users/{user_id}/reveal-phone", response_class=HTMLResponse)
def reveal_phone(
    request: Request, session: DbSession, me: PageUser, user_id: int, csrf_token: Csrf = "",
) -> HTMLResponse:
    check_csrf(request, session, csrf_token)
    actor = service.load_actor(session, me)
    phone, error = attempt(session, lambda: service.reveal_phone(session, actor=actor, user_id=user_id))
    if error is not None:
        return _user_page(request, session, me, actor, user_id, error=error, error_form="reveal",
                          status_code=error.status_code)
    # The service wrote the reveal to the audit trail.
    return _no_store(_user_page(request, session, me, actor, user_id, revealed=phone or "未登记电话"))
