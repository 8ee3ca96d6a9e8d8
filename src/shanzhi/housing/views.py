"""How housing rows are shown: plain dicts for the API and pages, personal data masked.

Nothing here reveals: a full ID number or phone leaves only through `people.reveal` (audited)
or an export by someone holding housing.reveal.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shanzhi import pii
from shanzhi.db import as_utc
from shanzhi.housing import documents
from shanzhi.housing.models import (
    Building,
    Finding,
    Inspection,
    Person,
    Registration,
    Unit,
)
from shanzhi.housing.people import plain
from shanzhi.housing.policy import checklist, housing_policy
from shanzhi.orgs.models import Organization

PURGED_NAME = "（已清除）"


def person_dict(person: Person) -> dict[str, Any]:
    policy = housing_policy()
    if person.purged_at is not None:
        return {"id": person.id, "name": PURGED_NAME, "id_type": None, "id_type_label": None, "id_number": None,
                "phone": None,
                "registered_address": None, "is_local": person.is_local, "unit_id": person.unit_id,
                "household_id": person.household_id, "relation": None, "purged": True, "version": person.version}
    id_number, phone = plain(person)
    return {
        "id": person.id, "name": person.name, "id_type": person.id_type,
        "id_type_label": documents.label(person.id_type), "id_number": documents.mask(person.id_type, id_number),
        "phone": pii.mask_phone(phone),
        "registered_address": person.registered_address, "is_local": person.is_local,
        "residence": "户籍人口" if person.is_local else "流动人口", "unit_id": person.unit_id,
        "household_id": person.household_id, "relation": person.relation,
        "relation_label": policy.relations.get(person.relation or ""), "purged": False, "version": person.version,
    }


def party_dict(person: Person | None, org: Organization | None) -> dict[str, Any] | None:
    """An owner, landlord or manager: a person (masked) or an organization."""
    if person is not None:
        shown = person_dict(person)
        return {"kind": "person", "id": person.id, "name": shown["name"], "phone": shown["phone"]}
    if org is not None:
        return {"kind": "org", "id": org.id, "code": org.code, "name": org.name}
    return None


def building_dict(b: Building) -> dict[str, Any]:
    policy = housing_policy()
    return {
        "id": b.id, "code": b.code, "address": b.address, "lon": b.lon, "lat": b.lat,
        "region_code": b.region_code, "use": b.use, "use_label": policy.uses.get(b.use, b.use),
        "floors": b.floors, "construction": b.construction,
        "construction_label": policy.constructions.get(b.construction or ""),
        "manager_duties": [{"key": d, "label": policy.manager_duties.get(d, d)} for d in b.manager_duties or []],
        "notes": b.notes, "version": b.version,
        "updated_at": as_utc(b.updated_at).isoformat() if b.updated_at else None,
    }


def unit_dict(u: Unit, *, occupants: int = 0) -> dict[str, Any]:
    policy = housing_policy()
    limit = checklist().occupant_limit(u.area_m2)
    return {
        "id": u.id, "building_id": u.building_id, "number": u.number, "kind": u.kind,
        "kind_label": policy.unit_kinds.get(u.kind, u.kind), "floor": u.floor, "area_m2": u.area_m2,
        "rental_status": u.rental_status, "rental_status_label": policy.rental_statuses.get(u.rental_status),
        "occupants": occupants, "occupant_limit": limit, "over_limit": limit is not None and occupants > limit,
        "version": u.version,
    }


def registration_dict(r: Registration, person: Person | None, today: date) -> dict[str, Any]:
    return {
        "id": r.id, "unit_id": r.unit_id, "building_id": r.building_id, "region_code": r.region_code,
        "person": person_dict(person) if person is not None else None,
        "purpose": r.purpose, "purpose_label": housing_policy().purposes.get(r.purpose),
        "start_date": r.start_date.isoformat(), "end_date": r.end_date.isoformat() if r.end_date else None,
        "status": r.status, "status_label": {"active": "在住", "ended": "已注销", "renewed": "已续期"}[r.status],
        "ended_on": r.ended_on.isoformat() if r.ended_on else None, "end_reason": r.end_reason,
        "overdue": r.status == "active" and r.end_date is not None and r.end_date < today,
        "renewed_from_id": r.renewed_from_id, "version": r.version,
    }


def finding_dict(f: Finding, today: date) -> dict[str, Any]:
    item = next((i for i in checklist().items if i.key == f.item), None)
    return {
        "id": f.id, "inspection_id": f.inspection_id, "building_id": f.building_id, "unit_id": f.unit_id,
        "item": f.item, "item_label": item.label if item else f.item, "category": item.category if item else None,
        "note": f.note, "status": f.status, "status_label": {"open": "待整改", "resolved": "已整改"}[f.status],
        "deadline": f.deadline.isoformat(), "overdue": f.status == "open" and f.deadline < today,
        "event_id": f.event_id, "resolved_at": as_utc(f.resolved_at).isoformat() if f.resolved_at else None,
    }


def inspection_dict(i: Inspection) -> dict[str, Any]:
    labels = {it.key: it.label for it in checklist().items}
    return {
        "id": i.id, "building_id": i.building_id, "unit_id": i.unit_id, "region_code": i.region_code,
        "inspector": i.inspector_name, "inspected_at": as_utc(i.inspected_at).isoformat(),
        "checklist_version": i.checklist_version, "passed": i.passed, "occupants": i.occupants,
        "answers": [{"item": k, "label": labels.get(k, k), **v} for k, v in (i.answers or {}).items()],
        "reinspection_of_id": i.reinspection_of_id, "notes": i.notes,
    }
