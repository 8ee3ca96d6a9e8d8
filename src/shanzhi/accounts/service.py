"""Users and their role assignments: the admin's rules.

Every function takes the acting user; every lookup is scoped, so an account outside the
actor's subtree answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Grant, Target, authorize, require_somewhere, scope_prefixes
from shanzhi.accounts.crypto import decrypt_text, encrypt_text, hash_password, mask_phone, verify_password
from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.accounts.signin import end_all_sessions
from shanzhi.audit import service as audit
from shanzhi.db import utcnow
from shanzhi.errors import Conflict, InvalidInput, NotFound, Unauthorized
from shanzhi.geo.models import Region
from shanzhi.geo.service import get_region
from shanzhi.orgs.models import Organization
from shanzhi.policy.loader import permissions

USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")
PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
MIN_PASSWORD, MAX_PASSWORD = 8, 128


@dataclass(frozen=True)
class UserView:
    """A user as shown: phone masked, assignments with region names."""

    user: User
    home: Region
    assignments: list[tuple[RoleAssignment, Region]]

    def as_dict(self) -> dict[str, Any]:
        roles = permissions().roles
        return {
            "id": self.user.id,
            "username": self.user.username,
            "display_name": self.user.display_name,
            "phone": mask_phone(decrypt_text(self.user.phone_encrypted)) if self.user.phone_encrypted else None,
            "home_region": {"code": self.home.code, "name": self.home.name},
            "is_active": self.user.is_active,
            "version": self.user.version,
            "assignments": [
                {
                    "id": a.id,
                    "role": a.role,
                    "role_label": roles[a.role].label if a.role in roles else a.role,
                    "region": {"code": r.code, "name": r.name},
                    "org_id": a.org_id,
                }
                for a, r in self.assignments
            ],
            "created_at": self.user.created_at.isoformat(),
        }


# -- validation --------------------------------------------------------------------------------


def check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"Password must be {MIN_PASSWORD}–{MAX_PASSWORD} characters",
            f"密码长度应为 {MIN_PASSWORD}–{MAX_PASSWORD} 个字符",
            code="weak_password",
        )
    if password.isdigit() or password.isalpha():
        raise InvalidInput(
            "Password must mix letters with digits or symbols",
            "密码须同时包含字母和数字（或符号）",
            code="weak_password",
        )


def _check_profile(username: str, display_name: str, phone: str | None) -> None:
    if not USERNAME.match(username or ""):
        raise InvalidInput(
            "Username must be 3–64 letters, digits, '.', '_' or '-'",
            "用户名应为 3–64 位字母、数字或 . _ -",
            code="invalid_username",
        )
    if not display_name or not display_name.strip() or len(display_name) > 64:
        raise InvalidInput("Display name must be 1–64 characters", "姓名应为 1–64 个字符", code="invalid_name")
    if phone is not None and not PHONE.match(phone):
        raise InvalidInput(
            f"Phone {phone!r} is not a mainland mobile or landline number",
            "电话号码格式不正确（手机 11 位，或区号-座机号）",
            code="invalid_phone",
        )


def _check_role(role: str) -> None:
    if role not in permissions().roles:
        raise InvalidInput(
            f"Unknown role {role!r}; use one of {', '.join(permissions().roles)}",
            f"未知角色 {role!r}",
            code="unknown_role",
        )


# -- actors ------------------------------------------------------------------------------------


def load_actor(session: Session, user: User, *, token_scope: str | None = None) -> Actor:
    rows = session.execute(
        select(RoleAssignment.role, Region.code, RoleAssignment.org_id)
        .join(Region, Region.id == RoleAssignment.region_id)
        .where(RoleAssignment.user_id == user.id)
        .order_by(RoleAssignment.id)
    ).all()
    return Actor(user.id, user.display_name, tuple(Grant(r, c, o) for r, c, o in rows), token_scope)


def _target(session: Session, user: User) -> Target:
    codes = session.scalars(
        select(Region.code)
        .where(or_(Region.id == user.home_region_id,
                   Region.id.in_(select(RoleAssignment.region_id).where(RoleAssignment.user_id == user.id))))
    ).all()
    home = session.scalar(select(Region.code).where(Region.id == user.home_region_id))
    ordered = (home, *sorted(c for c in codes if c != home))
    return Target("user", str(user.id), ordered, label="用户")


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found", "用户不存在或不在您的管辖范围内", code="not_found")
    return user


def get_user(session: Session, *, actor: Actor, user_id: int, action: str = "user.read") -> User:
    user = _get(session, user_id)
    authorize(session, actor, action, _target(session, user))
    return user


def view(session: Session, user: User) -> UserView:
    return views(session, [user])[0]


def views(session: Session, users: list[User]) -> list[UserView]:
    """Users as shown, with their regions and assignments: two queries for any number of users."""
    ids = [u.id for u in users]
    rows = session.execute(
        select(RoleAssignment, Region)
        .join(Region, Region.id == RoleAssignment.region_id)
        .where(RoleAssignment.user_id.in_(ids))
        .order_by(RoleAssignment.id)
    ).all() if ids else []
    homes = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_(sorted({u.home_region_id for u in users}))))}
    by_user: dict[int, list[tuple[RoleAssignment, Region]]] = {i: [] for i in ids}
    for a, r in rows:
        by_user[a.user_id].append((a, r))
    return [UserView(u, homes[u.home_region_id], by_user[u.id]) for u in users]


def _bump(user: User, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != user.version:
        raise Conflict(
            "This user was changed by someone else; reload and try again",
            "该用户已被他人修改，请刷新后重试",
            code="stale_version",
        )
    user.version += 1


def _audit(session: Session, actor: Actor, action: str, user: User, home_code: str, **changes: Any) -> None:
    audit.record(
        session, action=action, actor_id=actor.user_id, actor_name=actor.name,
        target_type="user", target_id=str(user.id), region_code=home_code, **changes,
    )


# -- admin -------------------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    display_name: str,
    password: str,
    home_region: str,
    phone: str | None = None,
) -> User:
    _check_profile(username, display_name, phone)
    check_password(password)
    region = _scoped_region(session, actor, home_region)
    authorize(session, actor, "user.create", Target("user", None, (region.code,), label="用户"))
    if session.scalar(select(func.count()).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"Username {username} is taken", f"用户名 {username} 已被使用", code="username_taken")
    user = User(
        username=username,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        phone_encrypted=encrypt_text(phone) if phone else None,
        home_region_id=region.id,
    )
    session.add(user)
    session.flush()
    _audit(session, actor, "user.create", user, region.code,
           after={"username": username, "display_name": user.display_name, "home_region": region.code,
                  "phone": mask_phone(phone)})
    return user


def _scoped_region(session: Session, actor: Actor, code: str) -> Region:
    """A region the actor may place things in; outside their scope it does not exist for them."""
    try:
        region = get_region(session, code=code)
    except NotFound:
        region = None
    if region is None or not any(code.startswith(g.scope_code) for g in actor.grants):
        raise NotFound(f"Region {code} not found", f"区域 {code} 不存在或不在您的管辖范围内",
                       code="region_not_found")
    return region


def assign_role(
    session: Session,
    *,
    actor: Actor,
    user_id: int,
    role: str,
    region: str,
    org_code: str | None = None,
) -> RoleAssignment:
    _check_role(role)
    user = get_user(session, actor=actor, user_id=user_id, action="user.assign")
    scope = _scoped_region(session, actor, region)
    # The new scope must also lie inside what the assigner may assign.
    authorize(session, actor, "user.assign", Target("user", str(user.id), (scope.code,), label="范围"))
    org_id = None
    if org_code is not None:
        org = session.scalar(select(Organization).where(Organization.code == org_code))
        if org is None:
            raise NotFound(f"Organization {org_code} not found", f"单位 {org_code} 不存在", code="org_not_found")
        org_id = org.id
    exists = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id, RoleAssignment.role == role,
            RoleAssignment.region_id == scope.id,
            RoleAssignment.org_id.is_(None) if org_id is None else RoleAssignment.org_id == org_id,
        )
    )
    if exists is not None:
        return exists
    grant = RoleAssignment(user_id=user.id, role=role, region_id=scope.id, org_id=org_id)
    session.add(grant)
    _bump(user, None)
    session.flush()
    _audit(session, actor, "user.assign", user, scope.code,
           after={"role": role, "scope": scope.code, "org": org_code})
    return grant


def remove_assignment(session: Session, *, actor: Actor, user_id: int, assignment_id: int) -> None:
    user = get_user(session, actor=actor, user_id=user_id, action="user.assign")
    grant = session.get(RoleAssignment, assignment_id)
    if grant is None or grant.user_id != user.id:
        raise NotFound("assignment not found", "角色分配不存在", code="not_found")
    scope = session.get(Region, grant.region_id)
    assert scope is not None
    authorize(session, actor, "user.assign", Target("user", str(user.id), (scope.code,), label="范围"))
    before = {"role": grant.role, "scope": scope.code}
    session.delete(grant)
    _bump(user, None)
    session.flush()
    _audit(session, actor, "user.unassign", user, scope.code, before=before)


def set_active(
    session: Session, *, actor: Actor, user_id: int, active: bool, expected_version: int | None = None
) -> User:
    user = get_user(session, actor=actor, user_id=user_id, action="user.disable")
    if actor.user_id == user.id and not active:
        raise Conflict("You cannot disable your own account", "不能停用自己的账号", code="self_disable")
    before = user.is_active
    _bump(user, expected_version)
    user.is_active = active
    if not active:
        end_all_sessions(session, user_id=user.id)
    session.flush()
    _audit(session, actor, "user.enable" if active else "user.disable", user, _home_code(session, user),
           before={"is_active": before}, after={"is_active": active})
    return user


def reset_password(session: Session, *, actor: Actor, user_id: int, new_password: str) -> User:
    check_password(new_password)
    user = get_user(session, actor=actor, user_id=user_id, action="user.reset_password")
    set_password(session, user=user, new_password=new_password)
    _audit(session, actor, "user.reset_password", user, _home_code(session, user))
    return user


def set_password(session: Session, *, user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    _bump(user, None)
    end_all_sessions(session, user_id=user.id)
    session.flush()


def change_password(session: Session, *, user: User, old_password: str, new_password: str) -> None:
    """The signed-in user changes their own password; every other session of theirs ends."""
    if not verify_password(user.password_hash, old_password or ""):
        audit.record_durably(session, action="auth.change_password", actor_id=user.id,
                             actor_name=user.display_name, outcome="failed", detail={"reason": "bad_password"})
        raise Unauthorized("The current password is wrong", "当前密码不正确", code="bad_password")
    check_password(new_password)
    if new_password == old_password:
        raise InvalidInput("The new password must differ", "新密码不能与当前密码相同", code="same_password")
    set_password(session, user=user, new_password=new_password)
    audit.record(session, action="auth.change_password", actor_id=user.id, actor_name=user.display_name,
                 target_type="user", target_id=str(user.id), region_code=_home_code(session, user))


def reveal_phone(session: Session, *, actor: Actor, user_id: int) -> str | None:
    user = get_user(session, actor=actor, user_id=user_id, action="personal.reveal")
    _audit(session, actor, "personal.reveal", user, _home_code(session, user), detail={"field": "phone"})
    return decrypt_text(user.phone_encrypted) if user.phone_encrypted else None


def _home_code(session: Session, user: User) -> str:
    code = session.scalar(select(Region.code).where(Region.id == user.home_region_id))
    assert code is not None
    return code


def list_users(
    session: Session,
    *,
    actor: Actor,
    q: str | None = None,
    role: str | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[User], int]:
    """Accounts whose home lies inside the actor's scope for user.read."""
    require_somewhere(session, actor, "user.read")
    prefixes = scope_prefixes(actor, "user.read")
    if not prefixes:
        return [], 0
    stmt = (
        select(User)
        .join(Region, Region.id == User.home_region_id)
        .where(or_(*(Region.code.startswith(p) for p in prefixes)))
    )
    if q:
        stmt = stmt.where(or_(User.username.contains(q, autoescape=True),
                              User.display_name.contains(q, autoescape=True)))
    if role:
        _check_role(role)
        stmt = stmt.where(User.id.in_(select(RoleAssignment.user_id).where(RoleAssignment.role == role)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.id).offset((page - 1) * size).limit(size)).all()
    return list(rows), total


def system_actor(session: Session, name: str = "命令行 CLI") -> Actor:
    """Whoever runs the command line on the server: an administrator of every root region."""
    roots = session.scalars(select(Region.code).where(Region.parent_id.is_(None))).all()
    return Actor(None, name, tuple(Grant("admin", code) for code in roots))


def find_user(session: Session, *, username: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    if user is None:
        raise NotFound(f"User {username} not found", f"用户 {username} 不存在", code="not_found")
    return user
