"""1+X alliances and pairings: one mechanism, its rules (who leads, how many members and
villages) read from policy/orgs.toml `[arrangements]`.

Membership is kept as spells: joining adds a row, leaving sets its `left_on`, rejoining adds
another row, so "who was in the alliance on a given day" can always be answered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    can,
    require_somewhere,
    scope_prefixes,
)
from shanzhi.audit import service as audit
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.geo.models import Region
from shanzhi.orgs.alliance_models import Alliance, AllianceMember, AllianceVillage
from shanzhi.orgs.common import (
    authorize_seen,
    check_code,
    check_paging,
    check_period,
    check_text,
    iso,
    prefix_clause,
    region_by_code,
    today,
    unit_orgs,
)
from shanzhi.orgs.models import Organization
from shanzhi.orgs.policy import Arrangement, check_word, orgs_policy
from shanzhi.orgs.service import UNSET
from shanzhi.orgs.service import find as find_org

ACTIVE = "active"


@dataclass(frozen=True)
class MemberIn:
    org: str  # organization code
    joined_on: date | None = None
    role: str | None = None


# -- reading --------------------------------------------------------------------------------


def _find(session: Session, code: str) -> Alliance:
    row = session.scalar(select(Alliance).where(Alliance.code == str(code).strip()))
    if row is None:
        raise NotFound(f"Alliance {code} not found", f"联建 {code} 不存在或不在您的管辖范围内", code="not_found")
    return row


def _places(session: Session, alliance: Alliance) -> tuple[str, list[str]]:
    """Its own region code and the codes of the villages it covers."""
    region = session.scalar(select(Region.code).where(Region.id == alliance.region_id))
    villages = session.scalars(select(Region.code).join(AllianceVillage, AllianceVillage.region_id == Region.id)
                               .where(AllianceVillage.alliance_id == alliance.id).order_by(Region.code)).all()
    assert region is not None
    return region, list(villages)


def _party_ids(session: Session, alliance: Alliance) -> set[int]:
    members = session.scalars(select(AllianceMember.org_id).where(AllianceMember.alliance_id == alliance.id,
                                                                  AllianceMember.left_on.is_(None)))
    return {*members, *([alliance.lead_org_id] if alliance.lead_org_id else [])}


def get_alliance(session: Session, *, actor: Actor, code: str, action: str = "org.read") -> Alliance:
    """An alliance is read where it sits or where it covers a village, or by its own units;
    it is changed only by someone whose scope holds its place and every village it covers."""
    alliance = _find(session, code)
    region, villages = _places(session, alliance)
    prefixes = scope_prefixes(actor, "org.read")
    seen = next((c for c in (region, *villages) if any(c.startswith(p) for p in prefixes)), region)
    mine = set(unit_orgs(actor, "org.read")) & _party_ids(session, alliance)
    read = Target("alliance", alliance.code, (seen,), org_id=min(mine) if mine else None, label="联建")
    if action == "org.read":
        authorize(session, actor, action, read)
    else:
        authorize_seen(session, actor, action, Target("alliance", alliance.code, (region, *villages), label="联建"),
                       seen=can(actor, "org.read", read))
    return alliance


def read_clause(actor: Actor) -> Any:
    """Alliances the actor reads: sitting in or covering its subtrees, or with its unit in them."""
    prefixes = scope_prefixes(actor, "org.read")
    covered = (select(AllianceVillage.alliance_id).join(Region, Region.id == AllianceVillage.region_id)
               .where(prefix_clause(Region.code, prefixes)))
    sits = select(Region.id).where(prefix_clause(Region.code, prefixes))
    clauses = [Alliance.region_id.in_(sits), Alliance.id.in_(covered)]
    units = unit_orgs(actor, "org.read")
    if units:
        clauses += [Alliance.lead_org_id.in_(units),
                    Alliance.id.in_(select(AllianceMember.alliance_id).where(AllianceMember.org_id.in_(units),
                                                                             AllianceMember.left_on.is_(None)))]
    return or_(*clauses)


def list_alliances(
    session: Session, *, actor: Actor, kind: str | None = None, status: str | None = None,
    region: str | None = None, village: str | None = None, org: str | None = None, q: str | None = None,
    page: int = 1, size: int = 50,
) -> tuple[list[Alliance], int]:
    require_somewhere(session, actor, "org.read")
    check_paging(page, size)
    policy = orgs_policy()
    stmt = select(Alliance).where(read_clause(actor))
    if kind:
        policy.arrangement(kind)
        stmt = stmt.where(Alliance.kind == kind)
    if status:
        stmt = stmt.where(Alliance.status == check_word(policy.alliance_statuses, status, "status", "状态"))
    if region:
        stmt = stmt.where(or_(
            Alliance.region_id.in_(select(Region.id).where(Region.code.startswith(region, autoescape=True))),
            Alliance.id.in_(select(AllianceVillage.alliance_id).join(Region, Region.id == AllianceVillage.region_id)
                            .where(Region.code.startswith(region, autoescape=True)))))
    if village:
        stmt = stmt.where(Alliance.id.in_(select(AllianceVillage.alliance_id)
                                          .join(Region, Region.id == AllianceVillage.region_id)
                                          .where(Region.code == village)))
    if org:
        org_id = find_org(session, org)[0].id
        stmt = stmt.where(or_(Alliance.lead_org_id == org_id, Alliance.id.in_(
            select(AllianceMember.alliance_id).where(AllianceMember.org_id == org_id))))
    if q:
        stmt = stmt.where(or_(Alliance.name.contains(q, autoescape=True), Alliance.code == q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Alliance.code).offset((page - 1) * size).limit(size)).all()
    return list(rows), total


def alliance_dicts(session: Session, alliances: list[Alliance], *, detail: bool = False) -> list[dict[str, Any]]:
    """Alliances as shown; members (and their whole history, for `detail`) in a few queries."""
    policy = orgs_policy()
    ids = [a.id for a in alliances]
    regions = {r.id: r for r in session.scalars(select(Region).where(Region.id.in_({a.region_id for a in alliances})))}
    villages: dict[int, list[dict[str, str]]] = defaultdict(list)
    spells: dict[int, list[AllianceMember]] = defaultdict(list)
    if ids:
        for aid, code, name in session.execute(
                select(AllianceVillage.alliance_id, Region.code, Region.name)
                .join(Region, Region.id == AllianceVillage.region_id)
                .where(AllianceVillage.alliance_id.in_(ids)).order_by(Region.code)):
            villages[aid].append({"code": code, "name": name})
        for m in session.scalars(select(AllianceMember).where(AllianceMember.alliance_id.in_(ids))
                                 .order_by(AllianceMember.joined_on, AllianceMember.id)):
            spells[m.alliance_id].append(m)
    wanted = {a.lead_org_id for a in alliances if a.lead_org_id} | {m.org_id for ms in spells.values() for m in ms}
    orgs = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(wanted)))} if wanted else {}

    def org_ref(org_id: int | None) -> dict[str, str] | None:
        o = orgs.get(org_id) if org_id else None
        return {"code": o.code, "name": o.name, "kind": o.kind} if o else None

    def spell(m: AllianceMember) -> dict[str, Any]:
        return {"org": org_ref(m.org_id), "joined_on": iso(m.joined_on), "left_on": iso(m.left_on), "role": m.role}

    out = []
    for a in alliances:
        region = regions[a.region_id]
        current = [m for m in spells[a.id] if m.left_on is None]
        item: dict[str, Any] = {
            "code": a.code, "kind": a.kind, "kind_label": policy.arrangements[a.kind].label if a.kind in
            policy.arrangements else a.kind, "name": a.name, "lead": org_ref(a.lead_org_id),
            "region": {"code": region.code, "name": region.name}, "villages": villages[a.id],
            "status": a.status, "status_label": policy.alliance_statuses.get(a.status, a.status),
            "started_on": iso(a.started_on), "ended_on": iso(a.ended_on), "members_count": len(current),
            "version": a.version,
        }
        if detail:
            item |= {"charter": a.charter, "members": [spell(m) for m in current],
                     "history": [spell(m) for m in spells[a.id]]}
        out.append(item)
    return out


# -- rules ----------------------------------------------------------------------------------


def _lead(session: Session, arr: Arrangement, code: str | None) -> tuple[Organization, Region] | None:
    if not arr.lead_kinds:
        if code:
            raise InvalidInput(f"A {arr.label} has no lead organization", f"{arr.label}不设牵头组织", code="no_lead")
        return None
    if not code:
        raise InvalidInput("A lead party organization is required", f"{arr.label}须有牵头党组织", code="lead_required")
    org, region = find_org(session, code)
    if org.kind not in arr.lead_kinds or (arr.lead_levels and org.level not in arr.lead_levels):
        words = {"district": "区", "town": "镇(街道)", "village": "村(社区)"}
        levels = "、".join(words.get(x, x) for x in arr.lead_levels)
        raise InvalidInput(f"{org.name} cannot lead: a {'/'.join(arr.lead_kinds)} at level "
                           f"{'/'.join(arr.lead_levels)} must", f"{org.name}不能牵头：须为{levels}级党组织",
                           code="invalid_lead")
    return org, region


def _villages(session: Session, arr: Arrangement, codes: list[str]) -> list[Region]:
    rows = [region_by_code(session, c, levels=("village",), what_zh="村(社区)") for c in dict.fromkeys(codes)]
    if arr.max_villages and len(rows) > arr.max_villages:
        raise InvalidInput(f"A {arr.label} covers at most {arr.max_villages} village(s)",
                           f"{arr.label}最多覆盖 {arr.max_villages} 个村(社区)", code="too_many_villages")
    return rows


def _next_code(session: Session, prefix: str, region_code: str) -> str:
    stem = f"{prefix}-{region_code}-"
    taken = set(session.scalars(select(Alliance.code).where(Alliance.code.startswith(stem, autoescape=True))))
    n = len(taken) + 1
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"


def _join(session: Session, alliance: Alliance, arr: Arrangement, org: Organization, joined_on: date,
          role: str | None) -> AllianceMember:
    if org.id == alliance.lead_org_id:
        raise Conflict(f"{org.name} leads this alliance", f"{org.name}是牵头组织，不必再加入", code="is_lead")
    spells = session.scalars(select(AllianceMember).where(AllianceMember.alliance_id == alliance.id,
                                                          AllianceMember.org_id == org.id)).all()
    if any(s.left_on is None for s in spells):
        raise Conflict(f"{org.name} is already a member", f"{org.name}已是成员单位", code="already_member")
    last_left = max((s.left_on for s in spells if s.left_on), default=None)
    if last_left is not None and joined_on < last_left:
        raise InvalidInput("Rejoining cannot precede the last leaving", f"{org.name}重新加入的日期早于上次退出日期",
                           code="invalid_period")
    if alliance.started_on is not None and joined_on < alliance.started_on:
        raise InvalidInput("A member cannot join before the alliance started", "加入日期早于联建成立日期",
                           code="invalid_period")
    if arr.max_members:
        current = session.scalar(select(func.count()).where(AllianceMember.alliance_id == alliance.id,
                                                            AllianceMember.left_on.is_(None))) or 0
        if current >= arr.max_members:
            raise Conflict(f"A {arr.label} has at most {arr.max_members} member(s)",
                           f"{arr.label}最多 {arr.max_members} 个成员", code="too_many_members")
    spell = AllianceMember(alliance_id=alliance.id, org_id=org.id, joined_on=joined_on,
                           role=check_text(role, "role", "共建内容", limit=64, required=False))
    session.add(spell)
    session.flush()
    return spell


def _record(session: Session, actor: Actor, action: str, alliance: Alliance, **changes: Any) -> None:
    region, _ = _places(session, alliance)
    audit.record(session, action=action, actor_id=actor.user_id, actor_name=actor.name, target_type="alliance",
                 target_id=alliance.code, region_code=region, **changes)


# -- changing -------------------------------------------------------------------------------


def create_alliance(
    session: Session, *, actor: Actor, kind: str, name: str, lead: str | None = None, region: str | None = None,
    villages: list[str] = (), charter: str | None = None, started_on: date | None = None,  # type: ignore[assignment]
    status: str = ACTIVE, code: str | None = None, members: list[MemberIn] = (),  # type: ignore[assignment]
) -> Alliance:
    """An alliance (lead + members + villages) or a pairing (one member, one village)."""
    policy = orgs_policy()
    arr = policy.arrangement(kind)
    name = check_text(name, "name", "名称", limit=120)  # type: ignore[assignment]
    check_word(policy.alliance_statuses, status, "status", "状态")
    led = _lead(session, arr, lead)
    covered = _villages(session, arr, list(villages))
    if region:
        where = region_by_code(session, region)
    elif led is not None:
        where = led[1]
    elif len(covered) == 1:
        where = covered[0]
    else:
        raise InvalidInput("Say where it sits: a region code", "请注明所属区域编码", code="region_required")
    code = check_code(code) if code else _next_code(session, arr.code_prefix, where.code)
    authorize(session, actor, "alliance.manage",
              Target("alliance", code, (where.code, *(v.code for v in covered)), label="联建"))
    if session.scalar(select(Alliance.id).where(Alliance.code == code)) is not None:
        raise Conflict(f"Alliance code {code} is taken", f"联建编码 {code} 已被使用", code="code_taken")
    start = started_on or today()
    alliance = Alliance(code=code, kind=kind, name=name, lead_org_id=led[0].id if led else None, region_id=where.id,
                        charter=check_text(charter, "charter", "章程", limit=10_000, required=False),
                        started_on=start, status=status, ended_on=today() if status == "ended" else None)
    session.add(alliance)
    session.flush()
    session.add_all(AllianceVillage(alliance_id=alliance.id, region_id=v.id) for v in covered)
    joined = [(_join(session, alliance, arr, find_org(session, m.org)[0], m.joined_on or start, m.role), m.org)
              for m in members]
    _record(session, actor, "alliance.create", alliance,
            after={"kind": kind, "name": name, "lead": lead, "villages": [v.code for v in covered],
                   "status": status, "started_on": start.isoformat(), "members": [c for _, c in joined]})
    return alliance


def update_alliance(
    session: Session, *, actor: Actor, code: str, name: Any = UNSET, charter: Any = UNSET, status: Any = UNSET,
    started_on: Any = UNSET, ended_on: Any = UNSET, villages: Any = UNSET, expected_version: int | None = None,
) -> Alliance:
    policy = orgs_policy()
    alliance = get_alliance(session, actor=actor, code=code, action="alliance.manage")
    arr = policy.arrangement(alliance.kind)
    if expected_version is not None and expected_version != alliance.version:
        raise Conflict("This alliance was changed by someone else; reload and try again",
                       "该联建已被他人修改，请刷新后重试", code="stale_version")
    region, old_villages = _places(session, alliance)
    before = {"name": alliance.name, "status": alliance.status, "started_on": iso(alliance.started_on),
              "ended_on": iso(alliance.ended_on), "villages": old_villages}
    if name is not UNSET:
        alliance.name = check_text(name, "name", "名称", limit=120)  # type: ignore[assignment]
    if charter is not UNSET:
        alliance.charter = check_text(charter, "charter", "章程", limit=10_000, required=False)
    if started_on is not UNSET and started_on is not None:
        alliance.started_on = started_on
    if ended_on is not UNSET:
        alliance.ended_on = ended_on
    if status is not UNSET:
        alliance.status = check_word(policy.alliance_statuses, status, "status", "状态")
        if status == "ended" and alliance.ended_on is None:
            alliance.ended_on = today()
    check_period(alliance.started_on, alliance.ended_on, "联建")
    if alliance.status == "ended":
        # An ended alliance has no members left: their spells end with it.
        session.execute(update(AllianceMember).where(AllianceMember.alliance_id == alliance.id,
                                                     AllianceMember.left_on.is_(None))
                        .values(left_on=alliance.ended_on))
    if villages is not UNSET:
        covered = _villages(session, arr, list(villages or []))
        authorize(session, actor, "alliance.manage",
                  Target("alliance", alliance.code, (region, *(v.code for v in covered)), label="联建"))
        session.execute(delete(AllianceVillage).where(AllianceVillage.alliance_id == alliance.id))
        session.add_all(AllianceVillage(alliance_id=alliance.id, region_id=v.id) for v in covered)
    alliance.version += 1
    session.flush()
    after = {"name": alliance.name, "status": alliance.status, "started_on": iso(alliance.started_on),
             "ended_on": iso(alliance.ended_on), "villages": _places(session, alliance)[1]}
    _record(session, actor, "alliance.update", alliance, before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v})
    return alliance


def add_member(session: Session, *, actor: Actor, code: str, member: MemberIn) -> AllianceMember:
    alliance = get_alliance(session, actor=actor, code=code, action="alliance.manage")
    if alliance.status == "ended":
        raise Conflict("This alliance has ended", "该联建已结束，不能再加入成员", code="alliance_ended")
    org = find_org(session, member.org)[0]
    spell = _join(session, alliance, orgs_policy().arrangement(alliance.kind), org, member.joined_on or today(),
                  member.role)
    _record(session, actor, "alliance.join", alliance,
            after={"org": org.code, "joined_on": spell.joined_on.isoformat(), "role": spell.role})
    return spell


def remove_member(session: Session, *, actor: Actor, code: str, org: str,
                  left_on: date | None = None) -> AllianceMember:
    """The member leaves: its open spell ends on `left_on` (today by default); the row stays."""
    alliance = get_alliance(session, actor=actor, code=code, action="alliance.manage")
    org_row = find_org(session, org)[0]
    spell = session.scalar(select(AllianceMember).where(AllianceMember.alliance_id == alliance.id,
                                                        AllianceMember.org_id == org_row.id,
                                                        AllianceMember.left_on.is_(None)))
    if spell is None:
        raise NotFound(f"{org_row.name} is not a current member", f"{org_row.name}不是现任成员单位",
                       code="not_member")
    left = left_on or today()
    if left < spell.joined_on:
        raise InvalidInput("Leaving cannot precede joining", "退出日期早于加入日期", code="invalid_period")
    spell.left_on = left
    session.flush()
    _record(session, actor, "alliance.leave", alliance, after={"org": org_row.code, "left_on": left.isoformat()})
    return spell


def members_on(session: Session, *, alliance: Alliance, day: date) -> list[str]:
    """The codes of the members on a given day (history: spells that had begun and not yet ended)."""
    return list(session.scalars(
        select(Organization.code).join(AllianceMember, AllianceMember.org_id == Organization.id)
        .where(AllianceMember.alliance_id == alliance.id, AllianceMember.joined_on <= day,
               or_(AllianceMember.left_on.is_(None), AllianceMember.left_on > day))
        .order_by(Organization.code)))


# -- coverage -------------------------------------------------------------------------------


def covering_org_ids(session: Session, *, village_id: int) -> set[int]:
    """Leads and current members of the active alliances and pairings covering a village."""
    active = (select(Alliance.id).join(AllianceVillage, AllianceVillage.alliance_id == Alliance.id)
              .where(AllianceVillage.region_id == village_id, Alliance.status == ACTIVE))
    members = session.scalars(select(AllianceMember.org_id).where(AllianceMember.alliance_id.in_(active),
                                                                  AllianceMember.left_on.is_(None)))
    leads = session.scalars(select(Alliance.lead_org_id).where(Alliance.id.in_(active),
                                                               Alliance.lead_org_id.is_not(None)))
    return {*members, *leads}


def alliance_coverage(session: Session, *, actor: Actor, region: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """For every village in the actor's reach (inside `region`): the active alliances and pairings
    covering it, alliances first. Villages no arrangement covers map to an empty list."""
    require_somewhere(session, actor, "org.read")
    prefixes = scope_prefixes(actor, "org.read")
    villages = select(Region.id, Region.code).where(Region.level == "village", prefix_clause(Region.code, prefixes))
    if region:
        villages = villages.where(Region.code.startswith(region, autoescape=True))
    out: dict[str, list[dict[str, Any]]] = {code: [] for _, code in session.execute(villages.order_by(Region.code))}
    lead = select(Organization.name).where(Organization.id == Alliance.lead_org_id).scalar_subquery()
    members = (select(func.count()).where(AllianceMember.alliance_id == Alliance.id, AllianceMember.left_on.is_(None))
               .scalar_subquery())
    labels = {k: a.label for k, a in orgs_policy().arrangements.items()}
    rows = session.execute(
        select(Region.code, Alliance.code, Alliance.name, Alliance.kind, lead, members)
        .join(AllianceVillage, AllianceVillage.alliance_id == Alliance.id)
        .join(Region, Region.id == AllianceVillage.region_id)
        .where(Alliance.status == ACTIVE, Region.code.in_(select(villages.subquery().c.code)))
        .order_by(Region.code, Alliance.kind, Alliance.code))
    for village, code, name, kind, lead_name, count in rows:
        out[village].append({"code": code, "name": name, "kind": kind, "kind_label": labels.get(kind, kind),
                             "lead": lead_name, "members_count": count})
    return out


def village_arrangements(session: Session, *, village_id: int) -> list[Alliance]:
    return list(session.scalars(
        select(Alliance).join(AllianceVillage, AllianceVillage.alliance_id == Alliance.id)
        .where(AllianceVillage.region_id == village_id, Alliance.status == ACTIVE)
        .order_by(Alliance.kind, Alliance.code)))


__all__ = [
    "MemberIn", "add_member", "alliance_coverage", "alliance_dicts", "covering_org_ids", "create_alliance",
    "get_alliance", "list_alliances", "members_on", "remove_member", "update_alliance", "village_arrangements",
]
