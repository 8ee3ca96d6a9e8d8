"""The demo's 1+X alliances at the scale of 海曙区's: `create_demo_alliances`.

What it makes: a party organization for the district, each town and each village; 139 alliances
(one led by each of the 17 town / street party committees, 122 by village party organizations)
bringing in 3,320 member units — agencies' branches, schools and clinics, state and private
enterprises, social organizations — with their joining dates, some second memberships and some
history (units that left, units that left and rejoined); 14 CPPCC members paired with the
villages of 洞桥镇 in 20 pairings; a new local elite per village; a contact for every body
(phone encrypted); then the resource, need and project lists (`alliance_lists`).

Rows go in with explicit ids as bulk inserts in one transaction, with one audit row for the lot.
Same seed and same end (the history's, when there is one), same data. Runs once per database.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from shanzhi.accounts.crypto import encrypt_text
from shanzhi.audit import service as audit
from shanzhi.db import get_meta, session_factory, set_meta, transaction, utcnow
from shanzhi.demo import alliance_words as words
from shanzhi.demo.alliance_lists import Lists
from shanzhi.demo.history import HISTORY_KEY
from shanzhi.demo.people import DEMO_PEOPLE
from shanzhi.geo.models import Region
from shanzhi.orgs.alliance_models import Alliance, AllianceMember, AllianceVillage
from shanzhi.orgs.list_models import (
    Need,
    Project,
    ProjectMilestone,
    ProjectNote,
    ProjectResource,
    Resource,
)
from shanzhi.orgs.models import Organization, OrgContact, OrgVillage
from shanzhi.orgs.policy import orgs_policy

__all__ = ["ALLIANCES_KEY", "AlliancesResult", "create_demo_alliances"]

Progress = Callable[[str, int, int], None]
ALLIANCES_KEY = "demo_alliances"
VILLAGE_LED = 122  # + one per town or street = 139
UNIT_MIX = {"government_agency": 260, "public_institution": 400, "state_enterprise": 200,
            "private_enterprise": 1860, "social_organization": 600}  # 3,320
CPPCC_MEMBERS, PAIRINGS, PAIRING_TOWN = 14, 20, "洞桥镇"
FOUNDED = (date(2021, 7, 1), date(2024, 6, 30))  # when the alliances were set up
# Codes read {prefix}-{region code}-{n} (organizations.code holds 32 characters): DW-330203105201-1.
CODE_PREFIX = {"party_org": "DW", "government_agency": "JG", "public_institution": "SY", "state_enterprise": "GQ",
               "private_enterprise": "QY", "social_organization": "SH", "cppcc_member": "ZX", "new_local_elite": "XX"}


@dataclass(frozen=True)
class AlliancesResult:
    alliances: int = 0
    pairings: int = 0
    units: int = 0
    spells: int = 0
    orgs: int = 0
    resources: int = 0
    needs: int = 0
    projects: int = 0
    met: int = 0
    seconds: float = 0.0
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return "联建演示数据已存在，未重复生成"
        return (f"联建 {self.alliances} 个（成员单位 {self.units:,} 家，成员记录 {self.spells:,} 条），"
                f"结对 {self.pairings} 对；新建组织 {self.orgs:,} 个；资源 {self.resources:,} 项、"
                f"需求 {self.needs:,} 项"
                f"（已解决 {self.met:,}）、项目 {self.projects:,} 个；用时 {self.seconds:.1f} 秒")


@dataclass
class Place:
    id: int
    code: str
    name: str
    level: str
    village_type: str | None
    population: int | None
    geometry: Any


@dataclass(frozen=True)
class Made:
    """An alliance as the member assignment needs it."""

    id: int
    start: date
    covered: list[Place]
    lead: int
    home: Place  # where it sits: its town, or its lead village


@dataclass
class Tables:
    """The rows to insert, per table, as dicts of column values."""

    rows: dict[Any, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    next_id: dict[Any, int] = field(default_factory=dict)

    def add(self, model: Any, **values: Any) -> int:
        if "id" in model.__table__.c:
            values["id"] = self.next_id[model]
            self.next_id[model] += 1
        self.rows[model].append(values)
        return values.get("id", 0)


class Builder:
    def __init__(self, session: Session, seed: int, end: datetime) -> None:
        self.session, self.end, self.today = session, end, (end + timedelta(hours=8)).date()
        self.rng = random.Random(f"alliances:{seed}")
        self.np = np.random.default_rng([seed % 2**32, 139])
        self.t = Tables()
        for model in (Organization, OrgContact, Alliance, AllianceMember, Resource, Need, Project,
                      ProjectMilestone, ProjectNote):
            self.t.next_id[model] = (session.scalar(select(func.max(model.id))) or 0) + 1
        rows = session.execute(select(Region.id, Region.code, Region.name, Region.level, Region.village_type,
                                      Region.population, Region.geometry_wkb)
                               .where(Region.level.in_(("district", "town", "village"))).order_by(Region.code)).all()
        geoms = shapely.from_wkb([r.geometry_wkb for r in rows])
        places = [Place(r.id, r.code, r.name, r.level, r.village_type, r.population, g) for r, g in zip(rows, geoms)]
        self.district = next(p for p in places if p.level == "district")
        self.towns = [p for p in places if p.level == "town"]
        self.villages = [p for p in places if p.level == "village"]
        self.villages_of: dict[str, list[Place]] = defaultdict(list)
        for v in self.villages:
            self.villages_of[v.code[:9]].append(v)
        self.codes = set(session.scalars(select(Organization.code)))
        self.kind_of: dict[int, str] = {}
        self.region_of: dict[int, Place] = {}
        self.covering: dict[str, set[int]] = defaultdict(set)  # village code → orgs in alliances covering it
        self.offers: dict[int, str] = {}  # CPPCC member → the resource kind of their profession
        person = next((p for p in DEMO_PEOPLE if p.role == "alliance_unit" and p.org), None)
        org = session.scalar(select(Organization.id).where(Organization.code == person.org)) if person else None
        village = next((v for v in self.villages if person and v.name == person.place[-1]), None)
        self.account = (org, village) if org is not None and village is not None else None

    # -- organizations --------------------------------------------------------------------

    def point(self, place: Place) -> tuple[float, float]:
        x0, y0, x1, y1 = place.geometry.bounds
        while True:
            xs, ys = self.np.uniform(x0, x1, 16), self.np.uniform(y0, y1, 16)
            inside = shapely.contains_xy(place.geometry, xs, ys)
            if inside.any():
                i = int(np.argmax(inside))
                return round(float(xs[i]), 6), round(float(ys[i]), 6)

    def org(self, kind: str, name: str, place: Place, *, level: str | None = None, located: bool = True,
            title: str = "负责人") -> int:
        n, prefix = 1, CODE_PREFIX[kind]
        while f"{prefix}-{place.code}-{n}" in self.codes:
            n += 1
        code = f"{prefix}-{place.code}-{n}"
        self.codes.add(code)
        lon, lat = self.point(place) if located else (None, None)
        org_id = self.t.add(Organization, code=code, name=name, kind=kind, region_id=place.id, level=level,
                            lon=lon, lat=lat, address=None, description=None,
                            created_at=self.end - timedelta(days=self.rng.randint(400, 1500)), updated_at=None)
        self.t.add(OrgContact, org_id=org_id, name=words.person(self.rng), title=title,
                   phone_encrypted=encrypt_text(words.phone(self.rng)), created_at=self.end - timedelta(days=400))
        self.kind_of[org_id], self.region_of[org_id] = kind, place
        return org_id

    def party(self) -> tuple[dict[str, int], dict[str, int]]:
        self.org("party_org", "中共宁波市海曙区委员会", self.district, level="district", located=False, title="联络员")
        towns = {t.code: self.org("party_org", words.town_party_org(t.name), t, level="town", located=False,
                                  title="组织委员") for t in self.towns}
        villages = {v.code: self.org("party_org", words.village_party_org(v.name, v.population), v, level="village",
                                     located=False, title="党组织书记") for v in self.villages}
        return towns, villages

    def units(self) -> list[int]:
        """3,320 member units, each placed in a town or a village, with a unique name."""
        rng, towns, names = self.rng, self.towns, set()
        out: list[int] = []

        def add(kind: str, name: str, place: Place, title: str = "负责人") -> None:
            if name not in names:
                names.add(name)
                out.append(self.org(kind, name, place, title=title))

        combos = [(d, s, t) for d, s in words.DEPARTMENTS for t in towns]
        for d, s, t in rng.sample(combos, UNIT_MIX["government_agency"]):
            add("government_agency", f"海曙区{d}{words.short(t.name)}{s}", t, "站所负责人")
        town_inst = [(f"海曙区{t.name}{i}", t) for t in towns for i in words.TOWN_INSTITUTIONS]
        village_inst = [(f"{v.name}{i}", v) for v in self.villages for i in words.VILLAGE_INSTITUTIONS]
        for name, place in rng.sample(town_inst, 120) + rng.sample(village_inst, UNIT_MIX["public_institution"] - 120):
            add("public_institution", name, place, "负责人")
        firms = [(f.format(s=words.short(t.name)), t) for f in words.STATE_FIRMS for t in towns]
        for name, place in rng.sample(firms, UNIT_MIX["state_enterprise"]):
            add("state_enterprise", name, place, "支部书记")
        social = [(f"海曙区{t.name}{x}", t) for t in towns for x in words.SOCIAL_TOWN]
        social_v = [(f"{v.name}{x}", v) for v in self.villages for x in words.SOCIAL_VILLAGE]
        for name, place in rng.sample(social, 150) + rng.sample(social_v, UNIT_MIX["social_organization"] - 150):
            add("social_organization", name, place, "会长")
        weights = [len(self.villages_of[t.code]) + 8 for t in towns]
        while len(out) < sum(UNIT_MIX.values()) - (self.account is not None):
            town = rng.choices(towns, weights=weights)[0]
            villages = self.villages_of[town.code]
            place = rng.choice(villages) if villages and rng.random() < 0.65 else town
            add("private_enterprise", words.enterprise(rng), place, "总经理")
        return out

    # -- alliances ------------------------------------------------------------------------

    def started(self) -> date:
        lo, hi = FOUNDED
        return lo + timedelta(days=self.rng.randrange((hi - lo).days))

    def alliance(self, kind: str, code: str, name: str, lead: int | None, place: Place, villages: list[Place],
                 start: date, charter: str | None) -> int:
        aid = self.t.add(Alliance, code=code, kind=kind, name=name, lead_org_id=lead, region_id=place.id,
                         charter=charter, started_on=start, ended_on=None, status="active", version=1,
                         created_at=datetime.combine(start, datetime.min.time(), UTC), updated_at=None)
        for v in villages:
            self.t.add(AllianceVillage, alliance_id=aid, region_id=v.id)
        return aid

    def spell(self, aid: int, org: int, joined: date, left: date | None = None, role: str | None = None) -> None:
        self.t.add(AllianceMember, alliance_id=aid, org_id=org, joined_on=joined, left_on=left, role=role,
                   created_at=datetime.combine(joined, datetime.min.time(), UTC))

    def alliances(self, town_leads: dict[str, int], village_leads: dict[str, int], units: list[int]) -> int:
        rng, labels = self.rng, orgs_policy().resource_kinds
        leading = sorted(rng.sample(self.villages, VILLAGE_LED), key=lambda v: v.code)
        led = {v.code for v in leading}
        made: dict[str, list[Made]] = defaultdict(list)  # town code → its alliances, the town's first
        for t in self.towns:
            own = [v for v in self.villages_of[t.code] if v.code not in led]
            extra = [v for v in self.villages_of[t.code] if v.code in led]
            covered = sorted(own + rng.sample(extra, min(2, len(extra))), key=lambda v: v.code)
            start, name = self.started(), f"{t.name}“{rng.choice(words.ALLIANCE_WORDS)}”党建联盟"
            focus = [labels[k] for k in rng.sample(sorted(labels), 3)]
            aid = self.alliance("alliance", f"LJ-{t.code}-1", name, town_leads[t.code], t, covered, start,
                                words.charter(name, words.town_party_org(t.name), focus))
            made[t.code].append(Made(aid, start, covered, town_leads[t.code], t))
        for v in leading:
            siblings = self.villages_of[v.code[:9]]
            covered = [v]
            if rng.random() < 0.15 and len(siblings) > 1:
                covered.append(siblings[(siblings.index(v) + 1) % len(siblings)])
            start, name = self.started(), f"{v.name}“{rng.choice(words.ALLIANCE_WORDS)}”党建联建"
            focus = [labels[k] for k in rng.sample(sorted(labels), 2)]
            aid = self.alliance("alliance", f"LJ-{v.code}-1", name, village_leads[v.code], v,
                                sorted(covered, key=lambda p: p.code), start,
                                words.charter(name, words.village_party_org(v.name, v.population), focus))
            made[v.code[:9]].append(Made(aid, start, covered, village_leads[v.code], v))
        for items in made.values():  # a lead covers its villages too (matching's alliance factor)
            for m in items:
                for v in m.covered:
                    self.covering[v.code].add(m.lead)
        self._members(made, units)
        self._demo_account(made)
        return len(self.towns) + len(leading)

    def _demo_account(self, made: dict[str, list[Made]]) -> None:
        """The demo's alliance-unit login (海曙区人民医院 at 深溪村) is one of the 3,320: a member of
        the alliance covering its village."""
        if self.account is None:
            return
        org, village = self.account
        alliance = next((m for items in made.values() for m in items if village in m.covered), None)
        if alliance is not None:
            self.spell(alliance.id, org, alliance.start, None, "医疗服务")
            self.covering[village.code].add(org)
            self.t.add(OrgVillage, org_id=org, region_id=village.id)

    def _members(self, made: dict[str, list[Made]], units: list[int]) -> None:
        """Each unit joins an alliance of its town: its village's own when it has one, else the
        town's; a few join a second, some left one before, a few left and came back."""
        rng = self.rng
        own = {m.home.code: m for items in made.values() for m in items[1:]}
        for org in units:
            place = self.region_of[org]
            options = made[place.code[:9]]
            if place.code in own and rng.random() < 0.75:
                first = own[place.code]
            elif place.level == "town" and len(options) > 1 and rng.random() < 0.55:
                first = rng.choice(options[1:])
            else:
                first = options[0]
            span = max(1, (self.today - first.start).days - 60)
            joined = first.start if rng.random() < 0.6 else first.start + timedelta(days=rng.randrange(span))
            role = rng.choice(("资源共享", "结对帮扶", "志愿服务", "项目共建", None))
            if rng.random() < 0.015:  # left and rejoined
                left = joined + timedelta(days=rng.randint(60, 240))
                self.spell(first.id, org, joined, left, role)
                joined = left + timedelta(days=rng.randint(30, 200))
            self.spell(first.id, org, min(joined, self.today), None, role)
            for v in first.covered:
                self.covering[v.code].add(org)
            for v in first.covered[:3]:
                self.t.add(OrgVillage, org_id=org, region_id=v.id)
            others = [m for m in options if m.id != first.id]
            if others and rng.random() < 0.06:
                second = rng.choice(others)
                self.spell(second.id, org, min(second.start + timedelta(days=rng.randint(30, 300)), self.today),
                           None, "结对帮扶")
                for v in second.covered:
                    self.covering[v.code].add(org)
            elif others and rng.random() < 0.04:
                past = rng.choice(others)
                joined2 = past.start + timedelta(days=rng.randint(0, 200))
                self.spell(past.id, org, joined2, joined2 + timedelta(days=rng.randint(120, 400)), None)

    def pairings(self) -> list[tuple[int, Place]]:
        """14 CPPCC members paired with 洞桥镇's villages in 20 pairings (all of them, some twice)."""
        rng = self.rng
        town = next(t for t in self.towns if t.name == PAIRING_TOWN)
        villages = self.villages_of[town.code]
        members = []
        for i in range(CPPCC_MEMBERS):
            profession, kind = words.PROFESSIONS[i % len(words.PROFESSIONS)]
            name = words.person(rng)
            org = self.org("cppcc_member", f"{name}（区政协委员·{profession}）", self.district, located=False,
                           title="本人")
            self.offers[org] = kind
            members.append((org, name))
        out: list[tuple[int, Place]] = []
        for i in range(PAIRINGS):
            org, name = members[i % CPPCC_MEMBERS]
            village = villages[i % len(villages)]
            n = sum(1 for _, v in out if v.code == village.code) + 1
            start = date(2025, 1, 1) + timedelta(days=rng.randrange(60))
            aid = self.alliance("pairing", f"JD-{village.code}-{n}", f"{name}委员结对{village.name}", None, village,
                                [village], start, None)
            self.spell(aid, org, start, None, "委员结对")
            self.t.add(OrgVillage, org_id=org, region_id=village.id)
            self.covering[village.code].add(org)
            out.append((org, village))
        return out

    def elites(self) -> None:
        for v in self.villages:
            role = self.rng.choice(words.ELITE_ROLES)
            org = self.org("new_local_elite", f"{words.person(self.rng)}（新乡贤·{role}）", v, title="本人")
            self.t.add(OrgVillage, org_id=org, region_id=v.id)

    # -- writing --------------------------------------------------------------------------

    def write(self, progress: Progress) -> None:
        order = (Organization, OrgContact, OrgVillage, Alliance, AllianceMember, AllianceVillage, Resource, Need,
                 Project, ProjectResource, ProjectMilestone, ProjectNote)
        for i, model in enumerate(order, 1):
            rows = self.t.rows.get(model, [])
            for a in range(0, len(rows), 5000):
                self.session.execute(insert(model.__table__), rows[a:a + 5000])
            progress("写入联建演示数据", i, len(order))
        if self.session.get_bind().dialect.name == "postgresql":
            # The rows came with explicit ids: the id sequences must carry on after them.
            for model in self.t.next_id:
                table = model.__tablename__
                self.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                          f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"))


