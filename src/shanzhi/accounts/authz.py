"""The one authorization rule: `can(actor, action, target)`.

A role grants an action (policy data, permissions.toml); the target must lie inside the
assignment's reach — its region subtree (codes are prefixes of their descendants' codes),
its organization's assignments (handlers), or what the user owns (residents). An API token
narrows this further to its own region.

`authorize` turns a "no" into the right error: 404 when the target is outside everything the
actor can see (so nothing leaks by id), 403 when it is visible but the action is not granted.
Both are written to the audit trail even though the request's transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from shanzhi.audit import service as audit
from shanzhi.errors import Forbidden, NotFound
from shanzhi.policy.loader import permissions


@dataclass(frozen=True, slots=True)
class Grant:
    role: str
    scope_code: str  # region code of the assignment's scope
    org_id: int | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    name: str
    grants: tuple[Grant, ...]
    token_scope: str | None = None  # set when acting through an API token

    @property
    def roles(self) -> set[str]:
        return {g.role for g in self.grants}


@dataclass(frozen=True, slots=True)
class Target:
    """What an action is about, reduced to what authorization needs.

    `region_codes`: every region the target lies in or touches (an event's micro-grid; a user's
    home and assignment scopes); all must be inside the scope. An empty tuple means the target
    has no place (nothing region-scoped reaches it).
    """

    kind: str
    id: str | None = None
    region_codes: tuple[str, ...] = ()
    org_id: int | None = None
    owner_id: int | None = None
    label: str | None = field(default=None, compare=False)

    @property
    def region_code(self) -> str | None:
        return self.region_codes[0] if self.region_codes else None


def _inside(codes: tuple[str, ...], scope: str) -> bool:
    return bool(codes) and all(c.startswith(scope) for c in codes)


def _reaches(actor: Actor, grant: Grant, target: Target) -> bool:
    if actor.token_scope is not None and not _inside(target.region_codes, actor.token_scope):
        return False
    reach = permissions().roles[grant.role].reach if grant.role in permissions().roles else []
    return (
        ("region" in reach and _inside(target.region_codes, grant.scope_code))
        or ("unit" in reach and grant.org_id is not None and target.org_id == grant.org_id)
        or ("own" in reach and actor.user_id is not None and target.owner_id == actor.user_id)
    )


def grants_for(actor: Actor, action: str, target: Target) -> list[Grant]:
    """The assignments through which the actor may do `action` to `target`."""
    policy = permissions()
    return [g for g in actor.grants if policy.grants(g.role, action) and _reaches(actor, g, target)]


def can(actor: Actor, action: str, target: Target) -> bool:
    return bool(grants_for(actor, action, target))


def sees(actor: Actor, target: Target) -> bool:
    """Whether the target is inside anything the actor's assignments reach at all."""
    return any(_reaches(actor, g, target) for g in actor.grants)


def authorize(session: Session, actor: Actor, action: str, target: Target) -> None:
    if can(actor, action, target):
        return
    visible = sees(actor, target)
    audit.record_durably(
        session,
        action=action,
        actor_id=actor.user_id,
        actor_name=actor.name,
        target_type=target.kind,
        target_id=target.id,
        region_code=target.region_code,
        outcome="denied",
        detail={"reason": "forbidden" if visible else "out_of_scope"},
    )
    what = target.label or target.kind
    if visible:
        raise Forbidden(
            f"You may not {action} on this {target.kind}",
            f"您无权对该{what}执行“{permissions().actions.get(action, action)}”操作",
            code="forbidden",
        )
    raise NotFound(f"{target.kind} not found", f"{what}不存在或不在您的管辖范围内", code="not_found")


def holds(actor: Actor, action: str) -> bool:
    """Whether any of the actor's roles grants the action somewhere (menus, list pages)."""
    return any(permissions().grants(g.role, action) for g in actor.grants)


def require_somewhere(session: Session, actor: Actor, action: str) -> None:
    """For list pages: 403 when no role of the actor grants the action anywhere."""
    if holds(actor, action):
        return
    audit.record_durably(session, action=action, actor_id=actor.user_id, actor_name=actor.name,
                         outcome="denied", detail={"reason": "forbidden"})
    raise Forbidden(
        f"You may not {action}",
        f"您无权执行“{permissions().actions.get(action, action)}”操作",
        code="forbidden",
    )


def scope_prefixes(actor: Actor, action: str) -> list[str]:
    """Region prefixes where the actor may do `action` to region-placed things (for list queries).

    An API token narrows each prefix to the token's region.
    """
    policy = permissions()
    out: set[str] = set()
    for g in actor.grants:
        if policy.grants(g.role, action) and "region" in policy.roles[g.role].reach:
            prefix = g.scope_code
            if actor.token_scope is not None:
                if actor.token_scope.startswith(prefix):
                    prefix = actor.token_scope
                elif not prefix.startswith(actor.token_scope):
                    continue
            out.add(prefix)
    # Drop prefixes covered by a shorter one.
    return sorted(p for p in out if not any(p != q and p.startswith(q) for q in out))


def widest_scope(actor: Actor) -> str | None:
    """The broadest scope code the actor holds (for tokens, defaults)."""
    codes = sorted({g.scope_code for g in actor.grants}, key=len)
    return codes[0] if codes else None


def start_page(actor: Actor) -> str:
    """Where `/` sends the user: the start page of their first role in the policy's order."""
    roles = permissions().roles
    for name, role in roles.items():
        if name in actor.roles:
            return role.start
    return "/map"
