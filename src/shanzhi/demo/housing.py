"""The demo's housing registry: 藕缆桥村, an urban village where one square kilometre held up to
35,000 migrant residents among apartments, shops and workshops.

What it makes: several hundred buildings (three in four packed into about a square kilometre
around the demo grid worker's micro-grid, the rest scattered over the village), their rooms,
flats, shops, workshops and dormitories, the local owners (户籍人口) and three management
companies, a floating population in the tens of thousands registered in them (families share a
household), three years of ended registrations (some past retention, so `shanzhi housing purge
--dry-run` has something to show), a few overdue ones, some crowded rooms, and the last four
months of rental-safety inspections with their findings — a dozen of the overdue ones turned
into events through the real service.

The data is synthetic: ID numbers are well-formed (valid checksums, real county prefixes) but
made up. Personal data is encrypted exactly as the registry does it. Deterministic for a seed;
written in bulk in one transaction with one audit row; runs once per database (an app_meta mark).
The village's floating-population figure is set to what the registry holds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time as dtime, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.orm import Session

from shanzhi import pii
from shanzhi.accounts.models import User
from shanzhi.accounts.service import system_actor
from shanzhi.audit import service as audit
from shanzhi.db import SHANGHAI, get_meta, session_factory, set_meta, transaction
from shanzhi.geo.models import Region
from shanzhi.geo.service import locate_many
from shanzhi.housing import documents
from shanzhi.housing.dates import today_local
from shanzhi.housing.idcard import check_char
from shanzhi.housing.inspections import escalate_finding
from shanzhi.housing.models import Building, Finding, Household, Inspection, Person, Registration, Unit
from shanzhi.housing.policy import checklist, housing_policy
from shanzhi.housing.service import PartyInput, building_code, resolve_party

__all__ = ["HOUSING_KEY", "HousingDemoResult", "generate_housing"]

Progress = Callable[[str, int, int], None]
HOUSING_KEY = "demo_housing"  # app_meta: set once the registry is written
VILLAGE = "藕缆桥村"
M_PER_DEG_LAT = 110_574.0
CORE_SHARE, CORE_SIGMA_M = 0.75, 330.0
ROADS = ("藕缆桥路", "联丰路", "河东路", "河西路", "新村路", "工业路", "杨家弄", "前王巷", "后塘路", "望春路", "永丰路",
         "高新路")
SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任"
                 "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚英华玉萍红玲芬燕彬斌宇浩凯鹏飞俊峰梅波辉亮成龙婷雪琴云莲欢晨阳文")
# The documents a few migrants hold instead of a resident ID card (housing.toml id_types).
FOREIGN_DOCUMENTS = ("passport", "hk_macau_permit", "taiwan_permit")
# Where the migrants come from: (county code, registered address); the local owners are 海曙 people.
ORIGINS = (("522401", "贵州省毕节市七星关区"), ("522422", "贵州省毕节市大方县"), ("341221", "安徽省阜阳市临泉县"),
           ("342201", "安徽省宿州市埇桥区"), ("362330", "江西省上饶市鄱阳县"), ("412726", "河南省周口市郸城县"),
           ("411521", "河南省信阳市罗山县"), ("511324", "四川省南充市仪陇县"), ("513030", "四川省达州市渠县"),
           ("421127", "湖北省黄冈市黄梅县"), ("430524", "湖南省邵阳市隆回县"), ("500228", "重庆市梁平区"),
           ("532128", "云南省昭通市镇雄县"), ("330381", "浙江省温州市瑞安市"))
COMPANIES = ("甬安物业服务有限公司", "宁波安居房屋管理有限公司", "藕缆桥村股份经济合作社")
PURPOSES = ("work",) * 6 + ("business", "family")
END_REASONS = ("合同到期搬离", "换工作搬离", "返乡", "迁往新住址")
USES = (("housing", 0.55), ("mixed", 0.25), ("workshop", 0.12), ("shop", 0.08))
# Building-level items and how often each fails an inspection.
FAIL_RATE = {"fire_exit": 0.08, "fire_equipment": 0.10, "ebike_charging": 0.12, "gas": 0.05,
             "illegal_partition": 0.06, "three_in_one": 0.15, "registration": 0.05}


@dataclass(frozen=True)
class HousingDemoResult:
    village: str = VILLAGE
    buildings: int = 0
    units: int = 0
    floating: int = 0  # active registrations of floating residents
    ended: int = 0
    inspections: int = 0
    open_findings: int = 0
    events: int = 0
    seconds: float = 0.0
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return f"房屋与流动人口：{self.village}已有演示数据，未重复生成"
        return (f"房屋与流动人口：{self.village} 房屋 {self.buildings:,} 栋、房间 {self.units:,} 间，在住流动人口 "
                f"{self.floating:,} 人（已注销登记 {self.ended:,} 条），检查 {self.inspections:,} 次、未整改问题 "
                f"{self.open_findings:,} 个（{self.events} 个已转为事件），用时 {self.seconds:.1f} 秒")


class _People:
    """Synthetic people, sealed the way the registry seals them (one key for the whole run)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.key, self.used = rng, pii.current_key(), set[str | tuple[str, str]]()

    def pick(self, n: int) -> int:
        return int(self.rng.random() * n)  # several times faster than Generator.integers for one number

    def document(self, first17: str, local: bool) -> tuple[str, str]:
        """(type, number): a resident ID, or for about 1% of migrants a passport or permit made from
        the same digits (no extra random draws, so the rest of the demo stays as it was)."""
        seq = int(first17[-3:])
        if not local and seq % 100 == 0:
            id_type = FOREIGN_DOCUMENTS[seq // 100 % len(FOREIGN_DOCUMENTS)]
            number = {"passport": "E", "hk_macau_permit": "H", "taiwan_permit": ""}[id_type] + first17[6:14]
            if (id_type, number) not in self.used:
                self.used.add((id_type, number))
                return id_type, number
        return documents.DEFAULT_ID_TYPE, first17 + check_char(first17)

    def row(self, *, local: bool, born_from: int, born_to: int, region_code: str, **extra: Any) -> dict[str, Any]:
        pick = self.pick
        code, origin = ("330203", "浙江省宁波市海曙区高桥镇" + VILLAGE) if local else ORIGINS[pick(len(ORIGINS))]
        while True:  # an ID number is one person's
            born = date(born_from + pick(born_to - born_from), 1, 1) + timedelta(days=pick(365))
            first17 = f"{code}{born:%Y%m%d}{pick(1000):03d}"
            if first17 not in self.used:
                self.used.add(first17)
                break
        id_type, id_number = self.document(first17, local)
        phone = f"1{'35789'[pick(5)]}{pick(10**9):09d}"
        name = SURNAMES[pick(len(SURNAMES))] + GIVEN[pick(len(GIVEN))] + (GIVEN[pick(len(GIVEN))] if pick(10) < 7 else "")
        k = self.key
        return {"name": name, "id_type": id_type, "id_number_encrypted": k.seal(id_number),
                "id_number_digest": pii.digest("id", documents.digest_value(id_type, id_number), k),
                "phone_encrypted": k.seal(phone), "phone_digest": pii.digest("phone", phone, k), "pii_key": k.id,
                "registered_address": origin, "is_local": local, "region_code": region_code, "version": 1, **extra}


def _points(session: Session, village: Region, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """n building points inside the village, most of them packed around its first micro-grid."""
    outline = shapely.from_wkb(village.geometry_wkb)
    shapely.prepare(outline)
    core = session.scalars(select(Region).where(Region.code.startswith(village.code), Region.level == "microgrid")
                           .order_by(Region.code).limit(1)).first() or village
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(core.centroid_lat))
    lons: list[float] = []
    lats: list[float] = []
    x0, y0, x1, y1 = outline.bounds
    while len(lons) < n:
        k = 4 * (n - len(lons))
        in_core = rng.random(k) < CORE_SHARE
        cx = np.where(in_core, core.centroid_lon + rng.normal(0, CORE_SIGMA_M, k) / m_per_deg_lon, rng.uniform(x0, x1, k))
        cy = np.where(in_core, core.centroid_lat + rng.normal(0, CORE_SIGMA_M, k) / M_PER_DEG_LAT, rng.uniform(y0, y1, k))
        inside = shapely.contains_xy(outline, cx, cy)
        lons.extend(np.round(cx[inside], 7).tolist())
        lats.extend(np.round(cy[inside], 7).tolist())
    chains = locate_many(session, lons=np.array(lons[:n]), lats=np.array(lats[:n]))
    return np.array(lons[:n]), np.array(lats[:n]), [c[-1].code if c else village.code for c in chains]


def _units(use: str, floors: int, rng: np.random.Generator) -> list[tuple[str, str, int, float]]:
    """(number, kind, floor, area m²) of a building's units."""
    out: list[tuple[str, str, int, float]] = []
    for floor in range(1, floors + 1):
        if use in ("shop", "mixed") and floor == 1:
            out += [(f"{floor}0{i}", "shop", floor, float(rng.integers(20, 60))) for i in range(1, 1 + int(rng.integers(1, 4)))]
        elif use == "workshop" and floor <= 2:
            out.append((f"{floor}01", "workshop", floor, float(rng.integers(100, 400))))
        elif use == "workshop":
            out.append((f"{floor}01", "dorm", floor, float(rng.integers(30, 70))))
        elif use == "shop":
            out.append((f"{floor}01", "flat", floor, float(rng.integers(50, 90))))
        else:
            rooms = int(rng.integers(5, 11))
            for i in range(1, rooms + 1):
                flat = rng.random() < 0.12
                out.append((f"{floor}{i:02d}", "flat" if flat else "room", floor,
                            float(rng.integers(40, 90) if flat else rng.integers(8, 26))))
    return out


def _occupants(kind: str, area: float, rng: np.random.Generator) -> int:
    limit = max(1, int(area // checklist().occupancy.min_area_per_person_m2))
    if kind in ("shop", "workshop"):
        return 0
    if rng.random() < 0.08:  # empty for now
        return 0
    if rng.random() < 0.04:  # a crowded one (群租)
        return limit + int(rng.integers(1, 4))
    if kind == "dorm":
        return int(rng.integers(max(2, limit - 6), limit + 1))
    n = int(rng.integers(2, 6)) if kind == "flat" else (1, 1, 2, 2, 2, 3)[int(rng.random() * 6)]
    return min(n, limit)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, dtime(hour), tzinfo=SHANGHAI).astimezone(UTC)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]], with_ids: bool = False) -> list[int]:
    """Insert in bulk. `with_ids`: the rows get explicit ids (returned) — RETURNING with a guaranteed
    order is quadratic on SQLite at this size; `_resume_sequences` lets PostgreSQL carry on after them."""
    if not rows:
        return []
    ids: list[int] = []
    if with_ids:
        base = (session.scalar(select(func.max(model.id))) or 0) + 1
        ids = list(range(base, base + len(rows)))
        for row, row_id in zip(rows, ids):
            row["id"] = row_id
    # One key set for every row: Core then sends one executemany (the ORM splits on differing keys).
    keys = set().union(*rows)
    session.execute(insert(model.__table__), [{k: row.get(k) for k in keys} for row in rows])
    return ids


