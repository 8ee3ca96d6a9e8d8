"""The demo's grid people and a month of their patrol logs: `create_demo_gridpeople`.

What it makes (demo district): a 网格长 for most grids and a 网格员 for nearly all; a 微网格长 for
most micro-grids — each village covers its grids and micro-grids at its own rate, so a realistic
few stay uncovered and the coverage report has something to say; 民情联络员 at 0.8–3 per 1,000
residents per village (a few villages have none yet); 1–3 mediators per village (of its 人民调解委员会)
and 2–4 per town. Some grids changed leader: the predecessor's assignment is ended, kept as history.
The demo accounts that patrol are grid people too: `cadre` leads the first grid of 藕缆桥村,
`gridworker`, `liaison` and `mediator` serve where their accounts are scoped.

Patrol logs: a routine month for every grid worker, micro-grid leader and liaison (mostly
"nothing found", some visits, some small matters settled on the spot), and — when the event
history is loaded — one log for every 网格巡查 event of its last week, by the grid worker whose
name the history gave it (`history_texts.Words.person`), linked to the event.

Deterministic for a seed and the history's end (or today without history); written in bulk in one
transaction with one audit row; runs once per database (an app_meta mark), like the history.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from shanzhi.accounts.crypto import encrypt_text
from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.audit import service as audit
from shanzhi.db import SHANGHAI, as_utc, get_meta, local_time, session_factory, set_meta, transaction, utcnow
from shanzhi.demo.history import HISTORY_KEY
from shanzhi.demo.history_texts import Words
from shanzhi.demo.names import SURNAMES
from shanzhi.events.models import Event
from shanzhi.geo.models import Region
from shanzhi.geo.service import locate_many
from shanzhi.gridpeople.models import GridAssignment, GridPerson, PatrolLog
from shanzhi.gridpeople.policy import gridpeople_policy
from shanzhi.orgs.models import Organization

__all__ = ["GRIDPEOPLE_KEY", "GridPeopleResult", "create_demo_gridpeople"]

Progress = Callable[[str, int, int], None]
GRIDPEOPLE_KEY = "demo_gridpeople"  # app_meta: set once the grid people are written
ROUTINE_DAYS = 30
LINKED_DAYS = 7
# Routine logs per person over ROUTINE_DAYS (Poisson means), by role.
LOGS_PER_MONTH = {"grid_worker": 3.0, "microgrid_leader": 0.5, "liaison": 0.7}
VISIT_SHARE = 0.2
FINDING_SHARE = 0.08

GIVEN = ("伟", "芳", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平",
         "刚", "燕", "建国", "海燕", "晓东", "丽君", "志强", "雪梅", "国平", "亚萍", "建华", "秀英", "桂英", "玉兰",
         "志明", "红霞", "海波", "国庆", "春燕", "卫东", "立新", "美华", "惠芬", "月娥", "宝根", "阿三", "善德",
         "永康", "伟民", "丽娟", "佩琴", "林峰", "文龙", "琴芬", "彩凤", "建平", "国芳", "海军", "金宝", "雅琴")
PATROLS = ("巡查正常，未发现问题", "巡查网格内主要道路和河道，未发现异常", "检查沿街店铺门前三包，情况良好",
           "巡查出租房集中区，消防通道畅通", "巡查工地周边，围挡完好，无扬尘", "巡查河道沿岸，水面清洁",
           "巡查垃圾分类投放点，分类基本规范", "夜间巡查重点区域，治安平稳", "巡查文化礼堂及周边，设施完好")
VISITS = ("走访独居老人，身体状况良好，无特殊需求", "走访低保户，了解近期生活情况", "走访新租户，已登记流动人口信息",
          "走访残疾人家庭，转达帮扶政策", "走访企业，宣传安全生产知识", "走访困难家庭，子女就学无困难",
          "入户走访，收集村民对道路改造的意见", "走访重点人员，情绪稳定")
# Small matters settled on the spot: (category, what was found and done).
FINDINGS = (("0102", "投放点垃圾分类不规范，已现场劝导"), ("0202", "村道车辆乱停放，已提醒车主挪车"),
            ("0103", "电线杆上有小广告，已现场清除"), ("0602", "楼道内电动车飞线充电，已劝导拆除"),
            ("0601", "楼道堆放杂物堵塞通道，已督促清理"), ("0105", "路边乱堆物料，已通知清理"),
            ("0901", "发现新入住租户未登记，已上门登记"))
# Demo accounts that are grid people: (username, role, where: "scope" or "first_grid" of the scope).
LINKED = (("cadre", "grid_leader", "first_grid"), ("gridworker", "grid_worker", "scope"),
          ("liaison", "liaison", "scope"), ("mediator", "mediator", "scope"))


@dataclass(frozen=True)
class GridPeopleResult:
    people: int = 0
    assignments: int = 0
    ended: int = 0
    patrols: int = 0
    linked_events: int = 0
    roles: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False  # the database had its grid people already

    def summary(self) -> str:
        if self.skipped:
            return "网格人员已存在，未重复生成"
        roles = "、".join(f"{label} {n:,}" for label, n in self.roles.items())
        return (f"网格人员 {self.people:,} 人（{roles}；已离任 {self.ended} 条任职记录），巡查走访记录 {self.patrols:,} 条"
                f"（其中 {self.linked_events:,} 条已转为事件），用时 {self.seconds:.1f} 秒")


class _Builder:
    """Collects people, assignments and logs as plain rows, in a deterministic order."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = np.random.default_rng([seed, 7007])
        self.today = today
        self.people: list[dict[str, Any]] = []
        self.assignments: list[tuple[int, str, int, date, date | None, str | None]] = []  # person index, …

    def person(self, home_id: int, name: str | None = None, org_id: int | None = None,
               user_id: int | None = None) -> int:
        rng = self.rng
        name = name or SURNAMES[rng.integers(len(SURNAMES))] + GIVEN[rng.integers(len(GIVEN))]
        phone = f"1{rng.choice([3, 5, 8])}{rng.integers(0, 10)}{rng.integers(0, 10**8):08d}"
        now = utcnow()
        self.people.append({"name": name, "phone_encrypted": encrypt_text(phone), "home_region_id": home_id,
                            "user_id": user_id, "org_id": org_id, "version": 1, "created_at": now, "updated_at": now})
        return len(self.people) - 1

    def start(self, oldest_days: int = 4 * 365, newest_days: int = 40) -> date:
        return self.today - timedelta(days=int(self.rng.integers(newest_days, oldest_days)))

    def assign(self, person: int, role: str, region_id: int, start: date | None = None,
               end: date | None = None, reason: str | None = None) -> None:
        self.assignments.append((person, role, region_id, start or self.start(), end, reason))


