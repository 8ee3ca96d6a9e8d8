"""Rental-safety inspections: the checklist from policy data, findings with rectification
deadlines, re-inspection, photos, and turning an unresolved finding into an event in one step.

Any inspection of a place (a building, or one unit) resolves that place's open findings whose
item now passes, and keeps — never duplicates — those still failing. Overcrowding is checked
from the numbers: occupants (counted on site, or the unit's active registrations) against the
unit's area divided by the policy's minimum area per person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.db import utcnow
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.events import intake
from shanzhi.events.models import Event
from shanzhi.events.photos import clean_image
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import (
    Building,
    Finding,
    Inspection,
    InspectionPhoto,
    Registration,
    Unit,
)
from shanzhi.housing.policy import checklist
from shanzhi.housing.scope import INSPECT, READ, get_building, get_inspection, record
from shanzhi.housing.views import finding_dict, inspection_dict

MAX_NOTE = 500
MAX_PHOTOS = 9


@dataclass(frozen=True)
class Answer:
    ok: bool
    note: str | None = None


def _occupancy(session: Session, unit: Unit, occupants: int | None) -> tuple[int, int | None]:
    """(occupants, limit): counted on site when given, else the unit's active registrations."""
    if occupants is None:
        occupants = session.scalar(select(func.count()).where(Registration.unit_id == unit.id,
                                                              Registration.status == "active")) or 0
    return occupants, checklist().occupant_limit(unit.area_m2)


def _answers(session: Session, unit: Unit | None, given: dict[str, Answer],
             occupants: int | None) -> tuple[dict[str, Answer], int | None]:
    policy = checklist()
    place = "unit" if unit is not None else "building"
    allowed = {i.key for i in policy.for_place(place)}
    for key, answer in given.items():
        policy.item(key)  # unknown keys: 422
        if key not in allowed:
            raise InvalidInput(f"Item {key} is not checked on a {place}",
                               f"检查项「{policy.item(key).label}」不适用于{'房间' if unit else '整栋房屋'}",
                               code="item_not_applicable")
        if answer.note is not None and len(answer.note) > MAX_NOTE:
            raise InvalidInput(f"A note is at most {MAX_NOTE} characters", f"说明最多 {MAX_NOTE} 字", code="too_long")
    answers = dict(given)
    if unit is None:
        return answers, occupants
    counted, limit = _occupancy(session, unit, occupants)
    key = policy.occupancy.item
    if limit is not None and counted > limit:
        # The numbers decide: over the limit is a finding even if the box was ticked.
        answers[key] = Answer(False, f"在住 {counted} 人，面积 {unit.area_m2:g} 平方米，按人均不少于 "
                                     f"{policy.occupancy.min_area_per_person_m2:g} 平方米最多 {limit} 人")
    elif limit is not None and key not in answers:
        answers[key] = Answer(True, f"在住 {counted} 人，上限 {limit} 人")
    return answers, counted


def record_inspection(session: Session, *, actor: Actor, building_id: int, answers: dict[str, Answer],
                      unit_id: int | None = None, occupants: int | None = None, notes: str | None = None,
                      reinspection_of: int | None = None, deadline: date | None = None,
                      now: datetime | None = None) -> tuple[Inspection, list[Finding], list[Finding]]:
    """Record an inspection; returns (inspection, new findings, findings it resolved)."""
    now = now or utcnow()
    today = today_local(now)
    building = get_building(session, actor=actor, building_id=building_id, action=INSPECT)
    unit = None
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.building_id != building.id:
            raise NotFound("unit not found", "该房屋中没有这个房间", code="not_found")
    if occupants is not None and not 0 <= occupants <= 1000:
        raise InvalidInput("occupants must be 0–1000", "在住人数应为 0–1000", code="invalid_occupants")
    if not answers:
        raise InvalidInput("Answer at least one checklist item", "请至少填写一个检查项", code="empty_inspection")
    if deadline is not None and deadline < today:
        raise InvalidInput("The rectification deadline is in the past", "整改期限不能早于今天", code="invalid_deadline")
    if notes is not None and len(notes) > 2000:
        raise InvalidInput("Notes are too long (max 2000)", "备注过长（最多 2000 字）", code="too_long")
    if reinspection_of is not None:
        earlier = session.get(Inspection, reinspection_of)
        if earlier is None or earlier.building_id != building.id or earlier.unit_id != unit_id:
            raise InvalidInput("A re-inspection must be of the same building or unit",
                               "复查应针对同一房屋或房间", code="invalid_reinspection")
    final, counted = _answers(session, unit, answers, occupants)
    inspection = Inspection(
        building_id=building.id, unit_id=unit_id, region_code=building.region_code, inspector_id=actor.user_id,
        inspector_name=actor.name, inspected_at=now, checklist_version=checklist().version,
        answers={k: {"ok": a.ok, "note": a.note} for k, a in final.items()}, occupants=counted,
        reinspection_of_id=reinspection_of, passed=all(a.ok for a in final.values()), notes=notes,
    )
    session.add(inspection)
    session.flush()
    open_here = {f.item: f for f in session.scalars(
        select(Finding).where(Finding.building_id == building.id, Finding.status == "open",
                              Finding.unit_id.is_(None) if unit_id is None else Finding.unit_id == unit_id))}
    resolved, created = [], []
    for key, answer in final.items():
        existing = open_here.get(key)
        if answer.ok and existing is not None:
            existing.status, existing.resolved_at, existing.resolved_by_id = "resolved", now, inspection.id
            resolved.append(existing)
        elif not answer.ok and existing is None:
            item = checklist().item(key)
            finding = Finding(inspection_id=inspection.id, building_id=building.id, unit_id=unit_id,
                              region_code=building.region_code, item=key, note=answer.note, status="open",
                              deadline=deadline or today + timedelta(days=item.rectify_days))
            session.add(finding)
            created.append(finding)
    session.flush()
    record(session, actor, "housing.inspection.create", building,
           after={"inspection_id": inspection.id, "unit_id": unit_id, "passed": inspection.passed,
                  "failed": sorted(k for k, a in final.items() if not a.ok),
                  "new_findings": [f.id for f in created], "resolved_findings": [f.id for f in resolved]})
    return inspection, created, resolved


