"""The demo's handling units: who takes events in every village, town and at the district.

Every village gets its 村民委员会, a 网格团队 and a 村人民调解委员会; every town or street its
综合行政执法队, 人民调解委员会, 派出所, 市场监管所 and a few offices (城建办 first: routing
picks the first town office by id, and most town-office matters are its business); the
district its departments and the utilities. All are rows of `Organization`, told apart by the
catalog's handler-type codes in `kind`.

Codes read `{kind}-{region code}-{n}` (e.g. `town_office-330203103-2` for 古林镇平安办), so
a second run finds them and creates nothing. Organizations the demo people already use keep
their codes: 古林镇's enforcement team is `GL-ZFD`, created here if `people.py` has not yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.demo.people import DEMO_ORGS
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

__all__ = ["TOWN_OFFICES", "UnitSpec", "create_demo_units", "demo_units", "preferred_unit"]

VILLAGE_UNITS: tuple[tuple[str, str], ...] = (
    # (kind, name suffix after the village's name)
    ("village_committee", "{committee}"),
    ("grid_team", "网格团队"),
    ("village_mediation", "人民调解委员会"),
)

# Town offices in id order; n is the last part of the code. 农业农村办 only where there are villages.
TOWN_OFFICES: tuple[tuple[int, str, bool], ...] = (
    # (n, name suffix, rural only)
    (1, "城建办", False),
    (2, "平安办（综治办）", False),
    (3, "社会事务办", False),
    (4, "应急管理办", False),
    (5, "农业农村办", True),
)

TOWN_UNITS: tuple[tuple[str, str], ...] = (
    ("enforcement_team", "{town}综合行政执法队"),
    ("town_mediation", "{town}人民调解委员会"),
    ("police_station", "{short}派出所"),
    ("market_station", "{short}市场监管所"),
)

# (kind, name): several of one kind are numbered in this order; the first is routing's default.
DISTRICT_UNITS: tuple[tuple[str, str], ...] = (
    ("district_department", "{district}社会治理中心"),
    ("district_department", "{district}综合行政执法局"),
    ("district_department", "{district}交通运输局"),
    ("district_department", "宁波市自然资源和规划局{short}分局"),
    ("district_housing", "{district}住房和城乡建设局"),
    ("district_ecology", "宁波市生态环境局{short}分局"),
    ("district_market", "{district}市场监督管理局"),
    ("district_emergency", "{district}应急管理局"),
    ("district_hrss", "{district}人力资源和社会保障局"),
    ("district_health", "{district}卫生健康局"),
    ("district_civil", "{district}民政局"),
    ("district_agriculture", "{district}农业农村局"),
    ("district_water", "{district}水利局"),
    ("utility", "宁波市自来水有限公司{short}分公司"),
    ("utility", "国网宁波市{district}供电公司"),
    ("utility", "宁波兴光燃气{short}分公司"),
    ("utility", "中国电信{short}分公司"),
)

# Which of several units of a kind a dispatcher picks for a category (the n of its code).
# Routing proposes the first of the kind; the command center knows better for these.
_TOWN_OFFICE_FOR: dict[str, int] = {
    # 平安办: order, population and rental housing, land disputes
    "09": 2, "0703": 2, "08": 2,
    # 社会事务办: livelihood, wages, employment
    "10": 3, "0704": 3,
    # 应急管理办: fire, work safety, gas, disasters
    "06": 4, "13": 4,
    # 农业农村办: farmland, livestock, irrigation
    "11": 5,
}
_UTILITY_FOR: dict[str, int] = {"0402": 1, "0405": 2}
_DISTRICT_DEPARTMENT_FOR: dict[str, int] = {"01": 2, "02": 2, "03": 4, "04": 3}


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str
    region_code: str


def preferred_unit(kind: str, category_code: str | None) -> int:
    """The n (last part of the code) of the unit of this kind that takes this category."""
    table = {"town_office": _TOWN_OFFICE_FOR, "utility": _UTILITY_FOR,
             "district_department": _DISTRICT_DEPARTMENT_FOR}.get(kind)
    if not table or not category_code:
        return 1
    return table.get(category_code, table.get(category_code[:2], 1))


def _short(name: str) -> str:
    for suffix in ("街道", "镇", "乡", "区"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def demo_units(session: Session) -> list[UnitSpec]:
    """Every unit the demo wants, for the region tree in the database (district first)."""
    regions = session.execute(
        select(Region.code, Region.name, Region.level).where(Region.level.in_(("district", "town", "village")))
    ).all()
    districts = sorted((r for r in regions if r.level == "district"), key=lambda r: r.code)
    towns = sorted((r for r in regions if r.level == "town"), key=lambda r: r.code)
    villages = sorted((r for r in regions if r.level == "village"), key=lambda r: r.code)
    reuse = {(kind, town): code for code, _, kind, town in DEMO_ORGS}
    rural = {v.code[:9] for v in villages}
    out: list[UnitSpec] = []
    for d in districts:
        seen: dict[str, int] = {}
        for kind, pattern in DISTRICT_UNITS:
            seen[kind] = seen.get(kind, 0) + 1
            name = pattern.format(district=d.name, short=_short(d.name))
            out.append(UnitSpec(f"{kind}-{d.code}-{seen[kind]}", name, kind, d.code))
    for t in towns:
        fmt = {"town": t.name, "short": _short(t.name)}
        for n, suffix, rural_only in TOWN_OFFICES:
            if rural_only and t.code not in rural:
                continue
            out.append(UnitSpec(f"town_office-{t.code}-{n}", f"{t.name}{suffix}", "town_office", t.code))
        for kind, pattern in TOWN_UNITS:
            code = reuse.get((kind, t.name), f"{kind}-{t.code}-1")
            out.append(UnitSpec(code, pattern.format(**fmt), kind, t.code))
    for v in villages:
        committee = "村民委员会" if v.name.endswith("村") else "居民委员会"
        for kind, suffix in VILLAGE_UNITS:
            name = v.name + suffix.format(committee=committee)
            out.append(UnitSpec(f"{kind}-{v.code}-1", name, kind, v.code))
    return out


def create_demo_units(session: Session) -> int:
    """Create the demo's handling units that are missing; returns how many were created."""
    specs = demo_units(session)
    existing = set(session.scalars(select(Organization.code)))
    ids = dict(session.execute(select(Region.code, Region.id)).tuples().all())
    created = 0
    for spec in specs:
        if spec.code in existing:
            continue
        session.add(Organization(code=spec.code, name=spec.name, kind=spec.kind, region_id=ids[spec.region_code]))
        existing.add(spec.code)
        created += 1
    # The unit of work inserts one table's rows in the order they were added, so ids follow the
    # list (routing picks the first unit of a kind by id).
    session.flush()
    return created
