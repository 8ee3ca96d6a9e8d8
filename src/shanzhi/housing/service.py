"""Buildings and units: register, change, find by map box or address, show with their tenants.

Every change is authorized against the building's region, bumps its version (a stale version
is a 409) and writes an audit row filed under the building: that trail is the building's history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.audit import service as audit
from shanzhi.audit.models import AuditEntry
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.geo import service as geo
from shanzhi.geo.models import Region
from shanzhi.housing import views
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import (
    Building,
    Finding,
    Inspection,
    Person,
    Registration,
    Unit,
)
from shanzhi.housing.people import PersonInput, clean, upsert
from shanzhi.housing.policy import housing_policy
from shanzhi.housing.scope import (
    MANAGE,
    READ,
    bump,
    get_building,
    get_unit,
    listable,
    record,
)
from shanzhi.orgs.models import Organization

MAX_PAGE_SIZE = 500
BUILDING_FIELDS = ("address", "use", "floors", "construction", "manager_duties", "notes")
UNIT_FIELDS = ("number", "kind", "floor", "area_m2", "rental_status")


@dataclass(frozen=True)
class PartyInput:
    """An owner, landlord or manager: a person (name, optional phone and document) or an
    organization (by code, or by name — a company not yet known is recorded)."""

    kind: str  # person | org
    name: str = ""
    phone: str | None = None
    id_number: str | None = None
    org_code: str | None = None
    id_type: str | None = None  # housing.toml id_types; None: resident ID


@dataclass(frozen=True)
class BuildingInput:
    address: str
    lon: float
    lat: float
    use: str
    crs: str = "wgs84"
    floors: int | None = None
    construction: str | None = None
    owner: PartyInput | None = None
    manager: PartyInput | None = None
    manager_duties: tuple[str, ...] = ()
    notes: str | None = None


@dataclass(frozen=True)
class UnitInput:
    number: str
    kind: str = "room"
    floor: int | None = None
    area_m2: float | None = None
    rental_status: str = "vacant"
    landlord: PartyInput | None = None


# -- validation --------------------------------------------------------------------------------


def _check_building(values: dict[str, Any]) -> None:
    policy = housing_policy()
    address = values.get("address")
    if "address" in values and (not isinstance(address, str) or not 2 <= len(address.strip()) <= 200):
        raise InvalidInput("Address must be 2–200 characters", "地址应为 2–200 个字", code="invalid_address")
    if "use" in values:
        policy.check("uses", values["use"], "房屋用途")
    policy.check("constructions", values.get("construction"), "建筑结构")
    floors = values.get("floors")
    if floors is not None and not (isinstance(floors, int) and 1 <= floors <= 100):
        raise InvalidInput("floors must be 1–100", "层数应为 1–100", code="invalid_floors")
    for duty in values.get("manager_duties") or ():
        policy.check("manager_duties", duty, "管理职责")
    if values.get("notes") is not None and len(values["notes"]) > 2000:
        raise InvalidInput("Notes are too long (max 2000)", "备注过长（最多 2000 字）", code="too_long")


def _check_unit(values: dict[str, Any]) -> None:
    policy = housing_policy()
    number = values.get("number")
    if "number" in values and (not isinstance(number, str) or not 1 <= len(number.strip()) <= 20):
        raise InvalidInput("Unit number must be 1–20 characters", "房号应为 1–20 个字符", code="invalid_number")
    if "kind" in values:
        policy.check("unit_kinds", values["kind"], "房间类型")
    if "rental_status" in values:
        policy.check("rental_statuses", values["rental_status"], "出租状态")
    area = values.get("area_m2")
    if area is not None and not (isinstance(area, int | float) and 0 < area <= 10_000):
        raise InvalidInput("area_m2 must be above 0 and at most 10,000", "面积应大于 0 且不超过 10000 平方米",
                           code="invalid_area")
    floor = values.get("floor")
    if floor is not None and not (isinstance(floor, int) and -5 <= floor <= 100):
        raise InvalidInput("floor must be −5–100", "楼层应为 -5 至 100", code="invalid_floor")


def _locate(session: Session, lon: float, lat: float, crs: str) -> tuple[float, float, str]:
    try:
        found = geo.locate(session, lon=lon, lat=lat, crs=crs)
    except NotFound as exc:
        raise InvalidInput(exc.message, exc.message_zh, code="outside_jurisdiction") from None
    return found.lon, found.lat, found.chain[-1].code


# -- parties -----------------------------------------------------------------------------------


def _org(session: Session, actor: Actor, party: PartyInput, region_code: str) -> Organization:
    if party.org_code:
        org = session.scalar(select(Organization).where(Organization.code == party.org_code))
        if org is None:
            raise InvalidInput(f"No organization {party.org_code}", f"组织编码 {party.org_code} 不存在",
                               code="unknown_org")
        return org
    name = (party.name or "").strip()
    if not 2 <= len(name) <= 120:
        raise InvalidInput("Organization name must be 2–120 characters", "单位名称应为 2–120 个字",
                           code="invalid_name")
    org = session.scalar(select(Organization).where(Organization.name == name).order_by(Organization.id).limit(1))
    if org is not None:
        return org
    place = session.scalar(select(Region).where(Region.code == region_code[:12]))
    assert place is not None
    org = Organization(code="FWGL-" + hashlib.sha1(name.encode()).hexdigest()[:10].upper(), name=name,
                       kind=housing_policy().organizations.manager_kind, region_id=place.id)
    session.add(org)
    session.flush()
    audit.record(session, action="housing.org.create", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="organization", target_id=str(org.id), region_code=place.code,
                 after={"code": org.code, "name": org.name, "kind": org.kind})
    return org


def resolve_party(session: Session, actor: Actor, party: PartyInput | None,
                  region_code: str) -> tuple[int | None, int | None]:
    """(person id, organization id) for an owner, landlord or manager."""
    if party is None:
        return None, None
    if party.kind == "org":
        return None, _org(session, actor, party, region_code).id
    if party.kind != "person":
        raise InvalidInput("A party is a person or an org", "责任主体类型应为 person（个人）或 org（单位）",
                           code="invalid_party")
    data = clean(PersonInput(party.name, party.id_number, party.phone, id_type=party.id_type), id_required=False)
    person, _ = upsert(session, actor=actor, data=data, region_code=region_code)
    return person.id, None


# -- buildings ---------------------------------------------------------------------------------


def create_building(session: Session, *, actor: Actor, data: BuildingInput,
                    units: Sequence[UnitInput] = ()) -> Building:
    values = {"address": data.address, "use": data.use, "floors": data.floors, "construction": data.construction,
              "manager_duties": list(data.manager_duties), "notes": data.notes}
    _check_building(values)
    lon, lat, region_code = _locate(session, data.lon, data.lat, data.crs)
    authorize(session, actor, MANAGE, Target("housing_building", None, (region_code,), label="区域"))
    owner = resolve_party(session, actor, data.owner, region_code)
    manager = resolve_party(session, actor, data.manager, region_code)
    building = Building(**{**values, "address": data.address.strip()}, lon=lon, lat=lat, region_code=region_code,
                        owner_person_id=owner[0], owner_org_id=owner[1], manager_person_id=manager[0],
                        manager_org_id=manager[1], version=1, created_by=actor.user_id)
    session.add(building)
    session.flush()
    building.code = building_code(region_code, building.id)
    record(session, actor, "housing.building.create", building,
           after={**values, "code": building.code, "lon": lon, "lat": lat, "region_code": region_code,
                  "owner": _party_ref(*owner), "manager": _party_ref(*manager)})
    for unit in units:
        _add_unit(session, actor, building, unit)
    return building


def building_code(region_code: str, building_id: int) -> str:
    return f"FW{region_code[:12]}-{building_id:06d}"


def _party_ref(person_id: int | None, org_id: int | None) -> dict[str, int] | None:
    # The trail names parties by id only: a person's name is personal data that purging must reach.
    if person_id is not None:
        return {"person_id": person_id}
    return {"org_id": org_id} if org_id is not None else None


def update_building(session: Session, *, actor: Actor, building_id: int, expected_version: int | None,
                    lon: float | None = None, lat: float | None = None, crs: str = "wgs84",
                    owner: PartyInput | None = None, manager: PartyInput | None = None,
                    **changes: Any) -> Building:
    """Change the given fields (others stay); a new point is located again."""
    unknown = set(changes) - set(BUILDING_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields {sorted(unknown)}", f"未知字段：{', '.join(sorted(unknown))}",
                           code="unknown_fields")
    _check_building(changes)
    building = get_building(session, actor=actor, building_id=building_id, action=MANAGE)
    before = {k: getattr(building, k) for k in changes}
    after = dict(changes)
    if (lon is None) != (lat is None):
        raise InvalidInput("Give both lon and lat", "经度和纬度须同时提供", code="invalid_coordinates")
    if lon is not None and lat is not None:
        new_lon, new_lat, region_code = _locate(session, lon, lat, crs)
        # Moving a building moves it into someone's scope: the actor must reach the new place too.
        authorize(session, actor, MANAGE, Target("housing_building", str(building.id), (region_code,), label="区域"))
        before.update(lon=building.lon, lat=building.lat, region_code=building.region_code)
        after.update(lon=new_lon, lat=new_lat, region_code=region_code)
        building.lon, building.lat, building.region_code = new_lon, new_lat, region_code
    for role, party in (("owner", owner), ("manager", manager)):
        if party is not None:
            ids = resolve_party(session, actor, party, building.region_code)
            before[role] = _party_ref(getattr(building, f"{role}_person_id"), getattr(building, f"{role}_org_id"))
            setattr(building, f"{role}_person_id", ids[0])
            setattr(building, f"{role}_org_id", ids[1])
            after[role] = _party_ref(*ids)
    bump(building, expected_version, "房屋")
    for key, value in changes.items():
        setattr(building, key, value.strip() if key == "address" else value)
    session.flush()
    record(session, actor, "housing.building.update", building, before=before, after=after)
    return building


# -- units -------------------------------------------------------------------------------------


def _add_unit(session: Session, actor: Actor, building: Building, data: UnitInput) -> Unit:
    values = {"number": data.number, "kind": data.kind, "floor": data.floor, "area_m2": data.area_m2,
              "rental_status": data.rental_status}
    _check_unit(values)
    number = data.number.strip()
    if session.scalar(select(Unit.id).where(Unit.building_id == building.id, Unit.number == number)):
        raise Conflict(f"Unit {number} already exists in this building", f"该房屋已有房号 {number}",
                       code="duplicate_unit")
    landlord = resolve_party(session, actor, data.landlord, building.region_code)
    unit = Unit(**{**values, "number": number}, building_id=building.id, landlord_person_id=landlord[0],
                landlord_org_id=landlord[1], version=1)
    session.add(unit)
    session.flush()
    record(session, actor, "housing.unit.create", building,
           after={**values, "unit_id": unit.id, "landlord": _party_ref(*landlord)})
    return unit


def add_unit(session: Session, *, actor: Actor, building_id: int, data: UnitInput) -> Unit:
    building = get_building(session, actor=actor, building_id=building_id, action=MANAGE)
    return _add_unit(session, actor, building, data)


def update_unit(session: Session, *, actor: Actor, unit_id: int, expected_version: int | None,
                landlord: PartyInput | None = None, **changes: Any) -> Unit:
    unknown = set(changes) - set(UNIT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown fields {sorted(unknown)}", f"未知字段：{', '.join(sorted(unknown))}",
                           code="unknown_fields")
    _check_unit(changes)
    unit, building = get_unit(session, actor=actor, unit_id=unit_id, action=MANAGE)
    before = {k: getattr(unit, k) for k in changes}
    after = dict(changes)
    if "number" in changes:
        changes["number"] = changes["number"].strip()
        if session.scalar(select(Unit.id).where(Unit.building_id == building.id, Unit.number == changes["number"],
                                                Unit.id != unit.id)):
            raise Conflict(f"Unit {changes['number']} already exists in this building",
                           f"该房屋已有房号 {changes['number']}", code="duplicate_unit")
    if landlord is not None:
        ids = resolve_party(session, actor, landlord, building.region_code)
        before["landlord"] = _party_ref(unit.landlord_person_id, unit.landlord_org_id)
        unit.landlord_person_id, unit.landlord_org_id = ids
        after["landlord"] = _party_ref(*ids)
    bump(unit, expected_version, "房间")
    for key, value in changes.items():
        setattr(unit, key, value)
    session.flush()
    record(session, actor, "housing.unit.update", building, before=before, after={**after, "unit_id": unit.id})
    return unit


# -- finding and showing -----------------------------------------------------------------------


def find_buildings(session: Session, *, actor: Actor, bbox: tuple[float, float, float, float] | None = None,
                   q: str | None = None, region: str | None = None, use: str | None = None,
                   page: int = 1, size: int = 50) -> tuple[list[Building], int]:
    """Buildings in reach, by map box (west, south, east, north), address text or code, region."""
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and size 1–{MAX_PAGE_SIZE}",
                           f"页码应 ≥ 1，每页条数应为 1–{MAX_PAGE_SIZE}", code="invalid_paging")
    stmt = select(Building).where(listable(session, actor, READ, Building.region_code))
    if bbox is not None:
        west, south, east, north = bbox
        stmt = stmt.where(Building.lon.between(west, east), Building.lat.between(south, north))
    if q:
        text = q.strip()
        stmt = stmt.where(or_(Building.address.contains(text, autoescape=True), Building.code == text))
    if region:
        stmt = stmt.where(Building.region_code.startswith(region, autoescape=True))
    if use:
        housing_policy().check("uses", use, "房屋用途")
        stmt = stmt.where(Building.use == use)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Building.id).offset((page - 1) * size).limit(size)).all()
    return list(rows), total


def building_summaries(session: Session, buildings: Sequence[Building]) -> list[dict[str, Any]]:
    """Buildings as listed: with unit, rented-unit and resident counts (three grouped queries)."""
    ids = [b.id for b in buildings]
    if not ids:
        return []
    units = dict(session.execute(select(Unit.building_id, func.count()).where(Unit.building_id.in_(ids))
                                 .group_by(Unit.building_id)).all())
    rented = dict(session.execute(select(Unit.building_id, func.count())
                                  .where(Unit.building_id.in_(ids), Unit.rental_status == "rented")
                                  .group_by(Unit.building_id)).all())
    residents = dict(session.execute(select(Registration.building_id, func.count())
                                     .where(Registration.building_id.in_(ids), Registration.status == "active")
                                     .group_by(Registration.building_id)).all())
    return [{**views.building_dict(b), "units": units.get(b.id, 0), "rented_units": rented.get(b.id, 0),
             "residents": residents.get(b.id, 0)} for b in buildings]


def building_detail(session: Session, *, actor: Actor, building_id: int,
                    today: date | None = None) -> dict[str, Any]:
    """A building with its owner and manager, its units with their current tenancies and
    occupancy, its open findings and latest inspections — personal data masked."""
    building = get_building(session, actor=actor, building_id=building_id, action=READ)
    today = today or today_local()
    units = list(session.scalars(select(Unit).where(Unit.building_id == building.id).order_by(Unit.number)))
    regs = list(session.scalars(select(Registration).where(Registration.building_id == building.id,
                                                           Registration.status == "active")
                                .order_by(Registration.start_date)))
    person_ids = {r.person_id for r in regs} | {p for p in (building.owner_person_id, building.manager_person_id,
                                                           *(u.landlord_person_id for u in units)) if p}
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))} if person_ids else {}
    org_ids = {o for o in (building.owner_org_id, building.manager_org_id, *(u.landlord_org_id for u in units)) if o}
    orgs = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))} \
        if org_ids else {}
    by_unit: dict[int, list[Registration]] = {}
    for r in regs:
        by_unit.setdefault(r.unit_id, []).append(r)
    findings = session.scalars(select(Finding).where(Finding.building_id == building.id, Finding.status == "open")
                               .order_by(Finding.deadline)).all()
    inspections = session.scalars(select(Inspection).where(Inspection.building_id == building.id)
                                  .order_by(Inspection.inspected_at.desc()).limit(10)).all()
    return {
        **views.building_dict(building),
        "owner": views.party_dict(people.get(building.owner_person_id or 0), orgs.get(building.owner_org_id or 0)),
        "manager": views.party_dict(people.get(building.manager_person_id or 0),
                                    orgs.get(building.manager_org_id or 0)),
        "chain": [geo.ref_dict(r.code, r.name, r.level) for r in geo.region_chain(session, code=building.region_code)],
        "units": [{
            **views.unit_dict(u, occupants=len(by_unit.get(u.id, []))),
            "landlord": views.party_dict(people.get(u.landlord_person_id or 0), orgs.get(u.landlord_org_id or 0)),
            "tenancies": [views.registration_dict(r, people.get(r.person_id), today) for r in by_unit.get(u.id, [])],
        } for u in units],
        "open_findings": [views.finding_dict(f, today) for f in findings],
        "inspections": [views.inspection_dict(i) for i in inspections],
    }


def history(session: Session, *, actor: Actor, building_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Who changed what in this building, and when (newest first): its audit rows."""
    building = get_building(session, actor=actor, building_id=building_id, action=READ)
    rows = session.scalars(
        select(AuditEntry)
        # The region index narrows the scan to the building's town (a building rarely changes town).
        .where(AuditEntry.region_code.startswith(building.region_code[:9], autoescape=True),
               AuditEntry.target_type == "housing_building", AuditEntry.target_id == str(building.id))
        .order_by(AuditEntry.seq.desc()).limit(limit)
    ).all()
    return [{k: v for k, v in audit.entry_dict(e).items() if k not in ("hash", "ip")} for e in rows]
