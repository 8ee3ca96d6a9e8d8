"""Account endpoints: me, my tokens, user administration, the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shanzhi.accounts import service, tokens
from shanzhi.accounts.authz import require_somewhere, scope_prefixes
from shanzhi.accounts.deps import ApiActor
from shanzhi.accounts.models import ApiToken, User
from shanzhi.accounts.schemas import (
    AssignmentCreate, PasswordChange, PasswordReset, TokenCreate, UserCreate, VersionIn,
)
from shanzhi.audit import service as audit
from shanzhi.geo.levels import BY_NAME
from shanzhi.http import DbSession
from shanzhi.policy.loader import permissions

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Page = Annotated[int, Query(ge=1)]
Size = Annotated[int, Query(ge=1, le=500)]


def _user(session: DbSession, user: User) -> dict[str, Any]:
    return service.view(session, user).as_dict()


def _token(token: ApiToken, scope: str) -> dict[str, Any]:
    return {
        "id": token.id, "name": token.name, "prefix": token.prefix, "scope": scope,
        "status": tokens.token_status(token), "expires_at": token.expires_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


@router.get("/me", summary="当前用户 The signed-in user and what they may do")
def me(session: DbSession, actor: ApiActor) -> dict[str, Any]:
    user = session.get(User, actor.user_id)
    policy = permissions()
    return {
        **_user(session, user),
        "token_scope": actor.token_scope,
        "actions": sorted({a for g in actor.grants for a in policy.roles[g.role].actions}),
    }


@router.post("/me/password", status_code=204, summary="修改密码 Change my password")
def change_password(session: DbSession, actor: ApiActor, body: PasswordChange) -> None:
    user = session.get(User, actor.user_id)
    service.change_password(session, user=user, old_password=body.old_password, new_password=body.new_password)


@router.get("/me/tokens", summary="我的接口令牌 My API tokens")
def my_tokens(session: DbSession, actor: ApiActor) -> dict[str, Any]:
    items = [_token(t, s) for t, s in tokens.list_tokens(session, actor=actor)]
    return {"items": items, "total": len(items), "page": 1, "size": len(items)}


@router.post("/me/tokens", status_code=201, summary="创建接口令牌（仅显示一次）Create a token, shown once")
def create_token(session: DbSession, actor: ApiActor, body: TokenCreate) -> dict[str, Any]:
    token, raw = tokens.create_token(session, actor=actor, name=body.name, region=body.region, days=body.days)
    scope = next(s for t, s in tokens.list_tokens(session, actor=actor) if t.id == token.id)
    return {**_token(token, scope), "token": raw}


@router.delete("/me/tokens/{token_id}", status_code=204, summary="撤销令牌 Revoke a token")
def revoke_token(session: DbSession, actor: ApiActor, token_id: int) -> None:
    tokens.revoke_token(session, actor=actor, token_id=token_id)


@router.get("/users", summary="用户列表（按范围）Users in my scope")
def list_users(
    session: DbSession, actor: ApiActor,
    q: Annotated[str | None, Query(max_length=64)] = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
    page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = service.list_users(session, actor=actor, q=q, role=role, page=page, size=size)
    return {"items": [v.as_dict() for v in service.views(session, rows)], "total": total, "page": page, "size": size}


@router.post("/users", status_code=201, summary="新建用户 Create a user")
def create_user(session: DbSession, actor: ApiActor, body: UserCreate) -> dict[str, Any]:
    user = service.create_user(session, actor=actor, **body.model_dump())
    return _user(session, user)


@router.get("/users/{user_id}", summary="用户详情 One user")
def get_user(session: DbSession, actor: ApiActor, user_id: int) -> dict[str, Any]:
    return _user(session, service.get_user(session, actor=actor, user_id=user_id))


@router.post("/users/{user_id}/assignments", status_code=201, summary="分配角色 Assign a role in a scope")
def assign(session: DbSession, actor: ApiActor, user_id: int, body: AssignmentCreate) -> dict[str, Any]:
    service.assign_role(session, actor=actor, user_id=user_id, **body.model_dump())
    return _user(session, session.get(User, user_id))


@router.delete("/users/{user_id}/assignments/{assignment_id}", status_code=204, summary="撤销角色 Remove an assignment")
def unassign(session: DbSession, actor: ApiActor, user_id: int, assignment_id: int) -> None:
    service.remove_assignment(session, actor=actor, user_id=user_id, assignment_id=assignment_id)


@router.post("/users/{user_id}/disable", summary="停用 Disable a user")
def disable(session: DbSession, actor: ApiActor, user_id: int, body: VersionIn | None = None) -> dict[str, Any]:
    user = service.set_active(session, actor=actor, user_id=user_id, active=False,
                              expected_version=body.version if body else None)
    return _user(session, user)


@router.post("/users/{user_id}/enable", summary="启用 Enable a user")
def enable(session: DbSession, actor: ApiActor, user_id: int, body: VersionIn | None = None) -> dict[str, Any]:
    user = service.set_active(session, actor=actor, user_id=user_id, active=True,
                              expected_version=body.version if body else None)
    return _user(session, user)


@router.post("/users/{user_id}/password", status_code=204, summary="重置密码 Reset a password")
def reset_password(session: DbSession, actor: ApiActor, user_id: int, body: PasswordReset) -> None:
    service.reset_password(session, actor=actor, user_id=user_id, new_password=body.new_password)


@router.post("/users/{user_id}/reveal-phone", summary="查看完整电话（留痕）Reveal the phone, audited")
def reveal_phone(session: DbSession, actor: ApiActor, user_id: int) -> dict[str, Any]:
    return {"phone": service.reveal_phone(session, actor=actor, user_id=user_id)}


@router.get("/audit", summary="审计日志（按范围）Audit trail in my scope")
def audit_entries(
    session: DbSession, actor: ApiActor,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(pattern="^(allowed|denied|failed)$")] = None,
    actor_id: int | None = None,
    page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    require_somewhere(session, actor, "audit.read")
    prefixes = scope_prefixes(actor, "audit.read")
    # District-wide readers also see entries with no region (sign-ins, token use).
    whole = any(len(p) == BY_NAME["district"].code_length for p in prefixes)
    rows, total = audit.list_entries(session, region_prefixes=None if whole else prefixes, action=action, actor_id=actor_id,
                                     outcome=outcome, page=page, size=size)
    return {"items": [audit.entry_dict(e) for e in rows], "total": total, "page": page, "size": size}
