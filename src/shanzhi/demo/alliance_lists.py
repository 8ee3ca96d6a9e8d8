"""The demo's resource, need and project lists, in realistic proportions.

Resources: about half the member units publish one (agencies and enterprises more often than
schools), district departments two or three each, every CPPCC member two of their profession.
Needs: about six a year per village (more in bigger ones), of the kinds the village's type asks
for (hill villages: farm techniques and sales; suburban ones: jobs and training …), some raised
from the history's livelihood events (1001–1004 …). Each need is matched the way a coordinator
would — a resource of its kind or a related one, preferring units of the alliances covering the
village — after a week or two, and the project runs a month or two: old needs are met, recent
ones in progress, the newest still open (those past the flag days are flagged). 洞桥镇's 20
pairings carry their own needs: 12 solved within the year, 5 in progress, 3 waiting.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from shanzhi.demo import alliance_words as words
from shanzhi.events.catalog import category_name
from shanzhi.events.models import Event
from shanzhi.geo.models import Region
from shanzhi.orgs.list_models import (
    Need,
    Project,
    ProjectMilestone,
    ProjectNote,
    ProjectResource,
    Resource,
)
from shanzhi.orgs.models import Organization
from shanzhi.orgs.policy import matching_policy

if TYPE_CHECKING:
    from shanzhi.demo.alliances import Builder, Place

PUBLISH = {"government_agency": 0.8, "public_institution": 0.5, "state_enterprise": 0.7, "private_enterprise": 0.45,
           "social_organization": 0.55}
DISTRICT_OFFERS = {"district_hrss": ("employment", "training"), "district_health": ("medical", "elderly_care"),
                   "district_civil": ("elderly_care", "funding"), "district_agriculture": ("agritech", "sales"),
                   "district_housing": ("equipment", "funding"), "district_emergency": ("equipment", "training"),
                   "district_market": ("legal_aid", "training"), "district_ecology": ("volunteers",),
                   "district_water": ("equipment",), "district_department": ("legal_aid", "funding", "volunteers"),
                   "utility": ("equipment", "volunteers")}
NEEDS_PER_1000 = 2.2  # needs a year per 1,000 registered residents (at least 3 per village)
EVENT_NEEDS = 150
NEVER_MATCHED, CLOSED, CANCELLED = 0.06, 0.04, 0.03


class Lists:
    def __init__(self, b: Builder, pairings: list[tuple[int, Place]]) -> None:
        self.b, self.rng, self.t, self.pairings = b, b.rng, b.t, pairings
        self.policy = matching_policy()
        self.by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.left: dict[int, int] = {}
        self.town_of: dict[int, str] = {}
        self.org_name = {row["id"]: row["name"] for row in b.t.rows[Organization]}

    def build(self) -> None:
        self.resources()
        self.cppcc_needs()
        self.village_needs()

    # -- resources ------------------------------------------------------------------------

    def resource(self, org: int, kind: str, region_id: int, town: str, *, fresh: bool = False) -> int:
        rng = self.rng
        unit, lo, hi = words.UNITS[kind]
        start = self.b.today - timedelta(days=rng.randint(380, 700) if fresh else rng.randint(30, 700))
        until = start + timedelta(days=rng.choice((365, 730, 1095)))
        if fresh and until < self.b.today + timedelta(days=30):
            until = self.b.today + timedelta(days=365)
        status = "paused" if rng.random() < 0.03 and not fresh else "open"
        rid = self.t.add(Resource, org_id=org, kind=kind, title=rng.choice(words.RESOURCE_TITLES[kind]),
                         description=None, capacity=rng.randint(lo, hi), unit=unit, available_from=start,
                         available_until=until, region_id=region_id, lon=None, lat=None, status=status,
                         created_at=datetime.combine(start, datetime.min.time(), UTC), updated_at=None)
        row = self.t.rows[Resource][-1]
        self.left[rid], self.town_of[rid] = row["capacity"], town
        if status == "open":
            self.by_kind[kind].append(row)
        return rid

    def resources(self) -> None:
        b, rng = self.b, self.rng
        for org in sorted(b.kind_of):
            kind, place = b.kind_of[org], b.region_of[org]
            if kind in PUBLISH:
                count = (2 if rng.random() < 0.15 else 1) if rng.random() < PUBLISH[kind] else 0
                for _ in range(count):
                    self.resource(org, words.weighted(rng, words.OFFERS[kind]), place.id, place.code[:9])
            elif kind == "cppcc_member":
                for _ in range(2):
                    self.resource(org, b.offers[org], place.id, place.code[:9], fresh=True)
        rows = b.session.execute(select(Organization.id, Organization.kind, Organization.code, Region.id, Region.code,
                                        Organization.name)
                                 .join(Region, Region.id == Organization.region_id)
                                 .where(Organization.kind.in_(DISTRICT_OFFERS) | (Organization.code == "HS-RMYY"))
                                 .order_by(Organization.id)).all()
        for org, kind, code, region_id, region_code, name in rows:
            self.org_name[org] = name
            if code == "HS-RMYY":  # the demo alliance account's hospital
                offers = ("medical", "elderly_care", "training")
            elif len(region_code) == len(b.district.code):
                offers = DISTRICT_OFFERS[kind]
            else:
                continue
            for k in offers:
                self.resource(org, k, region_id, region_code[:9], fresh=True)

    # -- needs and projects ---------------------------------------------------------------

    def when(self, days_ago: float) -> datetime:
        """A working-hours moment `days_ago` days before the end."""
        day = self.b.end - timedelta(days=days_ago)
        local = (day + timedelta(hours=8)).replace(hour=self.rng.randint(8, 17), minute=self.rng.randrange(60),
                                                    second=0, microsecond=0)
        return min(local - timedelta(hours=8), self.b.end - timedelta(minutes=5))

    def need(self, village: Place, kind: str, raised: datetime, *, region_id: int | None = None,
             requester: str | None = None, title: str | None = None, group: str | None = None,
             description: str | None = None, event: int | None = None, point: tuple[Any, Any] = (None, None)) -> dict:
        rng = self.rng
        if title is None:
            title, group = rng.choice(words.NEED_TITLES[kind])
        requester = requester or ("group" if group else rng.choice(("village", "village", "grid")))
        unit, lo, hi = words.UNITS[kind]
        self.t.add(Need, kind=kind, title=title, requester=requester, group_name=group,
                         region_id=region_id or (self.grid(village) if requester == "grid" else village.id),
                         description=description or f"{village.name}{group or '村民'}提出：{title}，希望给予支持。",
                         lon=point[0], lat=point[1],
                         quantity=rng.randint(1, max(2, lo // 2)) if rng.random() < 0.7 else None,
                         urgency=rng.choices(("normal", "high", "urgent"), weights=(70, 22, 8))[0], status="open",
                         event_id=event, created_by=None, raised_at=raised, matched_at=None, met_at=None,
                         closed_at=None, updated_at=None)
        row = self.t.rows[Need][-1]
        row["_village"] = village  # dropped before writing
        return row

    def grid(self, village: Place) -> int:
        if not hasattr(self, "_grids"):
            self._grids: dict[str, list[int]] = defaultdict(list)
            for rid, code in self.b.session.execute(select(Region.id, Region.code).where(Region.level == "grid")
                                                    .order_by(Region.code)):
                self._grids[code[:12]].append(rid)
        grids = self._grids.get(village.code)
        return self.rng.choice(grids) if grids else village.id

    def pick(self, need: dict, at: datetime) -> dict | None:
        """The resource a coordinator would confirm: its kind (or a related one), with capacity
        left on the day, from a unit of an alliance covering the village if there is one."""
        village: Place = need["_village"]
        day = (at + timedelta(hours=8)).date()
        kinds = {need["kind"]: 1.0} | self.policy.related_kinds.get(need["kind"], {})
        covering, town = self.b.covering[village.code], village.code[:9]
        best, best_score = None, -1.0
        for kind, factor in kinds.items():
            for r in self.by_kind.get(kind, ()):
                if self.left[r["id"]] < 1 or not r["available_from"] <= day <= r["available_until"]:
                    continue
                score = 4 * factor + 2 * (r["org_id"] in covering) + (self.town_of[r["id"]] == town) + self.rng.random()
                if score > best_score:
                    best, best_score = r, score
        return best

    def project(self, need: dict, resources: list[dict], matched: datetime, days: float, *,
                cancel: bool = False) -> None:
        """A confirmed match, run for `days` from a few days after it (as far as the end allows)."""
        rng, end = self.rng, self.b.end
        kind = need["kind"]
        start = matched + timedelta(days=rng.randint(1, 6))
        finish = start + timedelta(days=days)
        if finish < end:
            status = "cancelled" if cancel else "completed"
        else:
            status = "in_progress" if start < end else "planned"
        beneficiaries = rng.randint(8, 160)
        pid = self.t.add(Project, need_id=need["id"], title=need["title"], owner_org_id=resources[0]["org_id"],
                         owner_name=words.person(rng), status=status, confirmed_by=None, confirmed_at=matched,
                         started_on=(start + timedelta(hours=8)).date() if start < end else None,
                         due_on=(start + timedelta(days=max(days, 30) + 15, hours=8)).date(),
                         finished_at=finish if status in ("completed", "cancelled") else None,
                         outcome=words.OUTCOMES[kind].format(n=beneficiaries) if status == "completed" else None,
                         beneficiaries=beneficiaries if status == "completed" else None,
                         beneficiaries_note=need["group_name"] if status == "completed" else None,
                         rating=rng.choices((5, 4, 3), weights=(55, 35, 10))[0]
                         if status == "completed" and rng.random() < 0.75 else None,
                         version=1, updated_at=None)
        for r in resources:
            quantity = max(1, min(self.left[r["id"]], need["quantity"] or rng.randint(1, 3)))
            if status != "cancelled":
                self.left[r["id"]] -= quantity
            self.t.add(ProjectResource, project_id=pid, resource_id=r["id"], quantity=quantity)
        last = min(finish, end)
        for i, title in enumerate((words.MILESTONES[0], words.MILESTONES[2], words.MILESTONES[-1])):
            due = start + timedelta(days=days * i / 2)
            self.t.add(ProjectMilestone, project_id=pid, title=title, due_on=(due + timedelta(hours=8)).date(),
                       done_on=(due + timedelta(hours=8)).date() if due <= last and status != "cancelled" else None)
        if start < end:
            for j in range(rng.randint(1, 3)):
                at = start + (last - start) * (j + 1) / 4
                self.t.add(ProjectNote, project_id=pid, at=at, author_id=None,
                           author_name=self.org_name.get(resources[0]["org_id"]),
                           text=rng.choice(words.NOTES), progress=min(100, 25 * (j + 1)))
        need["matched_at"] = matched
        if status == "completed":
            need["status"], need["met_at"] = "met", finish
        elif status == "cancelled":
            need["status"], need["matched_at"], need["closed_at"] = "closed", None, finish
        else:
            need["status"] = "matched"

    def run(self, need: dict, *, delay: float | None = None, days: float | None = None,
            force: dict | None = None) -> None:
        """What happened to a need by the end: closed, still open, or matched into a project."""
        rng = self.rng
        raised: datetime = need["raised_at"]
        if force is None and rng.random() < CLOSED:
            at = raised + timedelta(days=rng.randint(10, 60))
            if at < self.b.end:
                need["status"], need["closed_at"] = "closed", at
            return
        if force is None and rng.random() < NEVER_MATCHED:
            return
        delay = delay if delay is not None else rng.lognormvariate(math.log(9), 0.6)
        matched = raised + timedelta(days=delay)
        if matched >= self.b.end:
            return
        chosen = force or self.pick(need, matched)
        if chosen is None:
            return
        picks = [chosen]
        if force is None and rng.random() < 0.05:
            second = self.pick(need, matched)
            if second is not None and second["id"] != chosen["id"]:
                picks.append(second)
        self.project(need, picks, matched, days if days is not None else rng.lognormvariate(math.log(35), 0.5),
                     cancel=force is None and rng.random() < CANCELLED)

    def cppcc_needs(self) -> None:
        """Each pairing's need: 12 solved within the year, 5 in progress, 3 waiting."""
        for i, (org, village) in enumerate(self.pairings):
            kind = self.b.offers[org]
            mine = [r for r in self.by_kind[kind] if r["org_id"] == org]
            if i < 12:
                raised, delay, days = self.rng.uniform(150, 330), self.rng.uniform(4, 12), self.rng.uniform(20, 60)
            elif i < 17:
                raised, delay, days = self.rng.uniform(30, 60), self.rng.uniform(3, 8), 120.0
            else:
                raised, delay, days = self.rng.uniform(2, 10), 30.0, 30.0
            need = self.need(village, kind, self.when(raised))
            self.run(need, delay=delay, days=days, force=mine[0])

    def village_needs(self) -> None:
        rng, b = self.rng, self.b
        events = b.session.execute(
            select(Event.id, Event.category_code, Event.village_code, Event.region_code, Event.lon, Event.lat,
                   Event.created_at, Event.text)
            .where(Event.category_code.in_(self.policy.event_needs), Event.village_code.is_not(None),
                   Event.created_at >= b.end - timedelta(days=365))
            .order_by(Event.id)).all()
        villages = {v.code: v for v in b.villages}
        regions = dict(b.session.execute(select(Region.code, Region.id).where(
            Region.code.in_({e.region_code for e in events}))).tuples().all()) if events else {}
        needs: list[dict] = []
        for e in sorted(rng.sample(events, min(EVENT_NEEDS, len(events))), key=lambda e: e.id):
            raised = e.created_at.replace(tzinfo=UTC) + timedelta(hours=rng.randint(4, 60))
            if raised < b.end:
                kind = self.policy.event_needs[e.category_code]
                needs.append(self.need(villages[e.village_code], kind, raised, region_id=regions[e.region_code],
                                       requester="group", title=f"{category_name(e.category_code)}：{e.text[:40]}",
                                       group=words.NEED_TITLES[kind][0][1] or "反映群众", description=e.text,
                                       event=e.id, point=(e.lon, e.lat)))
        for v in b.villages:
            n = max(3, round((v.population or 2000) / 1000 * NEEDS_PER_1000 + rng.gauss(0, 1)))
            for _ in range(n):
                kind = words.weighted(rng, words.NEEDS_BY_TYPE.get(v.village_type or "suburban",
                                                                    words.NEEDS_BY_TYPE["suburban"]))
                needs.append(self.need(v, kind, self.when(rng.uniform(0.2, 365))))
        for need in sorted(needs, key=lambda n: n["raised_at"]):
            self.run(need)
        for row in self.t.rows[Need]:
            row.pop("_village", None)

