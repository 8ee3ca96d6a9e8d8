"""Notifications: who is told of what (policy/notify.toml), found for a whole batch at once.

Happenings (deadline yellow/red, escalation, assignment) become inbox rows for the users whose
role assignments the policy names, placed by the event's unit, village, town, district or tier.
Each carries a dedupe key, so telling twice never delivers twice.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import ShanzhiError
from shanzhi.events.catalog import catalog
from shanzhi.events.models import Event, Notification
from shanzhi.events.policy import routing
from shanzhi.events.workcal import work_calendar
from shanzhi.geo.levels import BY_NAME, LEVELS
from shanzhi.geo.models import Region
from shanzhi.policy.loader import permissions, policy_path

# -- policy: who is told of what ---------------------------------------------------------------

KINDS = ("deadline_yellow", "deadline_red", "escalated", "assigned", "merged", "merged_closed")
PLACEHOLDERS = frozenset({"code", "category", "tier", "due", "text", "result", "into"})
Placement = Literal["unit", "village", "town", "district", "tier", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipient(_Strict):
    role: str
    at: Placement


class HappeningPolicy(_Strict):
    label: str = Field(min_length=1)
    message: str = Field(min_length=1, max_length=400)
    to: tuple[Recipient, ...] = ()
    reporter: bool = False  # also tell the signed-in user who reported the event

    @model_validator(mode="after")
    def _known_placeholders(self) -> HappeningPolicy:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(self.message) if name is not None}
        except ValueError as exc:
            raise ValueError(f"message {self.message!r} is not a valid template: {exc}") from None
        if bad := names - PLACEHOLDERS:
            raise ValueError(f"message names unknown placeholders {sorted(bad)}; use {sorted(PLACEHOLDERS)}")
        return self


class NotifyPolicy(_Strict):
    version: str = Field(min_length=1)
    happenings: dict[str, HappeningPolicy]

    @model_validator(mode="after")
    def _known(self) -> NotifyPolicy:
        if missing := set(KINDS) - set(self.happenings):
            raise ValueError(f"notify policy must name every happening: missing {sorted(missing)}")
        if unknown := set(self.happenings) - set(KINDS):
            raise ValueError(f"unknown happenings {sorted(unknown)}; use {list(KINDS)}")
        roles = permissions().roles
        for kind, h in self.happenings.items():
            if bad := [r.role for r in h.to if r.role not in roles]:
                raise ValueError(f"happenings.{kind} names unknown roles {bad}")
        return self


@lru_cache
def notify_policy() -> NotifyPolicy:
    with policy_path("notify.toml").open("rb") as f:
        return NotifyPolicy.model_validate(tomllib.load(f))


# -- notifications -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Happening:
    """Something that happened to an event, captured at that moment: an escalation unassigns
    the unit right after the red mark, and the red notice must still reach that unit."""

    kind: str
    event_id: int
    code: str
    region_code: str
    org_id: int | None
    tier: str | None
    category_code: str | None
    due_at: datetime | None
    text: str
    dedupe_key: str
    reporter_id: int | None = None
    result: str | None = None
    into: str | None = None  # the event a duplicate was merged into


def happening(event: Event, kind: str, dedupe_key: str, *, into: str | None = None) -> Happening:
    return Happening(kind, event.id, event.code, event.region_code, event.assigned_org_id, event.tier,
                     event.category_code, as_utc(event.due_at), event.text, dedupe_key,
                     reporter_id=event.reporter_id, result=event.result_text, into=into)


def assigned(event: Event) -> Happening:
    """The happening of a dispatch, for the service layer to pass to `notify`."""
    at = as_utc(event.dispatched_at)
    return happening(event, "assigned", f"{event.code}:assigned:{event.assigned_org_id}:{at.isoformat() if at else ''}")


def _scope_length(at: str, tier: str | None) -> int | None:
    if at == "tier":
        level = routing().tier_levels.get(tier or "")
        return BY_NAME[level].code_length if level else None
    return BY_NAME[at].code_length


def _prefixes(code: str) -> list[str]:
    """The codes of the region and of every region above it."""
    return [code[:lv.code_length] for lv in LEVELS if lv.code_length <= len(code)]


def recipients(session: Session, happenings: Sequence[Happening]) -> list[set[int]]:
    """For each happening, the ids of the active users the policy says to tell — one query for all."""
    policy = notify_policy()
    roles: set[str] = set()
    scopes: set[str] = set()
    orgs: set[int] = set()
    for h in happenings:
        for rule in policy.happenings[h.kind].to:
            roles.add(rule.role)
            if rule.at == "unit":
                if h.org_id is not None:
                    orgs.add(h.org_id)
            elif rule.at == "any":
                scopes.update(_prefixes(h.region_code))
            elif (n := _scope_length(rule.at, h.tier)) is not None and len(h.region_code) >= n:
                scopes.add(h.region_code[:n])
    if not roles or not (scopes or orgs):
        return [{h.reporter_id} if policy.happenings[h.kind].reporter and h.reporter_id is not None else set()
                for h in happenings]
    rows = session.execute(
        select(RoleAssignment.user_id, RoleAssignment.role, RoleAssignment.org_id, Region.code)
        .join(Region, Region.id == RoleAssignment.region_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(User.is_active.is_(True), RoleAssignment.role.in_(sorted(roles)),
               or_(Region.code.in_(sorted(scopes)), RoleAssignment.org_id.in_(sorted(orgs))))
    ).all()
    by_scope: dict[tuple[str, str], set[int]] = {}
    by_org: dict[tuple[str, int], set[int]] = {}
    for user_id, role, org_id, scope in rows:
        by_scope.setdefault((role, scope), set()).add(user_id)
        if org_id is not None:
            by_org.setdefault((role, org_id), set()).add(user_id)
    out: list[set[int]] = []
    for h in happenings:
        users: set[int] = set()
        for rule in policy.happenings[h.kind].to:
            if rule.at == "unit":
                users |= by_org.get((rule.role, h.org_id), set()) if h.org_id is not None else set()
            elif rule.at == "any":
                for scope in _prefixes(h.region_code):
                    users |= by_scope.get((rule.role, scope), set())
            elif (n := _scope_length(rule.at, h.tier)) is not None and len(h.region_code) >= n:
                users |= by_scope.get((rule.role, h.region_code[:n]), set())
        if policy.happenings[h.kind].reporter and h.reporter_id is not None:
            users.add(h.reporter_id)
        out.append(users)
    return out


def _message(template: str, h: Happening) -> str:
    cat = catalog()
    try:
        category = cat.category(h.category_code).name if h.category_code else "未分类"
    except ShanzhiError:
        category = h.category_code or "未分类"
    tier = next((t.name for t in cat.tiers if t.code == h.tier), h.tier or "—")
    due = h.due_at.astimezone(work_calendar().tz).strftime("%Y-%m-%d %H:%M") if h.due_at else "—"
    text = h.text if len(h.text) <= 40 else h.text[:39] + "…"
    result = h.result or "—"
    result = result if len(result) <= 120 else result[:119] + "…"
    return template.format(code=h.code, category=category, tier=tier, due=due, text=text, result=result,
                           into=h.into or "—")[:500]


def notify(session: Session, happenings: Sequence[Happening], *, now: datetime | None = None) -> int:
    """Write the inbox notifications for the happenings; returns how many were new.

    A (user, dedupe key) already delivered is skipped, so repeating a happening repeats nothing.
    Three statements for any number of happenings: recipients, already sent, insert.
    """
    if not happenings:
        return 0
    now = now or utcnow()
    policy = notify_policy()
    rows: dict[tuple[int, str], dict[str, object]] = {}
    for h, users in zip(happenings, recipients(session, happenings), strict=True):
        message = _message(policy.happenings[h.kind].message, h)
        for user_id in sorted(users):
            rows.setdefault((user_id, h.dedupe_key), {
                "user_id": user_id, "event_id": h.event_id, "kind": h.kind, "message": message,
                "dedupe_key": h.dedupe_key, "created_at": now,
            })
    if not rows:
        return 0
    sent = set(session.execute(
        select(Notification.user_id, Notification.dedupe_key)
        .where(Notification.dedupe_key.in_(sorted({k for _, k in rows})),
               Notification.user_id.in_(sorted({u for u, _ in rows})))
    ).tuples())
    new = [row for key, row in rows.items() if key not in sent]
    if new:
        session.execute(insert(Notification), new)
    return len(new)


# -- deadlines ---------------------------------------------------------------------------------
