"""The resource list: what units offer (legal aid, clinics, training, jobs, funds …), with
capacity and period. Published to the district like the organizations that offer it."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, require_somewhere
from shanzhi.audit import service as audit
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.geo.models import Region
from shanzhi.orgs.common import (
    authorize_directory,
    authorize_entry,
    check_bbox,
    check_paging,
    check_period,
    check_text,
    iso,
    place,
    prefix_clause,
    published_prefixes,
    readable,
    row_id,
    today,
)
from shanzhi.orgs.list_models import Project, ProjectResource, Resource
from shanzhi.orgs.models import Organization
from shanzhi.orgs.policy import check_word, orgs_policy
from shanzhi.orgs.service import UNSET
from shanzhi.orgs.service import find as find_org

MAX_CAPACITY = 10_000_000


def target(resource: Resource, region_code: str) -> Target:
    return Target("resource", readable("resource", resource.id), (region_code,), org_id=resource.org_id, label="资源")


def find(session: Session, code: str) -> tuple[Resource, Region]:
    rid = row_id("resource", code)
    row = session.execute(select(Resource, Region).join(Region, Region.id == Resource.region_id)
                          .where(Resource.id == rid)).first() if rid is not None else None
    if row is None:
        raise NotFound(f"Resource {code} not found", f"资源 {code} 不存在或不在您的管辖范围内", code="not_found")
    return row[0], row[1]


def get_resource(session: Session, *, actor: Actor, code: str, action: str = "org.read") -> tuple[Resource, Region]:
    resource, region = find(session, code)
    authorize_entry(session, actor, action, target(resource, region.code))
    return resource, region


def allocated(session: Session, ids: list[int]) -> dict[int, int]:
    """How much of each resource projects have taken (cancelled projects give theirs back)."""
    if not ids:
        return {}
    rows = session.execute(
        select(ProjectResource.resource_id, func.sum(ProjectResource.quantity))
        .join(Project, Project.id == ProjectResource.project_id)
        .where(ProjectResource.resource_id.in_(ids), Project.status != "cancelled")
        .group_by(ProjectResource.resource_id))
    return {rid: int(q or 0) for rid, q in rows}


def available(resource: Resource, day: date) -> bool:
    return resource.status == "open" and (resource.available_from is None or resource.available_from <= day) \
        and (resource.available_until is None or resource.available_until >= day)


def resource_dicts(session: Session, rows: list[tuple[Resource, Region]]) -> list[dict[str, Any]]:
    policy = orgs_policy()
    used = allocated(session, [r.id for r, _ in rows])
    orgs = {o.id: o for o in session.scalars(select(Organization).where(
        Organization.id.in_({r.org_id for r, _ in rows})))} if rows else {}
    out = []
    for r, region in rows:
        org = orgs[r.org_id]
        lon = r.lon if r.lon is not None else org.lon if org.lon is not None else region.centroid_lon
        lat = r.lat if r.lat is not None else org.lat if org.lat is not None else region.centroid_lat
        out.append({
            "code": readable("resource", r.id), "kind": r.kind, "kind_label": policy.resource_kinds.get(r.kind, r.kind),
            "title": r.title, "description": r.description,
            "org": {"code": org.code, "name": org.name, "kind": org.kind},
            "capacity": r.capacity, "unit": r.unit, "allocated": used.get(r.id, 0),
            "remaining": r.capacity - used.get(r.id, 0),
            "available_from": iso(r.available_from), "available_until": iso(r.available_until),
            "region": {"code": region.code, "name": region.name}, "position": [lon, lat],
            "status": r.status, "status_label": policy.resource_statuses.get(r.status, r.status),
        })
    return out


def _capacity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAPACITY:
        raise InvalidInput(f"capacity must be a whole number 1–{MAX_CAPACITY}", f"容量应为 1–{MAX_CAPACITY} 的整数",
                           code="invalid_capacity")
    return value


def create_resource(
    session: Session, *, actor: Actor, org: str, kind: str, title: str, capacity: int, unit: str = "人次",
    description: str | None = None, available_from: date | None = None, available_until: date | None = None,
    region: str | None = None, lon: float | None = None, lat: float | None = None, crs: str = "wgs84",
    status: str = "open",
) -> Resource:
    """A unit publishes a resource (where it is offered: its own region unless said otherwise)."""
    policy = orgs_policy()
    org_row, org_region = find_org(session, org)
    check_word(policy.resource_kinds, kind, "resource kind", "资源类型")
    check_word(policy.resource_statuses, status, "status", "状态")
    title = check_text(title, "title", "名称", limit=120)  # type: ignore[assignment]
    check_period(available_from, available_until, "资源")
    where = org_region
    if region is not None or lon is not None:
        where, lon, lat = place(session, region=region, lon=lon, lat=lat, crs=crs)
    resource = Resource(org_id=org_row.id, kind=kind, title=title, capacity=_capacity(capacity),
                        unit=check_text(unit, "unit", "计量单位", limit=16),
                        description=check_text(description, "description", "说明", limit=2000, required=False),
                        available_from=available_from, available_until=available_until,
                        region_id=where.id, lon=lon, lat=lat, status=status)
    authorize_directory(session, actor, "resource.manage",
                        Target("resource", None, (where.code,), org_id=org_row.id, label="资源"), new=True)
    session.add(resource)
    session.flush()
    audit.record(session, action="resource.create", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="resource", target_id=readable("resource", resource.id), region_code=where.code,
                 after={"org": org_row.code, "kind": kind, "title": title, "capacity": capacity, "unit": resource.unit,
                        "from": iso(available_from), "until": iso(available_until), "status": status})
    return resource


def update_resource(
    session: Session, *, actor: Actor, code: str, kind: Any = UNSET, title: Any = UNSET, description: Any = UNSET,
    capacity: Any = UNSET, unit: Any = UNSET, available_from: Any = UNSET, available_until: Any = UNSET,
    status: Any = UNSET,
) -> Resource:
    policy = orgs_policy()
    resource, region = get_resource(session, actor=actor, code=code, action="resource.manage")
    fields = ("kind", "title", "capacity", "unit", "available_from", "available_until", "status")
    before = {f: iso(getattr(resource, f)) if isinstance(getattr(resource, f), date) else getattr(resource, f)
              for f in fields}
    if kind is not UNSET:
        resource.kind = check_word(policy.resource_kinds, kind, "resource kind", "资源类型")
    if title is not UNSET:
        resource.title = check_text(title, "title", "名称", limit=120)  # type: ignore[assignment]
    if description is not UNSET:
        resource.description = check_text(description, "description", "说明", limit=2000, required=False)
    if unit is not UNSET:
        resource.unit = check_text(unit, "unit", "计量单位", limit=16)  # type: ignore[assignment]
    if status is not UNSET:
        resource.status = check_word(policy.resource_statuses, status, "status", "状态")
    if available_from is not UNSET:
        resource.available_from = available_from
    if available_until is not UNSET:
        resource.available_until = available_until
    check_period(resource.available_from, resource.available_until, "资源")
    if capacity is not UNSET:
        taken = allocated(session, [resource.id]).get(resource.id, 0)
        if _capacity(capacity) < taken:
            raise Conflict(f"Projects already use {taken}; capacity cannot go below that",
                           f"项目已占用 {taken}{resource.unit}，容量不能低于此数", code="capacity_in_use")
        resource.capacity = capacity
    session.flush()
    after = {f: iso(getattr(resource, f)) if isinstance(getattr(resource, f), date) else getattr(resource, f)
             for f in fields}
    audit.record(session, action="resource.update", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="resource", target_id=readable("resource", resource.id), region_code=region.code,
                 before={k: v for k, v in before.items() if after[k] != v},
                 after={k: v for k, v in after.items() if before[k] != v})
    return resource


def _query(actor: Actor) -> Any:
    return (select(Resource, Region).join(Region, Region.id == Resource.region_id)
            .where(prefix_clause(Region.code, published_prefixes(actor, "org.read"))))


def list_resources(
    session: Session, *, actor: Actor, q: str | None = None, kind: str | None = None, org: str | None = None,
    region: str | None = None, status: str | None = None, available_on: date | None = None,
    page: int = 1, size: int = 50,
) -> tuple[list[tuple[Resource, Region]], int]:
    require_somewhere(session, actor, "org.read")
    check_paging(page, size)
    policy = orgs_policy()
    stmt = _query(actor)
    if q:
        stmt = stmt.where(or_(Resource.title.contains(q, autoescape=True),
                              Resource.description.contains(q, autoescape=True)))
    if kind:
        stmt = stmt.where(Resource.kind == check_word(policy.resource_kinds, kind, "resource kind", "资源类型"))
    if org:
        stmt = stmt.where(Resource.org_id == find_org(session, org)[0].id)
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    if status:
        stmt = stmt.where(Resource.status == check_word(policy.resource_statuses, status, "status", "状态"))
    if available_on:
        stmt = stmt.where(or_(Resource.available_from.is_(None), Resource.available_from <= available_on),
                          or_(Resource.available_until.is_(None), Resource.available_until >= available_on))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Resource.id).offset((page - 1) * size).limit(size)).all()
    return [(r, g) for r, g in rows], total


def resources_in_bbox(
    session: Session, *, actor: Actor, bbox: tuple[float, float, float, float], kinds: list[str] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Open, currently available resources whose place lies in the box, for the live map."""
    require_somewhere(session, actor, "org.read")
    west, south, east, north = check_bbox(bbox)
    day = today()
    lon = func.coalesce(Resource.lon, Organization.lon, Region.centroid_lon)
    lat = func.coalesce(Resource.lat, Organization.lat, Region.centroid_lat)
    stmt = (_query(actor).join(Organization, Organization.id == Resource.org_id)
            .where(Resource.status == "open", lon.between(west, east), lat.between(south, north),
                   or_(Resource.available_from.is_(None), Resource.available_from <= day),
                   or_(Resource.available_until.is_(None), Resource.available_until >= day)))
    if kinds:
        stmt = stmt.where(Resource.kind.in_(kinds))
    rows = session.execute(stmt.order_by(Resource.id).limit(limit)).all()
    return resource_dicts(session, [(r, g) for r, g in rows])
