"""Grid people and their role assignments: the managers' rules.

A person belongs to a home region; they are visible to whoever reaches that region or any region
they currently serve in. Assignments are authorized by their own region: a village cadre names
the 网格长 of her village's grids, not of the next village's. Ending an assignment sets its end
date and keeps the row, so the history of who served where stays readable. Phones are encrypted,
shown masked, and revealed only with `person.reveal`, a stated reason and an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts import service as accounts
from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    can,
    require_somewhere,
    scope_prefixes,
    sees,
)
from shanzhi.accounts.crypto import decrypt_text, encrypt_text, mask_phone
from shanzhi.accounts.models import User
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, for_update, local_time, utcnow
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.geo.levels import BY_NAME
from shanzhi.geo.models import Region
from shanzhi.geo.service import get_region, ref_dict
from shanzhi.gridpeople.models import GridAssignment, GridPerson
from shanzhi.gridpeople.policy import gridpeople_policy
from shanzhi.orgs.models import Organization

MAX_PAGE_SIZE = 500
EARLIEST = date(1990, 1, 1)
CURRENT = GridAssignment.end_date.is_(None)
# Fields a manager may change on a person (PATCH); anything else is refused.
EDITABLE = frozenset({"name", "phone", "user_id", "org_code"})


def today() -> date:
    """The date in the district (Asia/Shanghai): assignments start and end on local days."""
    return local_time(utcnow()).date()


# -- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonView:
    """A person as shown: phone masked, assignments with their regions, links by code."""

    person: GridPerson
    home: Region
    assignments: list[tuple[GridAssignment, Region]]
    username: str | None
    org: Organization | None

    def as_dict(self, *, history: bool = False) -> dict[str, Any]:
        p = self.person
        shown = self.assignments if history else [(a, r) for a, r in self.assignments if a.end_date is None]
        return {
            "id": p.id,
            "name": p.name,
            "phone": mask_phone(decrypt_text(p.phone_encrypted)) if p.phone_encrypted else None,
            "home_region": {"code": self.home.code, "name": self.home.name},
            "user": {"id": p.user_id, "username": self.username} if p.user_id else None,
            "organization": {"code": self.org.code, "name": self.org.name, "kind": self.org.kind} if self.org else None,
            "version": p.version,
            "assignments": [assignment_dict(a, r) for a, r in shown],
            "created_at": as_utc(p.created_at).isoformat(),  # type: ignore[union-attr]
        }


def assignment_dict(a: GridAssignment, region: Region) -> dict[str, Any]:
    return {
        "id": a.id,
        "role": a.role,
        "role_label": gridpeople_policy().label(a.role),
        "region": ref_dict(region.code, region.name, region.level),
        "start_date": a.start_date.isoformat(),
        "end_date": a.end_date.isoformat() if a.end_date else None,
        "end_reason": a.end_reason,
        "current": a.end_date is None,
    }


def views(session: Session, people: list[GridPerson]) -> list[PersonView]:
    """People as shown: four queries for any number of people."""
    ids = [p.id for p in people]
    if not ids:
        return []
    rows = session.execute(
        select(GridAssignment, Region).join(Region, Region.id == GridAssignment.region_id)
        .where(GridAssignment.person_id.in_(ids))
        .order_by(GridAssignment.start_date, GridAssignment.id)
    ).all()
    homes = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_({p.home_region_id for p in people})))}
    user_ids = {p.user_id for p in people if p.user_id}
    usernames = dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).tuples().all()) \
        if user_ids else {}
    org_ids = {p.org_id for p in people if p.org_id}
    orgs = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))} \
        if org_ids else {}
    by_person: dict[int, list[tuple[GridAssignment, Region]]] = {i: [] for i in ids}
    for a, r in rows:
        by_person[a.person_id].append((a, r))
    return [PersonView(p, homes[p.home_region_id], by_person[p.id], usernames.get(p.user_id or 0),
                       orgs.get(p.org_id or 0)) for p in people]


def view(session: Session, person: GridPerson) -> PersonView:
    return views(session, [person])[0]


# -- validation --------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
        raise InvalidInput("Name must be 1–64 characters", "姓名应为 1–64 个字符", code="invalid_name")
    return name.strip()


def _check_phone(phone: str | None) -> str | None:
    if phone is not None and not accounts.PHONE.match(phone):
        raise InvalidInput(
            f"Phone {phone!r} is not a mainland mobile or landline number",
            "电话号码格式不正确（手机 11 位，或区号-座机号）",
            code="invalid_phone",
        )
    return phone


def _check_day(day: date, *, after: date, what: str, what_zh: str) -> date:
    if day > today():
        raise InvalidInput(f"The {what} cannot lie in the future", f"{what_zh}不能晚于今天", code="invalid_date")
    if day < after:
        raise InvalidInput(f"The {what} must be on or after {after.isoformat()}",
                           f"{what_zh}不能早于 {after.isoformat()}", code="invalid_date")
    return day


def _org_id(session: Session, org_code: str | None) -> int | None:
    if org_code is None:
        return None
    found = session.scalar(select(Organization.id).where(Organization.code == org_code))
    if found is None:
        raise NotFound(f"Organization {org_code} not found", f"单位 {org_code} 不存在", code="org_not_found")
    return found


def _user_id(session: Session, actor: Actor, user_id: int | None, person_id: int | None) -> int | None:
    """A user account the actor may link: inside what they manage, not linked to someone else."""
    if user_id is None:
        return None
    accounts.get_user(session, actor=actor, user_id=user_id, action="gridpeople.manage")
    taken = session.scalar(select(GridPerson.id).where(GridPerson.user_id == user_id))
    if taken is not None and taken != person_id:
        raise Conflict("This account is already linked to another grid person",
                       "该账号已关联其他网格人员", code="user_linked")
    return user_id


# -- reading -----------------------------------------------------------------------------------


def _region_in_reach(session: Session, actor: Actor, action: str, code: str) -> Region:
    region = get_region(session, code=code)
    authorize(session, actor, action, Target("region", code, (code,), label="区域"))
    return region


def _person_codes(session: Session, person: GridPerson) -> list[str]:
    """Where a person is: home first, then the regions they currently serve in."""
    home = session.scalar(select(Region.code).where(Region.id == person.home_region_id))
    serving = session.scalars(
        select(Region.code).join(GridAssignment, GridAssignment.region_id == Region.id)
        .where(GridAssignment.person_id == person.id, CURRENT).order_by(Region.code)
    ).all()
    assert home is not None
    return [home, *(c for c in serving if c != home)]


def _authorize_person(session: Session, actor: Actor, action: str, person: GridPerson) -> None:
    """Allowed when any place of the person lies in the actor's reach for the action."""
    targets = [Target("grid_person", str(person.id), (c,), label="网格人员") for c in _person_codes(session, person)]
    if any(can(actor, action, t) for t in targets):
        return
    # Denied: 403 if the person is visible at all, else 404 — with the audit row authorize writes.
    authorize(session, actor, action, next((t for t in targets if sees(actor, t)), targets[0]))


