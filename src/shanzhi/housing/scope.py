"""Who may see and change which housing rows: targets for `authorize`, WHERE clauses for lists,
fetch-and-authorize helpers, and the audit/version conventions every housing change shares.

A housing row lies where its building lies (the deepest located region code); a person lies
where they live now, or where the building they own or manage lies. The trail never holds a
person's name, ID number or phone: only ids and which fields changed, so purging personal
fields after the retention period leaves nothing behind in the append-only audit trail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, or_
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    require_somewhere,
    scope_prefixes,
)
from shanzhi.audit import service as audit
from shanzhi.errors import Conflict, NotFound
from shanzhi.housing.models import Building, Inspection, Person, Registration, Unit

READ, MANAGE, INSPECT, REVEAL, EXPORT = (
    "housing.read", "housing.manage", "housing.inspect", "housing.reveal", "housing.export")


def building_target(building: Building) -> Target:
    return Target("housing_building", str(building.id), (building.region_code,), label="房屋")


def person_target(person: Person) -> Target:
    return Target("housing_person", str(person.id), (person.region_code,) if person.region_code else (),
                  label="人员")


def region_clause(column: Any, actor: Actor, action: str) -> Any:
    """Rows whose region code lies in a subtree where the actor may do `action` (false when none)."""
    prefixes = scope_prefixes(actor, action)
    return or_(*(column.startswith(p, autoescape=True) for p in prefixes)) if prefixes else false()


def listable(session: Session, actor: Actor, action: str, column: Any) -> Any:
    """For list queries: 403 when the actor holds the action nowhere, else the scope clause."""
    require_somewhere(session, actor, action)
    return region_clause(column, actor, action)


def _missing(what: str, what_zh: str) -> NotFound:
    return NotFound(f"{what} not found", f"{what_zh}不存在或不在您的管辖范围内", code="not_found")


def get_building(session: Session, *, actor: Actor, building_id: int, action: str = READ) -> Building:
    building = session.get(Building, building_id)
    if building is None:
        raise _missing("building", "房屋")
    authorize(session, actor, action, building_target(building))
    return building


def get_unit(session: Session, *, actor: Actor, unit_id: int, action: str = READ) -> tuple[Unit, Building]:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise _missing("unit", "房间")
    return unit, get_building(session, actor=actor, building_id=unit.building_id, action=action)


def get_person(session: Session, *, actor: Actor, person_id: int, action: str = READ) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise _missing("person", "人员")
    authorize(session, actor, action, person_target(person))
    return person


def get_registration(session: Session, *, actor: Actor, registration_id: int,
                     action: str = READ) -> Registration:
    reg = session.get(Registration, registration_id)
    if reg is None:
        raise _missing("registration", "居住登记")
    authorize(session, actor, action, Target("housing_registration", str(reg.id), (reg.region_code,),
                                             label="居住登记"))
    return reg


def get_inspection(session: Session, *, actor: Actor, inspection_id: int, action: str = READ) -> Inspection:
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise _missing("inspection", "检查记录")
    authorize(session, actor, action, Target("housing_inspection", str(inspection.id),
                                             (inspection.region_code,), label="检查记录"))
    return inspection


def bump(row: Any, expected_version: int | None, what_zh: str) -> None:
    """Optimistic concurrency: a stale version (someone saved in between) is a 409."""
    if expected_version is not None and expected_version != row.version:
        raise Conflict(f"This {type(row).__name__.lower()} was changed by someone else; reload and try again",
                       f"该{what_zh}已被他人修改，请刷新后重试", code="stale_version")
    row.version += 1


def record(session: Session, actor: Actor, action: str, building: Building | None, *,
           person: Person | None = None, before: Any = None, after: Any = None, detail: Any = None) -> None:
    """One audit row for a housing change, filed under its building (the building's history)
    or, for a change to a person alone, under the person."""
    if building is not None:
        target_type, target_id, region = "housing_building", str(building.id), building.region_code
    else:
        assert person is not None
        target_type, target_id, region = "housing_person", str(person.id), person.region_code
    if person is not None and building is not None:
        detail = {**(detail or {}), "person_id": person.id}
    audit.record(session, action=action, actor_id=actor.user_id, actor_name=actor.name,
                 target_type=target_type, target_id=target_id, region_code=region,
                 before=before, after=after, detail=detail)
