"""Households (户): people who live together, registered (户籍户) or floating (流动户), and where
they live. A person belongs to at most one household; its head is the member whose relation is
`head`. Shown with each person's registered residence (户籍地址) beside their actual one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.housing import views
from shanzhi.housing.models import Building, Household, Person, Unit
from shanzhi.housing.policy import housing_policy
from shanzhi.housing.scope import MANAGE, READ, bump, get_person, get_unit, record

KINDS = {"registered": "户籍户", "floating": "流动户"}


def _get(session: Session, actor: Actor, household_id: int, action: str) -> Household:
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound("household not found", "户不存在或不在您的管辖范围内", code="not_found")
    authorize(session, actor, action, Target("housing_household", str(household.id), (household.region_code,),
                                             label="户"))
    return household


def _join(session: Session, actor: Actor, household: Household, person: Person, relation: str) -> None:
    housing_policy().check("relations", relation, "与户主关系")
    if person.household_id is not None and person.household_id != household.id:
        raise Conflict("This person belongs to another household", "该人员已属于另一户，请先移出",
                       code="other_household")
    if relation == "head" and session.scalar(select(Person.id).where(
            Person.household_id == household.id, Person.relation == "head", Person.id != person.id)):
        raise Conflict("The household has a head already", "该户已有户主", code="head_exists")
    person.household_id, person.relation = household.id, relation
    bump(person, None, "人员")
    session.flush()
    building = session.get(Building, session.get(Unit, household.unit_id).building_id) if household.unit_id else None
    record(session, actor, "housing.household.join", building, person=person,
           after={"household_id": household.id, "relation": relation})


def create_household(session: Session, *, actor: Actor, kind: str, head_person_id: int,
                     unit_id: int | None = None) -> Household:
    """A household with its head; placed in a unit (or, without one, where the head lives)."""
    if kind not in KINDS:
        raise InvalidInput("kind must be registered or floating", "户类型应为 registered（户籍户）或 floating（流动户）",
                           code="invalid_kind")
    head = get_person(session, actor=actor, person_id=head_person_id, action=MANAGE)
    if unit_id is not None:
        _, building = get_unit(session, actor=actor, unit_id=unit_id, action=MANAGE)
        region = building.region_code
    elif head.region_code is not None:
        region = head.region_code
    else:
        raise InvalidInput("Say which unit the household lives in", "请指定该户居住的房间", code="unit_required")
    household = Household(kind=kind, unit_id=unit_id, region_code=region)
    session.add(household)
    session.flush()
    _join(session, actor, household, head, "head")
    return household


def add_member(session: Session, *, actor: Actor, household_id: int, person_id: int, relation: str) -> Person:
    household = _get(session, actor, household_id, MANAGE)
    person = get_person(session, actor=actor, person_id=person_id, action=MANAGE)
    _join(session, actor, household, person, relation)
    return person


def remove_member(session: Session, *, actor: Actor, household_id: int, person_id: int, reason: str) -> Person:
    """The person leaves the household (moved away, married out, died): the link ends, the person
    and the audit row of who left, when and why remain. A head leaves last, so a household
    always has one while it has members."""
    household = _get(session, actor, household_id, MANAGE)
    person = get_person(session, actor=actor, person_id=person_id, action=MANAGE)
    if person.household_id != household.id:
        raise NotFound("This person is not in the household", "该人员不在此户中", code="not_member")
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise InvalidInput("Say why the person leaves (up to 200 characters)", "请填写移出原因（200 字以内）",
                           code="reason_required")
    others = session.scalar(select(func.count()).where(Person.household_id == household.id, Person.id != person.id))
    if person.relation == "head" and others:
        raise Conflict("The head leaves last: make another member head first", "户主须最后移出，请先变更户主",
                       code="head_leaves_last")
    before = {"household_id": household.id, "relation": person.relation}
    person.household_id, person.relation = None, None
    bump(person, None, "人员")
    session.flush()
    building = session.get(Building, session.get(Unit, household.unit_id).building_id) if household.unit_id else None
    record(session, actor, "housing.household.leave", building, person=person, before=before,
           detail={"reason": reason})
    return person


def household_detail(session: Session, *, actor: Actor, household_id: int) -> dict[str, Any]:
    household = _get(session, actor, household_id, READ)
    members = session.scalars(select(Person).where(Person.household_id == household.id)
                              .order_by(Person.relation != "head", Person.id)).all()
    return {"id": household.id, "kind": household.kind, "kind_label": KINDS[household.kind],
            "unit_id": household.unit_id, "region_code": household.region_code,
            "members": [views.person_dict(p) for p in members]}


def residence(session: Session, person: Person) -> dict[str, Any] | None:
    """Where the person actually lives now (the unit of their active registration or household)."""
    if person.unit_id is None:
        return None
    unit = session.get(Unit, person.unit_id)
    building = session.get(Building, unit.building_id) if unit else None
    if unit is None or building is None:
        return None
    return {"building_id": building.id, "building_code": building.code, "address": building.address,
            "unit_id": unit.id, "unit": unit.number, "region_code": building.region_code}