def _anchor(session: Session, now: datetime | None) -> datetime:
    """The demo's "now": given, or the end of the loaded event history, so logs and events line up."""
    if now is not None:
        return as_utc(now)  # type: ignore[return-value]
    mark = get_meta(session, HISTORY_KEY) or ""
    end = dict(part.split("=", 1) for part in mark.split() if "=" in part).get("end")
    return as_utc(datetime.fromisoformat(end)) if end else utcnow().replace(microsecond=0)  # type: ignore[return-value]


def _points(geom: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform points inside a polygon (rejection sampling in its bounding box)."""
    x0, y0, x1, y1 = geom.bounds
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        xs, ys = rng.uniform(x0, x1, 4 * n + 8), rng.uniform(y0, y1, 4 * n + 8)
        inside = shapely.contains_xy(geom, xs, ys)
        out.append(np.column_stack([xs[inside], ys[inside]]))
        have += int(inside.sum())
    return np.concatenate(out)[:n]


def create_demo_gridpeople(
    engine_or_session_factory: Engine | Callable[[], Session], *, seed: int = 2026, now: datetime | None = None,
    progress: Progress | None = None,
) -> GridPeopleResult:
    """Write the demo's grid people and patrol logs (needs the regions and units; links the demo
    accounts and the event history when they are there). `now` defaults to the history's end."""
    started = time.perf_counter()
    factory = (session_factory(engine_or_session_factory) if isinstance(engine_or_session_factory, Engine)
               else engine_or_session_factory)
    with transaction(factory) as session:
        if get_meta(session, GRIDPEOPLE_KEY):
            return GridPeopleResult(skipped=True)
        label = "生成网格人员"
        if progress:
            progress(label, 0, 3)
        now = _anchor(session, now)
        b = _Builder(seed, local_time(now).date())
        regions = session.execute(select(Region.id, Region.code, Region.level, Region.population)
                                  .order_by(Region.code)).all()
        by_code = {r.code: r for r in regions}
        children: dict[str, list[Any]] = defaultdict(list)
        for r in regions:
            if r.level != "district":
                children[r.code[:-3]].append(r)
        orgs = dict(session.execute(select(Organization.code, Organization.id)).tuples().all())
        linked = _linked_accounts(session, by_code, children)
        first_worker: dict[str, int] = {}  # village code → the grid worker the history names
        for town in (r for r in regions if r.level == "town"):
            _town(b, town, children, orgs, linked, first_worker)
        if progress:
            progress(label, 1, 3)
        person_ids = _insert_people(session, b)
        rows = [{"person_id": person_ids[p], "role": role, "region_id": rid, "start_date": s, "end_date": e,
                 "end_reason": why, "created_at": now, "ended_at": now if e else None}
                for p, role, rid, s, e, why in b.assignments]
        session.execute(insert(GridAssignment.__table__), rows)
        if progress:
            progress(label, 2, 3)
        logs, linked_events = _patrols(session, b, rows, now, {v: person_ids[p] for v, p in first_worker.items()})
        if logs:
            session.execute(insert(PatrolLog.__table__), logs)
        if progress:
            progress(label, 3, 3)
        roles: dict[str, int] = defaultdict(int)
        for row in rows:
            roles[row["role"]] += row["end_date"] is None
        policy = gridpeople_policy()
        result = GridPeopleResult(
            people=len(person_ids), assignments=len(rows), ended=sum(r["end_date"] is not None for r in rows),
            patrols=len(logs), linked_events=linked_events,
            roles={policy.label(name): roles[name] for name in policy.roles if roles[name]},
        )
        district = next(r.code for r in regions if r.level == "district")
        audit.record(session, action="demo.gridpeople", actor_name="演示数据 demo", target_type="grid_people",
                     region_code=district,
                     after={"people": result.people, "assignments": result.assignments, "ended": result.ended,
                            "patrols": result.patrols, "linked_events": linked_events, "seed": seed})
        set_meta(session, GRIDPEOPLE_KEY, f"seed={seed} people={result.people} patrols={result.patrols}")
    return GridPeopleResult(**{**result.__dict__, "seconds": time.perf_counter() - started})


