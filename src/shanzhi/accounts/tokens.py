"""Personal API tokens for integrations: shown once, stored as SHA-256, expiring, revocable,
and scoped no wider than their owner."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize, widest_scope
from shanzhi.accounts.crypto import new_secret, sha256_hex
from shanzhi.accounts.models import ApiToken, User
from shanzhi.accounts.service import load_actor
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import InvalidInput, NotFound
from shanzhi.geo.models import Region
from shanzhi.policy.loader import permissions

PREFIX = "sz_"


def create_token(
    session: Session, *, actor: Actor, name: str, region: str | None = None, days: int | None = None
) -> tuple[ApiToken, str]:
    """A new token; the raw value is returned once and never stored."""
    policy = permissions().tokens
    days = policy.default_days if days is None else days
    if not 1 <= days <= policy.max_days:
        raise InvalidInput(f"days must be 1–{policy.max_days}", f"有效期应为 1–{policy.max_days} 天", code="invalid_days")
    if not name or not name.strip() or len(name) > 64:
        raise InvalidInput("Token name must be 1–64 characters", "令牌名称应为 1–64 个字符", code="invalid_name")
    code = region or actor.token_scope or widest_scope(actor)
    scope = session.scalar(select(Region).where(Region.code == code)) if code else None
    target = Target("region", code, (code,) if code else (), label="区域")
    if scope is None:
        raise NotFound(f"Region {code} not found", f"区域 {code} 不存在或不在您的管辖范围内", code="region_not_found")
    # The token's scope must be one where its owner may create tokens: no wider than the owner.
    authorize(session, actor, "token.create", target)
    raw = PREFIX + new_secret(30)
    token = ApiToken(
        user_id=actor.user_id, name=name.strip(), prefix=raw[:10], token_hash=sha256_hex(raw),
        scope_region_id=scope.id, expires_at=utcnow() + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    audit.record(session, action="token.create", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="api_token", target_id=str(token.id), region_code=scope.code,
                 after={"name": token.name, "prefix": token.prefix, "scope": scope.code, "days": days})
    return token, raw


def list_tokens(session: Session, *, actor: Actor) -> list[tuple[ApiToken, str]]:
    rows = session.execute(
        select(ApiToken, Region.code)
        .join(Region, Region.id == ApiToken.scope_region_id)
        .where(ApiToken.user_id == actor.user_id)
        .order_by(ApiToken.id.desc())
    ).all()
    return [(t, c) for t, c in rows]


def revoke_token(session: Session, *, actor: Actor, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.user_id:
        raise NotFound("token not found", "令牌不存在", code="not_found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        audit.record(session, action="token.revoke", actor_id=actor.user_id, actor_name=actor.name,
                     target_type="api_token", target_id=str(token.id))
    return token


def token_status(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if as_utc(token.expires_at) <= utcnow() else "active"


def actor_for_token(session: Session, *, raw: str) -> Actor | None:
    """The actor a bearer token stands for, or None if it is unknown, expired or revoked."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    # Token, owner and scope in one query: this runs on every API request.
    row = session.execute(
        select(ApiToken, User, Region.code)
        .join(User, User.id == ApiToken.user_id)
        .join(Region, Region.id == ApiToken.scope_region_id)
        .where(ApiToken.token_hash == sha256_hex(raw))
    ).first()
    if row is None:
        return None
    token, user, scope = row
    if token_status(token) != "active" or not user.is_active:
        return None
    # Written at most once a minute: every request writing the token row would serialize all
    # requests of one integration on that row.
    now = utcnow()
    if token.last_used_at is None or as_utc(token.last_used_at) < now - timedelta(minutes=1):
        token.last_used_at = now
    return load_actor(session, user, token_scope=scope)
