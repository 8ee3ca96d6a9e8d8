"""The need list: what a village, a grid or a group of residents needs. A need can be raised
from an event in one step (a 1004 就业需求 report becomes an employment need), and is flagged
when it finds no match within the days policy/matching.toml allows.

Needs belong to places: they are read within the actor's subtree (and by the units running a
project for them), like events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    require_somewhere,
    scope_prefixes,
)
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.events import service as events
from shanzhi.events.catalog import category_name
from shanzhi.events.models import Event
from shanzhi.geo.models import Region
from shanzhi.orgs.common import (
    check_bbox,
    check_paging,
    check_text,
    iso,
    place,
    prefix_clause,
    readable,
    row_id,
    unit_orgs,
)
from shanzhi.orgs.list_models import Need, Project
from shanzhi.orgs.policy import check_word, matching_policy, orgs_policy
from shanzhi.orgs.service import UNSET

# Where each kind of requester sits in the region tree.
REQUESTER_LEVELS = {"village": ("village",), "grid": ("grid", "microgrid"), "group": ("village", "grid", "microgrid")}
MAX_QUANTITY = 1_000_000


def target(need: Need, region_code: str, owners: tuple[int, ...] = ()) -> Target:
    return Target("need", readable("need", need.id), (region_code,), org_id=owners[0] if owners else None,
                  label="需求")


def find(session: Session, code: str) -> tuple[Need, Region]:
    nid = row_id("need", code)
    row = session.execute(select(Need, Region).join(Region, Region.id == Need.region_id)
                          .where(Need.id == nid)).first() if nid is not None else None
    if row is None:
        raise NotFound(f"Need {code} not found", f"需求 {code} 不存在或不在您的管辖范围内", code="not_found")
    return row[0], row[1]


def get_need(session: Session, *, actor: Actor, code: str, action: str = "org.read") -> tuple[Need, Region]:
    need, region = find(session, code)
    owners = tuple(set(unit_orgs(actor, action)) & set(session.scalars(
        select(Project.owner_org_id).where(Project.need_id == need.id))))
    authorize(session, actor, action, target(need, region.code, owners))
    return need, region


def reach_clause(actor: Actor, action: str) -> Any:
    """Needs the actor reaches: inside its subtrees, or run as a project by its unit (needs Region joined)."""
    clauses = [prefix_clause(Region.code, scope_prefixes(actor, action))]
    units = unit_orgs(actor, action)
    if units:
        clauses.append(Need.id.in_(select(Project.need_id).where(Project.owner_org_id.in_(units))))
    clause = or_(*clauses)
    if actor.token_scope is not None:
        clause = and_(Region.code.startswith(actor.token_scope), clause)
    return clause


def flag_before(now: datetime | None = None) -> datetime:
    """Needs raised before this moment and still open are flagged as unmatched."""
    return (now or utcnow()) - timedelta(days=matching_policy().unmatched_flag_days)


def need_dicts(
    session: Session, rows: list[tuple[Need, Region]], *, now: datetime | None = None,
) -> list[dict[str, Any]]:
    policy = orgs_policy()
    now = now or utcnow()
    limit = flag_before(now)
    events_ = dict(session.execute(select(Event.id, Event.code).where(
        Event.id.in_({n.event_id for n, _ in rows if n.event_id}))).tuples().all()) if rows else {}
    out = []
    for n, region in rows:
        raised = as_utc(n.raised_at)
        assert raised is not None
        out.append({
            "code": readable("need", n.id), "kind": n.kind, "kind_label": policy.resource_kinds.get(n.kind, n.kind),
            "title": n.title, "description": n.description, "requester": n.requester,
            "requester_label": policy.requesters.get(n.requester, n.requester), "group_name": n.group_name,
            "region": {"code": region.code, "name": region.name, "level": region.level},
            "position": [n.lon if n.lon is not None else region.centroid_lon,
                         n.lat if n.lat is not None else region.centroid_lat],
            "quantity": n.quantity, "urgency": n.urgency, "urgency_label": policy.urgencies.get(n.urgency, n.urgency),
            "status": n.status, "status_label": policy.need_statuses.get(n.status, n.status),
            "event": events_.get(n.event_id) if n.event_id else None,
            "raised_at": iso(raised), "matched_at": iso(as_utc(n.matched_at)), "met_at": iso(as_utc(n.met_at)),
            "days_open": (now - raised).days,
            "flagged": n.status == "open" and raised < limit,
        })
    return out


def _quantity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be a whole number 1–{MAX_QUANTITY}", f"数量应为 1–{MAX_QUANTITY} 的整数",
                           code="invalid_quantity")
    return value


def raise_need(
    session: Session, *, actor: Actor, kind: str, title: str, region: str | None = None, lon: float | None = None,
    lat: float | None = None, crs: str = "wgs84", requester: str = "village", group_name: str | None = None,
    description: str | None = None, quantity: int | None = None, urgency: str = "normal",
    event: Event | None = None,
) -> Need:
    """A village (its cadres), a grid or a group of residents asks for help."""
    policy = orgs_policy()
    check_word(policy.resource_kinds, kind, "need kind", "需求类型")
    check_word(policy.requesters, requester, "requester", "需求主体")
    check_word(policy.urgencies, urgency, "urgency", "紧急程度")
    title = check_text(title, "title", "需求名称", limit=120)  # type: ignore[assignment]
    where, lon, lat = place(session, region=region, lon=lon, lat=lat, crs=crs, levels=REQUESTER_LEVELS[requester])
    authorize(session, actor, "need.manage", Target("need", None, (where.code,), label="需求"))
    need = Need(kind=kind, title=title, requester=requester, region_id=where.id, lon=lon, lat=lat,
                group_name=check_text(group_name, "group name", "群体名称", limit=64, required=False),
                description=check_text(description, "description", "需求描述", limit=2000, required=False),
                quantity=_quantity(quantity), urgency=urgency, status="open", event_id=event.id if event else None,
                created_by=actor.user_id, raised_at=utcnow())
    session.add(need)
    session.flush()
    audit.record(session, action="need.create", actor_id=actor.user_id, actor_name=actor.name, target_type="need",
                 target_id=readable("need", need.id), region_code=where.code,
                 after={"kind": kind, "title": title, "requester": requester, "quantity": quantity,
                        "urgency": urgency, "event": event.code if event else None})
    return need


def need_from_event(
    session: Session, *, actor: Actor, event_code: str, kind: str | None = None, title: str | None = None,
    quantity: int | None = None, requester: str = "group", group_name: str | None = None,
) -> Need:
    """One step from an event to a need: the event's place, text and urgency carry over, its
    category gives the kind (policy/matching.toml `[event_needs]`) unless one is given."""
    event = events.get_event(session, actor=actor, code=event_code)
    earlier = session.scalar(select(Need.id).where(Need.event_id == event.id))
    if earlier is not None:
        raise Conflict(f"Event {event.code} already became need {readable('need', earlier)}",
                       f"事件 {event.code} 已转为需求 {readable('need', earlier)}", code="already_raised")
    kind = kind or matching_policy().event_needs.get(event.category_code or "")
    if kind is None:
        raise InvalidInput("This event's category has no need kind; say which kind",
                           f"“{category_name(event.category_code or '')}”类事件没有对应的需求类型，请指定类型",
                           code="kind_required")
    if event.village_code is None:
        raise InvalidInput("The event lies in no village", "该事件不在任何村(社区)内，无法转为需求", code="wrong_level")
    name = category_name(event.category_code) if event.category_code else "需求"
    need = raise_need(session, actor=actor, kind=kind, title=title or f"{name}：{event.text[:40]}",
                      region=event.village_code if requester == "village" else event.region_code,
                      requester=requester, group_name=group_name,
                      description=event.text, quantity=quantity,
                      urgency="urgent" if event.urgency == "urgent" else "normal", event=event)
    need.lon, need.lat = event.lon, event.lat
    session.flush()
    # The event's own timeline says where it went (its status does not change).
    code = readable("need", need.id)
    events.record_step(session, event, actor=actor, action="raise_need", before=event.status,
                       note=f"已转为需求 {code}", data={"need": code})
    return need


def update_need(
    session: Session, *, actor: Actor, code: str, kind: Any = UNSET, title: Any = UNSET, description: Any = UNSET,
    quantity: Any = UNSET, urgency: Any = UNSET, group_name: Any = UNSET,
) -> Need:
    policy = orgs_policy()
    need, region = get_need(session, actor=actor, code=code, action="need.manage")
    if need.status != "open" and (kind is not UNSET or quantity is not UNSET):
        raise Conflict("A matched need keeps its kind and quantity", "需求已对接，不能再改类型和数量",
                       code="need_matched")
    fields = ("kind", "title", "description", "quantity", "urgency", "group_name")
    before = {f: getattr(need, f) for f in fields}
    if kind is not UNSET:
        need.kind = check_word(policy.resource_kinds, kind, "need kind", "需求类型")
    if title is not UNSET:
        need.title = check_text(title, "title", "需求名称", limit=120)  # type: ignore[assignment]
    if description is not UNSET:
        need.description = check_text(description, "description", "需求描述", limit=2000, required=False)
    if quantity is not UNSET:
        need.quantity = _quantity(quantity)
    if urgency is not UNSET:
        need.urgency = check_word(policy.urgencies, urgency, "urgency", "紧急程度")
    if group_name is not UNSET:
        need.group_name = check_text(group_name, "group name", "群体名称", limit=64, required=False)
    session.flush()
    after = {f: getattr(need, f) for f in fields}
    audit.record(session, action="need.update", actor_id=actor.user_id, actor_name=actor.name, target_type="need",
                 target_id=readable("need", need.id), region_code=region.code,
                 before={k: v for k, v in before.items() if after[k] != v},
                 after={k: v for k, v in after.items() if before[k] != v})
    return need


def close_need(session: Session, *, actor: Actor, code: str, reason: str) -> Need:
    """Withdraw an open need (solved otherwise, no longer wanted); the reason is kept."""
    need, region = get_need(session, actor=actor, code=code, action="need.manage")
    reason = check_text(reason, "reason", "关闭原因", limit=200)  # type: ignore[assignment]
    if need.status != "open":
        raise Conflict("Only an open need can be closed", "只有待对接的需求可以关闭", code="need_not_open")
    need.status, need.closed_at = "closed", utcnow()
    session.flush()
    audit.record(session, action="need.close", actor_id=actor.user_id, actor_name=actor.name, target_type="need",
                 target_id=readable("need", need.id), region_code=region.code,
                 before={"status": "open"}, after={"status": "closed"}, detail={"reason": reason})
    return need


def list_needs(
    session: Session, *, actor: Actor, status: str | None = None, kind: str | None = None, region: str | None = None,
    flagged: bool | None = None, q: str | None = None, page: int = 1, size: int = 50,
) -> tuple[list[tuple[Need, Region]], int]:
    require_somewhere(session, actor, "org.read")
    check_paging(page, size)
    policy = orgs_policy()
    stmt = select(Need, Region).join(Region, Region.id == Need.region_id).where(reach_clause(actor, "org.read"))
    if status:
        stmt = stmt.where(Need.status == check_word(policy.need_statuses, status, "status", "状态"))
    if kind:
        stmt = stmt.where(Need.kind == check_word(policy.resource_kinds, kind, "need kind", "需求类型"))
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    if flagged is not None:
        late = and_(Need.status == "open", Need.raised_at < flag_before())
        stmt = stmt.where(late if flagged else ~late)
    if q:
        stmt = stmt.where(or_(Need.title.contains(q, autoescape=True), Need.description.contains(q, autoescape=True)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Need.raised_at.desc(), Need.id.desc())
                           .offset((page - 1) * size).limit(size)).all()
    return [(n, r) for n, r in rows], total


def open_needs_in_bbox(
    session: Session, *, actor: Actor, bbox: tuple[float, float, float, float], limit: int = 500,
) -> list[dict[str, Any]]:
    """Needs still waiting for a match whose place lies in the box, for the live map (flagged ones marked)."""
    require_somewhere(session, actor, "org.read")
    west, south, east, north = check_bbox(bbox)
    lon = func.coalesce(Need.lon, Region.centroid_lon)
    lat = func.coalesce(Need.lat, Region.centroid_lat)
    rows = session.execute(
        select(Need, Region).join(Region, Region.id == Need.region_id)
        .where(reach_clause(actor, "org.read"), Need.status == "open", lon.between(west, east),
               lat.between(south, north))
        .order_by(Need.raised_at, Need.id).limit(limit)).all()
    return need_dicts(session, [(n, r) for n, r in rows])