def escalate_finding(session: Session, *, actor: Actor, finding_id: int, text: str | None = None,
                     today: date | None = None) -> Event:
    """Turn an unresolved finding into an event of its item's category (one step, once)."""
    today = today or today_local()
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise NotFound("finding not found", "检查发现的问题不存在或不在您的管辖范围内", code="not_found")
    authorize(session, actor, INSPECT, Target("housing_finding", str(finding.id), (finding.region_code,),
                                              label="检查问题"))
    if finding.status != "open":
        raise Conflict("This finding has been put right", "该问题已整改，无需转为事件", code="resolved")
    if finding.event_id is not None:
        code = session.scalar(select(Event.code).where(Event.id == finding.event_id))
        raise Conflict(f"This finding is already event {code}", f"该问题已转为事件 {code}", code="already_escalated")
    building = session.get(Building, finding.building_id)
    assert building is not None
    unit = session.get(Unit, finding.unit_id) if finding.unit_id else None
    item = checklist().item(finding.item)
    where = building.address + (f" {unit.number} 室" if unit else "")
    state = "已逾期未整改" if finding.deadline < today else "尚未整改"
    # The text names the place and the problem, never the tenants: events travel further than the registry.
    body = text or (f"出租房屋安全检查发现：{item.label}" + (f"（{finding.note}）" if finding.note else "")
                    + f"。地址：{where}。整改期限 {finding.deadline.isoformat()}，{state}。")
    done = intake.submit(session, actor=actor, report=intake.Report(
        text=body[:intake.MAX_TEXT], channel="grid_worker", category=item.category, lon=building.lon,
        lat=building.lat, address=where[:200], idempotency_key=f"housing-finding-{finding.id}"))
    finding.event_id = done.event.id
    session.flush()
    record(session, actor, "housing.finding.escalate", building,
           after={"finding_id": finding.id, "item": finding.item, "event": done.event.code})
    return done.event


def list_findings(session: Session, *, actor: Actor, building_id: int, status: str | None = "open",
                  ) -> list[Finding]:
    building = get_building(session, actor=actor, building_id=building_id, action=READ)
    stmt = select(Finding).where(Finding.building_id == building.id)
    if status:
        stmt = stmt.where(Finding.status == status)
    return list(session.scalars(stmt.order_by(Finding.deadline, Finding.id)))


# -- photos ------------------------------------------------------------------------------------


def add_photo(session: Session, *, actor: Actor, inspection_id: int, data: bytes,
              item: str | None = None) -> InspectionPhoto:
    inspection = get_inspection(session, actor=actor, inspection_id=inspection_id, action=INSPECT)
    if item is not None:
        checklist().item(item)
    count = session.scalar(select(func.count()).where(InspectionPhoto.inspection_id == inspection.id)) or 0
    if count >= MAX_PHOTOS:
        raise Conflict(f"At most {MAX_PHOTOS} photos per inspection", f"每次检查最多 {MAX_PHOTOS} 张照片",
                       code="too_many_photos")
    image = clean_image(data)
    photo = InspectionPhoto(inspection_id=inspection.id, item=item, mime="image/jpeg", sha256=image.sha256,
                            width=image.width, height=image.height, content=image.content,
                            thumbnail=image.thumbnail)
    session.add(photo)
    session.flush()
    building = session.get(Building, inspection.building_id)
    record(session, actor, "housing.inspection.photo", building,
           after={"inspection_id": inspection.id, "photo_id": photo.id, "item": item})
    return photo


def get_photo(session: Session, *, actor: Actor, inspection_id: int, photo_id: int) -> InspectionPhoto:
    inspection = get_inspection(session, actor=actor, inspection_id=inspection_id, action=READ)
    photo = session.get(InspectionPhoto, photo_id)
    if photo is None or photo.inspection_id != inspection.id:
        raise NotFound("Photo not found", "照片不存在", code="not_found")
    return photo


def photos_of(session: Session, inspection_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The photos of these inspections (already authorised by the caller), in one query."""
    rows = session.scalars(select(InspectionPhoto).where(InspectionPhoto.inspection_id.in_(inspection_ids))
                           .options(defer(InspectionPhoto.content, raiseload=True),
                                    defer(InspectionPhoto.thumbnail, raiseload=True))
                           .order_by(InspectionPhoto.id))
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in inspection_ids}
    for p in rows:
        out[p.inspection_id].append({"id": p.id, "item": p.item, "width": p.width, "height": p.height,
                                     "url": f"/api/v1/housing/inspections/{p.inspection_id}/photos/{p.id}"})
    return out


def inspection_detail(session: Session, *, actor: Actor, inspection_id: int) -> dict[str, Any]:
    inspection = get_inspection(session, actor=actor, inspection_id=inspection_id, action=READ)
    findings = session.scalars(select(Finding).where(Finding.inspection_id == inspection.id).order_by(Finding.id))
    today = today_local()
    return {**inspection_dict(inspection), "findings": [finding_dict(f, today) for f in findings],
            "photos": photos_of(session, [inspection.id])[inspection.id]}