def _end(session: Session) -> datetime:
    """The history's end (so needs raised from its events come after them), else now."""
    mark = get_meta(session, HISTORY_KEY) or ""
    for part in mark.split():
        if part.startswith("end="):
            return datetime.fromisoformat(part[4:]).astimezone(UTC)
    return utcnow().replace(microsecond=0)


def create_demo_alliances(
    engine_or_factory: Engine | Callable[[], Session], *, seed: int = 2026, progress: Progress | None = None,
) -> AlliancesResult:
    """Write the demo's organizations, alliances and lists, once per database, in one transaction."""
    started = time.perf_counter()
    factory = session_factory(engine_or_factory) if isinstance(engine_or_factory, Engine) else engine_or_factory
    report = progress or (lambda *_: None)
    with transaction(factory) as session:
        if get_meta(session, ALLIANCES_KEY):
            return AlliancesResult(skipped=True)
        if not session.scalar(select(func.count()).select_from(Region).where(Region.level == "village")):
            raise LookupError("load the demo regions first")
        b = Builder(session, seed, _end(session))
        report("生成联建演示数据", 0, 4)
        towns, villages = b.party()
        units = b.units()
        alliances = b.alliances(towns, villages, units)
        report("生成联建演示数据", 1, 4)
        pairings = b.pairings()
        b.elites()
        report("生成联建演示数据", 2, 4)
        lists = Lists(b, pairings)
        lists.build()
        report("生成联建演示数据", 3, 4)
        b.write(report)
        spells = len(b.t.rows[AllianceMember])
        result = AlliancesResult(alliances=alliances, pairings=len(pairings),
                                 units=len(units) + (b.account is not None), spells=spells,
                                 orgs=len(b.t.rows[Organization]), resources=len(b.t.rows[Resource]),
                                 needs=len(b.t.rows[Need]), projects=len(b.t.rows[Project]),
                                 met=sum(1 for n in b.t.rows[Need] if n["status"] == "met"))
        audit.record(session, action="demo.alliances", actor_name="演示数据 demo", target_type="alliances",
                     region_code=b.district.code,
                     after={**{k: v for k, v in result.__dict__.items() if k not in ("seconds", "skipped")},
                            "seed": seed})
        set_meta(session, ALLIANCES_KEY, f"seed={seed} alliances={alliances} units={len(units)}")
        report("生成联建演示数据", 4, 4)
    return AlliancesResult(**{**result.__dict__, "seconds": time.perf_counter() - started})