def _linked_accounts(session: Session, by_code: dict[str, Any],
                     children: dict[str, list[Any]]) -> dict[tuple[str, str], tuple[int, str]]:
    """{(role, region code): (user id, name)} for the demo accounts that are grid people."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for username, role, where in LINKED:
        row = session.execute(
            select(User.id, User.display_name, Region.code)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .join(Region, Region.id == RoleAssignment.region_id)
            .where(User.username == username).order_by(RoleAssignment.id).limit(1)
        ).first()
        if row is None:
            continue
        code = row.code if where == "scope" else min(c.code for c in children[row.code])
        if code in by_code:
            out[(role, code)] = (row.id, row.display_name.split("·")[-1])
    return out


def _town(b: _Builder, town: Any, children: dict[str, list[Any]], orgs: dict[str, int],
          linked: dict[tuple[str, str], tuple[int, str]], first_worker: dict[str, int]) -> None:
    rng = b.rng

    def holder(role: str, region: Any, home_id: int, org_id: int | None = None, name: str | None = None,
               start: date | None = None) -> int:
        """A new person for the role here — the first one is the linked demo account, if any."""
        user = linked.pop((role, region.code), None)
        p = b.person(home_id, name=user[1] if user else name, org_id=org_id, user_id=user[0] if user else None)
        b.assign(p, role, region.id, start)
        return p

    town_mediation = orgs.get(f"town_mediation-{town.code}-1")
    for _ in range(int(rng.integers(2, 5))):
        holder("mediator", town, town.id, town_mediation)
    for village in children[town.code]:
        grids = children[village.code]
        grid_rate, micro_rate = rng.uniform(0.85, 1.0), rng.uniform(0.80, 1.0)
        for k, grid in enumerate(grids):
            if ("grid_leader", grid.code) in linked or rng.random() < grid_rate:
                start = b.start()
                if rng.random() < 0.1:  # a predecessor whose term ended: history
                    before = b.person(village.id)
                    b.assign(before, "grid_leader", grid.id, b.start(8 * 365, (b.today - start).days + 30),
                             start - timedelta(days=1), str(rng.choice(["换届调整", "工作调动", "个人原因辞任"])))
                holder("grid_leader", grid, village.id, start=start)
            if k == 0 or rng.random() < 0.97:
                # The first grid's worker carries the name the event history gives the village's worker.
                name = Words.person(village.code) if k == 0 else None
                p = holder("grid_worker", grid, village.id, orgs.get(f"grid_team-{village.code}-1"), name=name)
                first_worker.setdefault(village.code, p)
            for micro in children[grid.code]:
                if ("microgrid_leader", micro.code) in linked or rng.random() < micro_rate:
                    holder("microgrid_leader", micro, village.id)
                if ("grid_worker", micro.code) in linked:
                    holder("grid_worker", micro, village.id)
                if ("liaison", micro.code) in linked:
                    holder("liaison", micro, village.id)
            if ("liaison", grid.code) in linked:
                holder("liaison", grid, village.id)
        # Liaisons at 0.8–3 per 1,000 residents, a few villages still without; placed in its grids.
        ratio = 0.0 if rng.random() < 0.04 else rng.uniform(0.8, 3.0)
        places = [m for g in grids for m in [g, *children[g.code]]] or [village]
        for _ in range(round((village.population or 0) * ratio / 1000)):
            holder("liaison", places[int(rng.integers(len(places)))], village.id)
        mediation = orgs.get(f"village_mediation-{village.code}-1")
        for _ in range(int(rng.integers(1, 4))):
            holder("mediator", village, village.id, mediation)


def _insert_people(session: Session, b: _Builder) -> list[int]:
    table = GridPerson.__table__
    return list(session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), b.people).scalars())


def _patrols(session: Session, b: _Builder, assignments: list[dict[str, Any]], now: datetime,
             village_worker: dict[str, int]) -> tuple[list[dict[str, Any]], int]:
    """Routine logs for the month, then one per 网格巡查 event of the last week; returns (rows, linked)."""
    rng = b.rng
    codes = {r.id: (r.code, r.level) for r in session.execute(select(Region.id, Region.code, Region.level))}
    wanted: list[tuple[int, int, date]] = []  # (person id, region id, start date)
    for a in assignments:
        mean = LOGS_PER_MONTH.get(a["role"])
        if mean and a["end_date"] is None:
            wanted.extend([(a["person_id"], a["region_id"], a["start_date"])] * int(rng.poisson(mean)))
    # A village-level liaison walks the whole village: any of its grids.
    grids_of: dict[str, list[int]] = defaultdict(list)
    for rid, (code, level) in codes.items():
        if level == "grid":
            grids_of[code[:12]].append(rid)

    def walk(rid: int) -> int:
        code, level = codes[rid]
        grids = grids_of.get(code) if level == "village" else None
        return grids[int(rng.integers(len(grids)))] if grids else rid

    places = [walk(rid) for _, rid, _ in wanted]
    geoms = dict(zip(sorted(set(places)), shapely.from_wkb(session.scalars(
        select(Region.geometry_wkb).where(Region.id.in_(sorted(set(places)))).order_by(Region.id)).all())))
    by_place: dict[int, list[int]] = defaultdict(list)
    for i, rid in enumerate(places):
        by_place[rid].append(i)
    xy = np.zeros((len(wanted), 2))
    for rid, idx in by_place.items():
        xy[idx] = _points(geoms[rid], len(idx), rng)
    chains = locate_many(session, lons=xy[:, 0], lats=xy[:, 1]) if len(wanted) else []
    rows: list[dict[str, Any]] = []
    for i, (person, rid, start) in enumerate(wanted):
        first = max(start, b.today - timedelta(days=ROUTINE_DAYS - 1))
        day = first + timedelta(days=int(rng.integers(0, (b.today - first).days + 1)))
        minute = int(rng.integers(8 * 60, 18 * 60))  # working hours
        at = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(minutes=minute)
        at = min(as_utc(at), now)  # type: ignore[type-var]
        chain = chains[i]
        code = chain[-1].code if chain else codes[places[i]][0]
        kind = "visit" if rng.random() < VISIT_SHARE else "patrol"
        category, text = None, str(rng.choice(VISITS if kind == "visit" else PATROLS))
        if rng.random() < FINDING_SHARE:
            category, text = FINDINGS[int(rng.integers(len(FINDINGS)))]
        rows.append(_log_row(person, kind, at, float(xy[i, 0]) if chain else None,
                             float(xy[i, 1]) if chain else None, code, text, category, None))
    linked = 0
    since = now - timedelta(days=LINKED_DAYS)
    for e in session.execute(
        select(Event.id, Event.created_at, Event.lon, Event.lat, Event.region_code, Event.village_code, Event.text,
               Event.category_code)
        .where(Event.channel == "grid_worker", Event.created_at >= since, Event.created_at <= now)
        .order_by(Event.id)
    ):
        person = village_worker.get(e.village_code or "")
        if person is None:
            continue
        found = as_utc(e.created_at) - timedelta(minutes=int(rng.integers(2, 30)))
        rows.append(_log_row(person, "patrol", found, e.lon, e.lat, e.region_code, e.text, e.category_code, e.id))
        linked += 1
    rows.sort(key=lambda r: r["at"])
    return rows, linked


def _log_row(person: int, kind: str, at: datetime, lon: float | None, lat: float | None, code: str, text: str,
             category: str | None, event_id: int | None) -> dict[str, Any]:
    return {"person_id": person, "kind": kind, "at": at, "lon": lon, "lat": lat, "region_code": code,
            "town_code": code[:9] if len(code) >= 9 else None, "village_code": code[:12] if len(code) >= 12 else None,
            "text": text, "category_code": category, "event_id": event_id, "logged_by": None, "created_at": at}