def _resume_sequences(session: Session, *models: Any) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"))


def _floating(session: Session, village_code: str) -> int:
    return session.scalar(
        select(func.count(func.distinct(Registration.person_id))).join(Person, Person.id == Registration.person_id)
        .where(Registration.region_code.startswith(village_code), Registration.status == "active",
               Person.is_local.is_(False))) or 0


def generate_housing(
    engine_or_session_factory: Engine | Callable[[], Session], *, seed: int = 2026, village: str = VILLAGE,
    buildings: int = 640, floating: int = 30_000, progress: Progress | None = None,
) -> HousingDemoResult:
    """Write the village's housing registry (once per database); see the module's docstring."""
    started = time.perf_counter()
    factory = (session_factory(engine_or_session_factory) if isinstance(engine_or_session_factory, Engine)
               else engine_or_session_factory)

    def report(label: str, done: int, total: int) -> None:
        if progress is not None:
            progress(label, done, total)

    with transaction(factory) as session:
        place = session.scalars(select(Region).where(Region.name == village, Region.level == "village")).first()
        if place is None:
            return HousingDemoResult(village, skipped=True)
        if get_meta(session, HOUSING_KEY):
            # Re-loading the regions resets the village's figures: give it the registry's count again.
            place.floating_population = _floating(session, place.code)
            return HousingDemoResult(village, skipped=True)
        rng = np.random.default_rng([seed, 0x485553])
        today = today_local()
        actor = system_actor(session, name="演示数据 demo")
        label = f"生成{village}房屋与人口"
        report(label, 0, 6)
        lons, lats, codes = _points(session, place, buildings, rng)
        people = _People(rng)
        policy = housing_policy()

        # Owners (local families, one household each) and the management companies.
        n_owners = max(1, int(buildings * 0.72))
        owner_of = np.concatenate([np.arange(n_owners), rng.integers(0, n_owners, buildings - n_owners)])
        rng.shuffle(owner_of)
        first_code = {int(o): codes[i] for i, o in reversed(list(enumerate(owner_of)))}
        households = _insert(session, Household, [{"kind": "registered", "unit_id": None, "region_code": first_code[o]}
                                                  for o in range(n_owners)], with_ids=True)
        owners = _insert(session, Person, [people.row(local=True, born_from=1950, born_to=1985, region_code=first_code[o],
                                                      household_id=households[o], relation="head")
                                           for o in range(n_owners)], with_ids=True)
        companies = [resolve_party(session, actor, PartyInput("org", name), place.code)[1] for name in COMPANIES]
        report(label, 1, 6)

        # Buildings and their units.
        uses = rng.choice([u for u, _ in USES], size=buildings, p=[p for _, p in USES])
        duties = list(policy.manager_duties)
        rows = []
        for i in range(buildings):
            use = str(uses[i])
            floors = int(rng.integers(1, 4) if use == "workshop" else rng.integers(2, 5) if use == "shop"
                         else rng.integers(3, 7))
            company = companies[int(rng.integers(len(companies)))] if rng.random() < 0.3 else None
            rows.append({
                "address": f"{village}{ROADS[int(rng.integers(len(ROADS)))]}{i + 1}号", "lon": float(lons[i]),
                "lat": float(lats[i]), "region_code": codes[i], "use": use, "floors": floors,
                "construction": "steel" if use == "workshop" and rng.random() < 0.5 else
                ("simple" if rng.random() < 0.05 else str(rng.choice(["brick_concrete", "reinforced_concrete"]))),
                "owner_person_id": owners[int(owner_of[i])], "owner_org_id": None,
                "manager_person_id": None if company else owners[int(owner_of[i])], "manager_org_id": company,
                "manager_duties": duties[:2] + [d for d in duties[2:] if rng.random() < 0.5], "version": 1,
            })
        building_ids = _insert(session, Building, rows, with_ids=True)
        session.execute(update(Building), [{"id": b, "code": building_code(r["region_code"], b)}
                                           for b, r in zip(building_ids, rows)])
        unit_rows, unit_meta = [], []
        for b, r in zip(building_ids, rows):
            for number, kind, floor, area in _units(r["use"], r["floors"], rng):
                unit_rows.append({"building_id": b, "number": number, "kind": kind, "floor": floor, "area_m2": area,
                                  "rental_status": "vacant", "version": 1})
                unit_meta.append(r["region_code"])
        occupancy = [_occupants(u["kind"], u["area_m2"], rng) for u in unit_rows]
        order = rng.permutation(len(unit_rows))
        total = 0
        for j in order:  # keep to the target: the rest stand empty
            if total + occupancy[j] > floating:
                occupancy[j] = 0
            total += occupancy[j]
        for u, n in zip(unit_rows, occupancy):
            u["rental_status"] = "rented" if n else ("business" if u["kind"] in ("shop", "workshop") else "vacant")
        unit_ids = _insert(session, Unit, unit_rows, with_ids=True)
        report(label, 2, 6)

        # The floating population: families in flats share a household.
        family_units = [j for j, u in enumerate(unit_rows) if u["kind"] == "flat" and occupancy[j] >= 2]
        family_hh = dict(zip(family_units, _insert(session, Household, [
            {"kind": "floating", "unit_id": unit_ids[j], "region_code": unit_meta[j]} for j in family_units],
            with_ids=True)))
        person_rows, reg_rows = [], []
        relations = ("head", "spouse", "child", "child", "parent")
        for j, n in enumerate(occupancy):
            for k in range(n):
                hh = family_hh.get(j)
                person_rows.append(people.row(local=False, born_from=1962, born_to=2007, region_code=unit_meta[j],
                                              unit_id=unit_ids[j], household_id=hh,
                                              relation=relations[min(k, 4)] if hh else None))
                start = today - timedelta(days=int(rng.integers(5, 1100)))
                roll = rng.random()
                end = (None if roll < 0.06 else today - timedelta(days=int(rng.integers(1, 120))) if roll < 0.10
                       else today + timedelta(days=int(rng.integers(10, 365))))
                reg_rows.append({"unit_id": unit_ids[j], "building_id": unit_rows[j]["building_id"],
                                 "region_code": unit_meta[j], "purpose": PURPOSES[rng.integers(len(PURPOSES))],
                                 "start_date": start, "end_date": end, "status": "active", "version": 1})
        n_ended = int(len(reg_rows) * 0.3)
        for _ in range(n_ended):  # people who lived here and left
            j = int(rng.integers(len(unit_rows)))
            start = today - timedelta(days=int(rng.integers(200, 1500)))
            ended = min(today - timedelta(days=1), start + timedelta(days=int(rng.integers(90, 700))))
            person_rows.append(people.row(local=False, born_from=1962, born_to=2005, region_code=unit_meta[j]))
            reg_rows.append({"unit_id": unit_ids[j], "building_id": unit_rows[j]["building_id"],
                             "region_code": unit_meta[j], "purpose": "work", "start_date": start,
                             "end_date": start + timedelta(days=365), "status": "ended", "ended_on": ended,
                             "end_reason": END_REASONS[int(rng.integers(len(END_REASONS)))], "version": 1})
        report(label, 3, 6)
        person_ids = _insert(session, Person, person_rows, with_ids=True)
        for r, p in zip(reg_rows, person_ids):
            r["person_id"] = p
        _insert(session, Registration, reg_rows)
        report(label, 4, 6)

        # Four months of inspections: most put right at re-inspection, some still open, a few overdue.
        items = {i.key: i for i in checklist().items}
        inspected = rng.choice(len(building_ids), size=int(buildings * 0.35), replace=False)
        ins_rows, outcomes = [], []
        for i in inspected:
            day = today - timedelta(days=int(rng.integers(1, 120)))
            keys = [k for k in FAIL_RATE if "building" in items[k].applies_to
                    and (k != "three_in_one" or rows[i]["use"] in ("mixed", "workshop"))]
            failed = [k for k in keys if rng.random() < FAIL_RATE[k]]
            ins_rows.append({"building_id": building_ids[i], "unit_id": None, "region_code": rows[i]["region_code"],
                             "inspector_name": "网格员·钱晓", "inspected_at": _at(day),
                             "checklist_version": checklist().version, "occupants": None, "passed": not failed,
                             "answers": {k: {"ok": k not in failed, "note": None} for k in keys}})
            outcomes.append((i, day, failed))
        ins_ids = _insert(session, Inspection, ins_rows, with_ids=True)
        _resume_sequences(session, Household, Person, Building, Unit, Inspection)
        finding_rows = []
        for ins_id, (i, day, failed) in zip(ins_ids, outcomes):
            for k in failed:
                deadline = day + timedelta(days=items[k].rectify_days)
                fixed = deadline < today and rng.random() < 0.7
                finding_rows.append({"inspection_id": ins_id, "building_id": building_ids[i], "unit_id": None,
                                     "region_code": rows[i]["region_code"], "item": k, "status": "resolved" if fixed else "open",
                                     "deadline": deadline, "resolved_at": _at(deadline, 15) if fixed else None})
        _insert(session, Finding, finding_rows)
        report(label, 5, 6)

        # A dozen overdue findings go to the command center as events, the way a grid worker does it.
        worker = session.scalar(select(User).where(User.username == "gridworker"))
        session.execute(update(Inspection).where(Inspection.id.in_(ins_ids)).values(
            inspector_id=worker.id if worker else None))
        overdue = session.scalars(select(Finding.id).where(Finding.region_code.startswith(place.code),
                                                           Finding.status == "open", Finding.deadline < today)
                                  .order_by(Finding.deadline).limit(12)).all()
        for finding_id in overdue:
            escalate_finding(session, actor=actor, finding_id=finding_id)
        floating_now = len(reg_rows) - n_ended
        place.floating_population = _floating(session, place.code)
        result = HousingDemoResult(
            village, buildings=buildings, units=len(unit_rows), floating=floating_now, ended=n_ended,
            inspections=len(ins_rows), open_findings=sum(f["status"] == "open" for f in finding_rows),
            events=len(overdue))
        audit.record(session, action="demo.housing", actor_name="演示数据 demo", target_type="housing",
                     region_code=place.code, after={"seed": seed, **{k: v for k, v in result.__dict__.items()
                                                                     if isinstance(v, int) and not isinstance(v, bool)}})
        set_meta(session, HOUSING_KEY, f"seed={seed} village={place.code} buildings={buildings} floating={floating_now}")
        report(label, 6, 6)
    return HousingDemoResult(**{**result.__dict__, "seconds": time.perf_counter() - started})
