"""Figures per region (and per child region) and the density of residents for the live map.

Every figure is one grouped query over the region-code prefix, so a town's report is the same
few queries as a village's. "Overdue" is an active registration past its end date (a renewal
ends the old row, so what is left active and past due has not been renewed).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.geo import service as geo
from shanzhi.geo.levels import BY_NAME, child_level
from shanzhi.geo.models import Region
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Building, Finding, Person, Registration, Unit
from shanzhi.housing.policy import checklist
from shanzhi.housing.scope import READ, listable

FIGURES = {
    "buildings": "房屋（栋）", "units": "房间（套/间）", "rented_units": "出租房间", "residents": "在住登记人数",
    "floating_population": "登记流动人口", "overdue_registrations": "逾期未续登记",
    "units_over_limit": "超员房间", "open_findings": "未整改问题", "overdue_findings": "逾期未整改问题",
}


def _grouped(session: Session, column: Any, stmt: Any, n: int | None, prefix: str) -> dict[str, int]:
    key = func.substr(column, 1, n) if n else literal("")
    rows = session.execute(stmt.add_columns(key.label("k")).where(column.startswith(prefix, autoescape=True))
                           .group_by(key)).all()
    return {r.k: int(r[0]) for r in rows}


def _figures(session: Session, prefix: str, n: int | None, today: date) -> dict[str, dict[str, int]]:
    count = select(func.count())
    active = Registration.status == "active"
    per_unit = (select(Registration.unit_id, func.count().label("occupants"))
                .where(active, Registration.region_code.startswith(prefix, autoescape=True))
                .group_by(Registration.unit_id).subquery())
    min_area = checklist().occupancy.min_area_per_person_m2
    # occupants > max(1, ⌊area / min⌋)  ⇔  occupants > 1 and occupants × min > area (whole people).
    over = and_(per_unit.c.occupants > 1, per_unit.c.occupants * min_area > Unit.area_m2)
    return {
        "buildings": _grouped(session, Building.region_code, count.select_from(Building), n, prefix),
        "units": _grouped(session, Building.region_code, count.select_from(Unit).join(Building), n, prefix),
        "rented_units": _grouped(session, Building.region_code, count.select_from(Unit).join(Building)
                                 .where(Unit.rental_status == "rented"), n, prefix),
        "residents": _grouped(session, Registration.region_code, count.select_from(Registration).where(active),
                              n, prefix),
        "floating_population": _grouped(
            session, Registration.region_code,
            select(func.count(func.distinct(Registration.person_id))).select_from(Registration)
            .join(Person, Person.id == Registration.person_id)
            .where(active, Person.is_local.is_(False)), n, prefix),
        "overdue_registrations": _grouped(session, Registration.region_code, count.select_from(Registration)
                                          .where(active, Registration.end_date < today), n, prefix),
        "units_over_limit": _grouped(session, Building.region_code, count.select_from(Unit).join(Building)
                                     .join(per_unit, per_unit.c.unit_id == Unit.id).where(over), n, prefix),
        "open_findings": _grouped(session, Finding.region_code, count.select_from(Finding)
                                  .where(Finding.status == "open"), n, prefix),
        "overdue_findings": _grouped(session, Finding.region_code, count.select_from(Finding)
                                     .where(Finding.status == "open", Finding.deadline < today), n, prefix),
    }


def region_report(session: Session, *, actor: Actor, region: str, today: date | None = None) -> dict[str, Any]:
    """The housing figures of a region, and of each of its child regions."""
    today = today or today_local()
    place = geo.get_region(session, code=region)
    authorize(session, actor, READ, Target("housing_report", None, (place.code,), label="区域"))
    totals = {k: v.get("", 0) for k, v in _figures(session, place.code, None, today).items()}
    below = child_level(place.level)
    n = below.code_length if below else None
    children: list[dict[str, Any]] = []
    if n is not None:
        by_child = _figures(session, place.code, n, today)
        for child in session.scalars(select(Region).where(Region.parent_id == place.id).order_by(Region.code)):
            children.append({"code": child.code, "name": child.name, "level": child.level,
                             **{k: by_child[k].get(child.code, 0) for k in FIGURES}})
    return {
        "region": {"code": place.code, "name": place.name, "level": place.level,
                   "level_zh": BY_NAME[place.level].label_zh},
        "as_of": today.isoformat(), "labels": FIGURES, "totals": totals, "children": children,
        "occupancy_rule": {"min_area_per_person_m2": checklist().occupancy.min_area_per_person_m2},
    }


def density_points(session: Session, *, actor: Actor, bbox: tuple[float, float, float, float],
                   cell_deg: float | None = None) -> list[list[float]]:
    """[lat, lon, residents] per building in the box (within reach) — or summed per grid cell of
    `cell_deg` degrees, for a heat layer at low zoom."""
    west, south, east, north = bbox
    rows = session.execute(
        select(Building.lat, Building.lon, func.count())
        .join(Registration, and_(Registration.building_id == Building.id, Registration.status == "active"))
        .where(listable(session, actor, READ, Building.region_code),
               Building.lon.between(west, east), Building.lat.between(south, north))
        .group_by(Building.id, Building.lat, Building.lon)
    ).all()
    if not cell_deg:
        return [[round(lat, 6), round(lon, 6), float(n)] for lat, lon, n in rows]
    cells: dict[tuple[int, int], list[float]] = {}
    for lat, lon, n in rows:
        key = (int(lat // cell_deg), int(lon // cell_deg))
        cell = cells.setdefault(key, [0.0, 0.0, 0.0])
        cell[0] += lat * n
        cell[1] += lon * n
        cell[2] += n
    # Each cell sits at its residents' centre of mass, not at a grid corner.
    return [[round(a / w, 6), round(b / w, 6), w] for a, b, w in cells.values()]