def get_person(session: Session, *, actor: Actor, person_id: int, action: str = "gridpeople.read") -> GridPerson:
    person = session.get(GridPerson, person_id)
    if person is None:
        raise NotFound("grid person not found", "网格人员不存在或不在您的管辖范围内", code="not_found")
    _authorize_person(session, actor, action, person)
    return person


def linked_person(session: Session, *, user_id: int | None) -> GridPerson | None:
    """The grid person a user account is, if linked."""
    if user_id is None:
        return None
    return session.scalar(select(GridPerson).where(GridPerson.user_id == user_id))


def list_people(
    session: Session, *, actor: Actor, region: str | None = None, role: str | None = None, q: str | None = None,
    include_former: bool = False, page: int = 1, size: int = 50,
) -> tuple[list[GridPerson], int]:
    """People who live or serve in the area (the actor's reach, or `region` inside it).

    With `role`, only those holding it there; `include_former` counts ended assignments too.
    """
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and size 1–{MAX_PAGE_SIZE}",
                           f"页码应 ≥ 1，每页条数应为 1–{MAX_PAGE_SIZE}", code="invalid_paging")
    require_somewhere(session, actor, "gridpeople.read")
    if role is not None:
        gridpeople_policy().role(role)
    prefixes = [_region_in_reach(session, actor, "gridpeople.read", region).code] if region \
        else scope_prefixes(actor, "gridpeople.read")

    def area(column: Any) -> ColumnElement[bool]:
        return or_(*(column.startswith(p) for p in prefixes)) if prefixes else false()

    served = (select(GridAssignment.person_id).join(Region, Region.id == GridAssignment.region_id)
              .where(area(Region.code)))
    if not include_former:
        served = served.where(CURRENT)
    if role is not None:
        served = served.where(GridAssignment.role == role)
    home = select(Region.id).where(area(Region.code))
    stmt = select(GridPerson).where(
        GridPerson.id.in_(served) if role is not None
        else or_(GridPerson.home_region_id.in_(home), GridPerson.id.in_(served))
    )
    if q:
        stmt = stmt.where(GridPerson.name.contains(q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(GridPerson.id).offset((page - 1) * size).limit(size)).all()
    return list(rows), total


def roster(session: Session, *, actor: Actor, region: str, include_above: bool = True) -> dict[str, Any]:
    """The grid people of a region, by role: who currently serves in it (and, with `include_above`,
    who serves it from above — a town's mediators on a village page). Phones masked."""
    place = _region_in_reach(session, actor, "gridpeople.read", region)
    above = [place.code[: lv.code_length] for lv in BY_NAME.values() if lv.code_length < len(place.code)]
    where = Region.code.startswith(place.code)
    if include_above and above:
        where = or_(where, Region.code.in_(above))
    rows = session.execute(
        select(GridAssignment, Region, GridPerson)
        .join(Region, Region.id == GridAssignment.region_id)
        .join(GridPerson, GridPerson.id == GridAssignment.person_id)
        .where(CURRENT, where)
        .order_by(Region.code, GridAssignment.start_date, GridAssignment.id)
    ).all()
    policy = gridpeople_policy()
    groups: dict[str, list[dict[str, Any]]] = {name: [] for name in policy.roles}
    for a, r, p in rows:
        groups.setdefault(a.role, []).append({
            "assignment": assignment_dict(a, r),
            "person": {"id": p.id, "name": p.name,
                       "phone": mask_phone(decrypt_text(p.phone_encrypted)) if p.phone_encrypted else None},
            "from_above": len(r.code) < len(place.code),
        })
    return {
        "region": ref_dict(place.code, place.name, place.level),
        "roles": [{"role": name, "label": policy.label(name), "people": items} for name, items in groups.items()],
    }


# -- changing ----------------------------------------------------------------------------------


def _audit(session: Session, actor: Actor, action: str, person: GridPerson, region_code: str, **changes: Any) -> None:
    audit.record(session, action=action, actor_id=actor.user_id, actor_name=actor.name,
                 target_type="grid_person", target_id=str(person.id), region_code=region_code, **changes)


def create_person(
    session: Session, *, actor: Actor, name: str, home_region: str, phone: str | None = None,
    user_id: int | None = None, org_code: str | None = None,
) -> GridPerson:
    name = _check_name(name)
    _check_phone(phone)
    home = _region_in_reach(session, actor, "gridpeople.manage", home_region)
    person = GridPerson(
        name=name, phone_encrypted=encrypt_text(phone) if phone else None, home_region_id=home.id,
        user_id=_user_id(session, actor, user_id, None), org_id=_org_id(session, org_code),
    )
    session.add(person)
    session.flush()
    _audit(session, actor, "gridpeople.create", person, home.code,
           after={"name": name, "home_region": home.code, "phone": mask_phone(phone), "user_id": user_id,
                  "org": org_code})
    return person


def update_person(
    session: Session, *, actor: Actor, person_id: int, changes: dict[str, Any], version: int | None = None,
) -> GridPerson:
    """Change the given fields (a None value clears phone, user link or organization)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise InvalidInput(f"Cannot change {sorted(unknown)}", f"不能修改：{'、'.join(sorted(unknown))}",
                           code="not_editable")
    person = get_person(session, actor=actor, person_id=person_id, action="gridpeople.manage")
    if version is not None and version != person.version:
        raise Conflict("This person was changed by someone else; reload and try again",
                       "该人员信息已被他人修改，请刷新后重试", code="stale_version")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if "name" in changes:
        before["name"], person.name = person.name, _check_name(changes["name"])
        after["name"] = person.name
    if "phone" in changes:
        old = decrypt_text(person.phone_encrypted) if person.phone_encrypted else None
        new = _check_phone(changes["phone"])
        person.phone_encrypted = encrypt_text(new) if new else None
        before["phone"], after["phone"] = mask_phone(old), mask_phone(new)
    if "user_id" in changes:
        before["user_id"] = person.user_id
        person.user_id = after["user_id"] = _user_id(session, actor, changes["user_id"], person.id)
    if "org_code" in changes:
        before["org_id"] = person.org_id
        person.org_id = after["org_id"] = _org_id(session, changes["org_code"])
    person.version += 1
    session.flush()
    _audit(session, actor, "gridpeople.update", person, _person_codes(session, person)[0], before=before, after=after)
    return person


def assign(
    session: Session, *, actor: Actor, person_id: int, role: str, region: str, start_date: date | None = None,
) -> tuple[GridAssignment, bool]:
    """Give a person a role at a region from a date; returns (assignment, created).

    Holding the same role at the same region already is not an error (a retried request);
    a role that allows one holder per region answers 409 naming the current holder.
    """
    rule = gridpeople_policy().role(role)
    person = get_person(session, actor=actor, person_id=person_id)
    place = _region_in_reach(session, actor, "gridpeople.manage", region)
    if place.level not in rule.levels:
        levels = "、".join(BY_NAME[lv].label_zh for lv in rule.levels)
        raise InvalidInput(
            f"A {role} serves at {', '.join(rule.levels)} level, not at a {place.level}",
            f"{rule.label}只能设在{levels}一级，不能设在{BY_NAME[place.level].label_zh}",
            code="wrong_level",
        )
    start = _check_day(start_date or today(), after=EARLIEST, what="start date", what_zh="任职日期")
    # Two managers naming a 网格长 at once: the region row serializes them (PostgreSQL; SQLite
    # has one writer anyway), so the check below sees the other's assignment.
    session.execute(for_update(select(Region.id).where(Region.id == place.id), session))
    holders = session.scalars(
        select(GridAssignment).where(GridAssignment.region_id == place.id, GridAssignment.role == role, CURRENT)
    ).all()
    mine = next((a for a in holders if a.person_id == person.id), None)
    if mine is not None:
        return mine, False
    if rule.single and holders:
        holder = session.get(GridPerson, holders[0].person_id)
        assert holder is not None
        raise Conflict(
            f"{place.code} already has a {role} ({holder.name}); end that assignment first",
            f"{place.name}已有{rule.label}（{holder.name}），请先结束其任职",
            code="role_taken", details={"assignment_id": holders[0].id, "person_id": holder.id},
        )
    assignment = GridAssignment(person_id=person.id, role=role, region_id=place.id, start_date=start)
    session.add(assignment)
    session.flush()
    _audit(session, actor, "gridpeople.assign", person, place.code,
           after={"assignment_id": assignment.id, "role": role, "region": place.code, "start_date": start.isoformat()})
    return assignment, True


def end_assignment(
    session: Session, *, actor: Actor, person_id: int, assignment_id: int, end_date: date | None = None,
    reason: str | None = None,
) -> GridAssignment:
    """End a role on a date (default today). The row stays: it is the history."""
    person = get_person(session, actor=actor, person_id=person_id)
    assignment = session.get(GridAssignment, assignment_id)
    if assignment is None or assignment.person_id != person.id:
        raise NotFound("assignment not found", "任职记录不存在", code="not_found")
    place = session.get(Region, assignment.region_id)
    assert place is not None
    authorize(session, actor, "gridpeople.manage", Target("grid_assignment", str(assignment.id), (place.code,),
                                                          label="任职"))
    if assignment.end_date is not None:
        raise Conflict(f"This assignment ended on {assignment.end_date.isoformat()}",
                       f"该任职已于 {assignment.end_date.isoformat()} 结束", code="already_ended")
    if reason is not None and len(reason) > 200:
        raise InvalidInput("reason is too long (max 200)", "原因过长（最多 200 字）", code="too_long")
    end = _check_day(end_date or today(), after=assignment.start_date, what="end date", what_zh="离任日期")
    assignment.end_date, assignment.end_reason, assignment.ended_at = end, reason, utcnow()
    session.flush()
    _audit(session, actor, "gridpeople.unassign", person, place.code,
           before={"assignment_id": assignment.id, "role": assignment.role, "region": place.code},
           after={"end_date": end.isoformat(), "reason": reason})
    return assignment


def hand_over(
    session: Session, *, actor: Actor, assignment_id: int, successor_id: int, on: date | None = None,
    reason: str | None = None,
) -> GridAssignment:
    """A new holder takes over a role at its region on a date (default today): the old assignment
    ends that day and the successor's starts, in one transaction: the grid is never without its
    网格长 in between, and a refused handover (the successor out of reach, say) changes nothing."""
    old = session.get(GridAssignment, assignment_id)
    if old is None:
        raise NotFound("assignment not found", "任职记录不存在", code="not_found")
    place = session.get(Region, old.region_id)
    assert place is not None
    successor = get_person(session, actor=actor, person_id=successor_id)
    if successor.id == old.person_id:
        raise InvalidInput("The successor is the current holder", "接任者不能是现任者本人", code="same_person")
    day = on or today()
    end_assignment(session, actor=actor, person_id=old.person_id, assignment_id=old.id, end_date=day,
                   reason=reason or f"交接给{successor.name}")
    new, _ = assign(session, actor=actor, person_id=successor.id, role=old.role, region=place.code, start_date=day)
    return new


def reveal_phone(session: Session, *, actor: Actor, person_id: int, reason: str) -> str | None:
    """The full phone, for someone with `person.reveal` who says why; the reveal is audited."""
    if not isinstance(reason, str) or not 2 <= len(reason.strip()) <= 200:
        raise InvalidInput("Say why you need the full number (2–200 characters)",
                           "请填写查看完整电话的原因（2–200 字）", code="reason_required")
    person = get_person(session, actor=actor, person_id=person_id, action="person.reveal")
    _audit(session, actor, "person.reveal", person, _person_codes(session, person)[0],
           detail={"field": "phone", "reason": reason.strip()})
    return decrypt_text(person.phone_encrypted) if person.phone_encrypted else None
