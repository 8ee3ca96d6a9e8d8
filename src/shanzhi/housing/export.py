"""A region's housing registry as an XLSX workbook: buildings with their units, and residents.

Personal data leaves masked (姓名 张*, 证件号码 3302**********1234 or E*****678 beside its 证件类型,
手机 138****5678) unless the
exporter asks for full values, holds housing.reveal for the region and gives a reason. Every
export — masked or not — is written to the audit trail with its region, size and reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi import pii
from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.audit import service as audit
from shanzhi.db import utcnow
from shanzhi.errors import InvalidInput
from shanzhi.events.export import XlsxWriter, local
from shanzhi.geo import service as geo
from shanzhi.housing import documents
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Building, Person, Registration, Unit
from shanzhi.housing.people import MAX_REASON, MIN_REASON, plain
from shanzhi.housing.policy import housing_policy
from shanzhi.housing.scope import EXPORT, REVEAL
from shanzhi.housing.views import PURGED_NAME

CHUNK = 2000
BUILDING_SHEET: tuple[tuple[str, int], ...] = (
    ("房屋编号", 24), ("地址", 36), ("经度", 12), ("纬度", 12), ("区域编码", 20), ("用途", 10), ("层数", 6),
    ("结构", 10), ("房号", 8), ("房间类型", 10), ("楼层", 6), ("面积", 8), ("出租状态", 8), ("在住人数", 8),
)
RESIDENT_SHEET: tuple[tuple[str, int], ...] = (
    ("姓名", 10), ("证件类型", 14), ("证件号码", 22), ("手机号", 14), ("户籍地址", 30), ("户籍人口", 8), ("房屋编号", 24),
    ("地址", 36), ("房号", 8), ("居住事由", 8), ("起始日期", 12), ("到期日期", 12), ("状态", 8), ("逾期", 6),
)


def _chunks(session: Session, stmt: Any) -> Iterator[list[Any]]:
    for part in session.execute(stmt.execution_options(yield_per=CHUNK)).partitions():
        yield list(part)


def _person_cells(person: Person, reveal: bool) -> list[Any]:
    if person.purged_at is not None:
        return [PURGED_NAME, "", "", "", "", ""]
    id_number, phone = plain(person)
    kind = documents.label(person.id_type) if id_number else ""
    if reveal:
        return [person.name, kind, id_number, phone, person.registered_address, "是" if person.is_local else "否"]
    return [pii.mask_name(person.name), kind, documents.mask(person.id_type, id_number), pii.mask_phone(phone), "",
            "是" if person.is_local else "否"]


def write_xlsx(session: Session, out: IO[bytes], *, actor: Actor, region: str, reveal: bool = False,
               reason: str | None = None, today: date | None = None) -> dict[str, int]:
    """Write the region's buildings and active residents; returns the row counts."""
    today = today or today_local()
    place = geo.get_region(session, code=region)
    target = Target("housing_export", None, (place.code,), label="区域")
    authorize(session, actor, EXPORT, target)
    if reveal:
        authorize(session, actor, REVEAL, target)
        reason = (reason or "").strip()
        if not MIN_REASON <= len(reason) <= MAX_REASON:
            raise InvalidInput("Exporting full personal data needs a reason",
                               f"导出完整个人信息须填写原因（{MIN_REASON}–{MAX_REASON} 个字）", code="reason_required")
    policy = housing_policy()
    prefix = Building.region_code.startswith(place.code, autoescape=True)
    counts = {"units": 0, "residents": 0}
    with XlsxWriter(out) as book:
        with book.sheet("房屋", [w for _, w in BUILDING_SHEET], freeze=True) as append:
            append([h for h, _ in BUILDING_SHEET], bold=True)
            occupants = _occupants(session, place.code)
            stmt = (select(Building, Unit).outerjoin(Unit, Unit.building_id == Building.id).where(prefix)
                    .order_by(Building.id, Unit.number))
            for chunk in _chunks(session, stmt):
                for b, u in chunk:
                    append([b.code, b.address, b.lon, b.lat, b.region_code, policy.uses.get(b.use, b.use), b.floors,
                            policy.constructions.get(b.construction or "", ""), *(
                                [u.number, policy.unit_kinds.get(u.kind, u.kind), u.floor, u.area_m2,
                                 policy.rental_statuses.get(u.rental_status, u.rental_status),
                                 occupants.get(u.id, 0)] if u is not None else [""] * 6)])
                    counts["units"] += 1
        with book.sheet("人员", [w for _, w in RESIDENT_SHEET], freeze=True) as append:
            append([h for h, _ in RESIDENT_SHEET], bold=True)
            stmt = (select(Registration, Person, Building, Unit)
                    .join(Person, Person.id == Registration.person_id)
                    .join(Building, Building.id == Registration.building_id)
                    .join(Unit, Unit.id == Registration.unit_id)
                    .where(Registration.region_code.startswith(place.code, autoescape=True),
                           Registration.status == "active")
                    .order_by(Building.id, Unit.number, Registration.id))
            for chunk in _chunks(session, stmt):
                for r, p, b, u in chunk:
                    append([*_person_cells(p, reveal), b.code, b.address, u.number,
                            policy.purposes.get(r.purpose, r.purpose), r.start_date.isoformat(),
                            r.end_date.isoformat() if r.end_date else "", "在住",
                            "是" if r.end_date is not None and r.end_date < today else ""])
                    counts["residents"] += 1
        with book.sheet("导出说明", [14, 70]) as append:
            for label, value in (("区域", f"{place.name}（{place.code}）"), ("导出时间", local(utcnow())),
                                 ("导出人", actor.name), ("房间行数", counts["units"]), ("在住人员", counts["residents"]),
                                 ("个人信息", "完整（已登记查看原因）" if reveal else "已脱敏")):
                append([label, value])
            if reveal:
                append(["查看原因", reason])
    audit.record_durably(session, action=EXPORT, actor_id=actor.user_id, actor_name=actor.name,
                         target_type="housing_export", region_code=place.code,
                         detail={"region": place.code, **counts, "revealed": reveal,
                                 **({"reason": reason} if reveal else {})})
    return counts


def _occupants(session: Session, prefix: str) -> dict[int, int]:
    return dict(session.execute(
        select(Registration.unit_id, func.count())
        .where(Registration.region_code.startswith(prefix, autoescape=True), Registration.status == "active")
        .group_by(Registration.unit_id)).all())
