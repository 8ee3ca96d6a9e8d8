"""Residence registrations (居住登记) and tenancies: register, end, renew. Never deleted.

Registering someone who is registered elsewhere ends that registration (they moved): a person
lives in one place at a time. A unit that was vacant becomes rented with its first tenant and
vacant again when its last tenant leaves.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.errors import Conflict, InvalidInput
from shanzhi.housing import households, views
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Building, Person, Registration, Unit
from shanzhi.housing.people import PersonInput, clean, upsert
from shanzhi.housing.policy import housing_policy
from shanzhi.housing.scope import (
    MANAGE,
    READ,
    bump,
    get_person,
    get_registration,
    get_unit,
    listable,
    record,
)

MAX_FUTURE_START = timedelta(days=90)
MAX_LENGTH = timedelta(days=3660)
MOVED = "迁往新住址（新登记时自动注销）"


def _check_dates(start: date, end: date | None, today: date) -> None:
    if start > today + MAX_FUTURE_START:
        raise InvalidInput("The start date is too far ahead", "起始日期不能晚于今天 90 天以上", code="invalid_dates")
    if end is not None and end < start:
        raise InvalidInput("The end date is before the start date", "到期日期不能早于起始日期", code="invalid_dates")
    if end is not None and end - start > MAX_LENGTH:
        raise InvalidInput("A registration lasts at most ten years", "登记期限最长十年", code="invalid_dates")


def _active_count(session: Session, unit_id: int) -> int:
    return session.scalar(select(func.count()).where(Registration.unit_id == unit_id,
                                                     Registration.status == "active")) or 0


def _close(session: Session, actor: Actor, reg: Registration, *, on: date, reason: str, status: str = "ended") -> None:
    """End a registration; the person leaves the unit, and an emptied rented unit is vacant."""
    reg.status, reg.ended_on, reg.end_reason = status, on, reason
    bump(reg, None, "居住登记")
    person = session.get(Person, reg.person_id)
    if person is not None and person.unit_id == reg.unit_id and status == "ended":
        person.unit_id = None
    session.flush()
    unit = session.get(Unit, reg.unit_id)
    building = session.get(Building, reg.building_id)
    assert unit is not None and building is not None
    after: dict[str, Any] = {"registration_id": reg.id, "status": status, "ended_on": on.isoformat(), "reason": reason}
    if status == "ended" and unit.rental_status == "rented" and _active_count(session, unit.id) == 0:
        unit.rental_status = "vacant"
        bump(unit, None, "房间")
        after["unit_rental_status"] = "vacant"
    session.flush()
    record(session, actor, "housing.registration.end", building, person=person,
           before={"registration_id": reg.id, "status": "active"}, after=after)


def register(session: Session, *, actor: Actor, unit_id: int, person: PersonInput, start_date: date,
             end_date: date | None = None, purpose: str = "work", today: date | None = None) -> Registration:
    """Register a person living in a unit (a tenant, a floating resident) from `start_date`."""
    today = today or today_local()
    housing_policy().check("purposes", purpose, "居住事由")
    _check_dates(start_date, end_date, today)
    data = clean(person, id_required=True)
    unit, building = get_unit(session, actor=actor, unit_id=unit_id, action=MANAGE)
    resident, _ = upsert(session, actor=actor, data=data, region_code=building.region_code)
    current = session.scalars(select(Registration).where(Registration.person_id == resident.id,
                                                         Registration.status == "active")).all()
    if any(r.unit_id == unit.id for r in current):
        raise Conflict("This person is already registered in this unit", "该人员已在本房间登记在住",
                       code="already_registered")
    for old in current:
        _close(session, actor, old, on=max(old.start_date, start_date - timedelta(days=1)), reason=MOVED)
    reg = Registration(person_id=resident.id, unit_id=unit.id, building_id=building.id,
                       region_code=building.region_code, purpose=purpose, start_date=start_date, end_date=end_date,
                       status="active", registered_by=actor.user_id, version=1)
    session.add(reg)
    resident.unit_id, resident.region_code = unit.id, building.region_code
    after: dict[str, Any] = {"unit_id": unit.id, "unit": unit.number, "start_date": start_date.isoformat(),
                             "end_date": end_date.isoformat() if end_date else None, "purpose": purpose}
    if unit.rental_status == "vacant":
        unit.rental_status = "rented"
        bump(unit, None, "房间")
        after["unit_rental_status"] = "rented"
    session.flush()
    record(session, actor, "housing.registration.create", building, person=resident,
           after={**after, "registration_id": reg.id})
    return reg


def end_registration(session: Session, *, actor: Actor, registration_id: int, reason: str,
                     ended_on: date | None = None, expected_version: int | None = None,
                     today: date | None = None) -> Registration:
    """The person moved out (the row stays, marked ended)."""
    today = today or today_local()
    reg = get_registration(session, actor=actor, registration_id=registration_id, action=MANAGE)
    if reg.status != "active":
        raise Conflict("This registration has already ended", "该登记已注销或已续期", code="not_active")
    if expected_version is not None and expected_version != reg.version:
        bump(reg, expected_version, "居住登记")  # raises the 409
    on = ended_on or today
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 200:
        raise InvalidInput("Give a reason (2–200 characters)", "请填写注销原因（2–200 字）", code="reason_required")
    if on < reg.start_date or on > today:
        raise InvalidInput("The end date must lie between the start date and today",
                           "注销日期应在起始日期与今天之间", code="invalid_dates")
    _close(session, actor, reg, on=on, reason=reason)
    return reg


def renew_registration(session: Session, *, actor: Actor, registration_id: int, end_date: date | None,
                       expected_version: int | None = None, today: date | None = None) -> Registration:
    """Extend a stay: the old row ends as `renewed`, a new active one continues from the day after."""
    today = today or today_local()
    old = get_registration(session, actor=actor, registration_id=registration_id, action=MANAGE)
    if old.status != "active":
        raise Conflict("Only an active registration can be renewed", "只有在住的登记可以续期", code="not_active")
    if expected_version is not None and expected_version != old.version:
        bump(old, expected_version, "居住登记")  # raises the 409
    start = old.end_date + timedelta(days=1) if old.end_date is not None and old.end_date < today else today
    start = max(start, old.start_date)
    _check_dates(start, end_date, today)
    _close(session, actor, old, on=max(old.start_date, start - timedelta(days=1)), reason="续期", status="renewed")
    new = Registration(person_id=old.person_id, unit_id=old.unit_id, building_id=old.building_id,
                       region_code=old.region_code, purpose=old.purpose, start_date=start, end_date=end_date,
                       status="active", renewed_from_id=old.id, registered_by=actor.user_id, version=1)
    session.add(new)
    session.flush()
    building = session.get(Building, old.building_id)
    record(session, actor, "housing.registration.renew", building, person=session.get(Person, old.person_id),
           after={"registration_id": new.id, "renewed_from_id": old.id, "start_date": start.isoformat(),
                  "end_date": end_date.isoformat() if end_date else None})
    return new


def as_dicts(session: Session, regs: list[Registration], today: date | None = None) -> list[dict[str, Any]]:
    """Registrations as shown, each with its person (masked): one query for the people."""
    ids = {r.person_id for r in regs}
    found = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
    return [views.registration_dict(r, found.get(r.person_id), today or today_local()) for r in regs]


def person_detail(session: Session, *, actor: Actor, person_id: int) -> dict[str, Any]:
    """A person (masked) with their registered residence (户籍地址) and actual residence, their
    household and every registration they ever had, newest first."""
    person = get_person(session, actor=actor, person_id=person_id, action=READ)
    regs = session.scalars(select(Registration).where(Registration.person_id == person.id)
                           .order_by(Registration.start_date.desc(), Registration.id.desc())).all()
    today = today_local()
    return {**views.person_dict(person), "actual_residence": households.residence(session, person),
            "registrations": [views.registration_dict(r, None, today) for r in regs]}


def list_registrations(session: Session, *, actor: Actor, region: str | None = None, status: str | None = None,
                       overdue: bool = False, today: date | None = None, page: int = 1,
                       size: int = 50) -> tuple[list[Registration], int]:
    """Registrations in reach; `overdue`: active ones past their end date (no renewal)."""
    today = today or today_local()
    stmt = select(Registration).where(listable(session, actor, READ, Registration.region_code))
    if region:
        stmt = stmt.where(Registration.region_code.startswith(region, autoescape=True))
    if status:
        if status not in ("active", "ended", "renewed"):
            raise InvalidInput("status must be active, ended or renewed", "状态应为 active、ended 或 renewed",
                               code="invalid_status")
        stmt = stmt.where(Registration.status == status)
    if overdue:
        stmt = stmt.where(Registration.status == "active", Registration.end_date < today)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Registration.end_date, Registration.id)
                           .offset((page - 1) * size).limit(size)).all()
    return list(rows), total
