"""What the demo history is made of: how many events, of what, where, reported how, routed where.

The numbers are the demo's policy for realism, kept together here: volumes per town, the
category mix with its seasons, channels and their hours, and the odds of each path through the
workflow. `Plan` turns them into one array per attribute, one element per event, in reporting
order; `history_timeline` then gives every event its steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.demo.units import preferred_unit
from shanzhi.events.catalog import catalog
from shanzhi.events.policy import routing
from shanzhi.events.routing import tier_code_length
from shanzhi.geo import service as geo
from shanzhi.geo.index import OUTSIDE
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

if TYPE_CHECKING:
    from shanzhi.demo.history_timeline import Clock

US = 1_000_000
MINUTE = 60 * US
HOUR = 3600 * US
DAY = 86400 * US

# Events per day district-wide at scale 1, for a district of 海曙区's size (weekends and holidays
# fewer); ten months make ~160,000.
DAILY_EVENTS = 560.0
# Shares of the district's events by town (海曙区); a tree with other towns splits evenly.
TOWN_SHARE: dict[str, float] = {
    "江厦街道": 0.045, "鼓楼街道": 0.045, "月湖街道": 0.035, "西门街道": 0.055, "南门街道": 0.05,
    "白云街道": 0.06, "段塘街道": 0.065, "望春街道": 0.065, "石碶街道": 0.07, "高桥镇": 0.075,
    "集士港镇": 0.07, "古林镇": 0.11, "横街镇": 0.075, "洞桥镇": 0.05, "鄞江镇": 0.05, "章水镇": 0.045,
    "龙观乡": 0.035,
}
# Towns whose every event is closed (the showcase town's 100 % handling rate).
ALWAYS_CLOSED = frozenset({"古林镇"})
# Share of handled events closed after their deadline, by town.
LATE_SHARE: dict[str, float] = {"古林镇": 0.02, "章水镇": 0.07, "龙观乡": 0.065}
DEFAULT_LATE = 0.055

# Relative frequency of each category (per mille, before seasons and places): 市容环卫 and
# 街面秩序 lead, then public facilities, disputes, safety, livelihood.
CATEGORY_WEIGHT: dict[str, float] = {
    "0101": 90, "0102": 40, "0103": 50, "0104": 35, "0105": 65, "0201": 65, "0202": 90, "0203": 45,
    "0301": 18, "0302": 16, "0303": 7, "0304": 13, "0305": 6, "0401": 24, "0402": 10, "0403": 16,
    "0404": 30, "0405": 10, "0501": 10, "0502": 16, "0503": 20, "0504": 4, "0601": 18, "0602": 26,
    "0603": 12, "0604": 8, "0605": 6, "0701": 26, "0702": 9, "0703": 5, "0704": 10, "0705": 13,
    "0706": 7, "0801": 12, "0802": 4, "0803": 9, "0901": 24, "0902": 26, "0903": 8, "1001": 10,
    "1002": 9, "1003": 10, "1004": 6, "1005": 22, "1101": 5, "1102": 4, "1103": 18, "1104": 4,
    "1201": 8, "1202": 6, "1203": 5, "1301": 3, "1302": 9, "1303": 3,
}
# Month factors (Jan … Dec): typhoons and plum rains for 1302, winter burning for 0502 …
SEASON: dict[str, tuple[float, ...]] = {
    "1302": (0.1, 0.1, 0.2, 0.3, 0.8, 2.5, 5.0, 6.0, 5.0, 0.8, 0.2, 0.1),
    "0502": (3.5, 3.0, 1.5, 0.8, 0.5, 0.6, 0.3, 0.3, 0.4, 1.2, 2.5, 3.5),
    "1301": (0.3, 0.3, 0.5, 0.8, 1.2, 2.5, 2.5, 3.0, 2.0, 0.8, 0.3, 0.3),
    "0104": (0.8, 0.8, 0.9, 1.0, 1.2, 1.8, 1.5, 1.6, 1.4, 1.0, 0.8, 0.8),
    "0403": (0.8, 0.8, 0.9, 1.0, 1.1, 1.6, 1.4, 1.5, 1.3, 1.0, 0.8, 0.8),
    "0503": (0.7, 0.7, 0.9, 1.0, 1.2, 1.4, 1.5, 1.5, 1.2, 1.0, 0.8, 0.7),
    "0201": (0.9, 1.2, 1.0, 1.0, 1.1, 1.2, 1.2, 1.2, 1.1, 1.0, 0.9, 0.9),
    "0605": (1.5, 1.4, 1.1, 0.9, 0.8, 0.7, 0.7, 0.7, 0.8, 1.0, 1.2, 1.5),
    "0602": (1.2, 1.1, 1.0, 1.0, 1.0, 1.1, 1.1, 1.1, 1.0, 1.0, 1.1, 1.2),
    "0101": (1.1, 1.3, 1.0, 1.0, 1.0, 1.1, 1.2, 1.2, 1.1, 1.0, 1.0, 1.0),
    "1104": (0.6, 0.6, 0.8, 1.0, 1.2, 1.6, 1.6, 1.4, 1.0, 0.8, 0.6, 0.6),
}
VOLUME_BY_MONTH = (0.95, 0.85, 1.0, 1.0, 1.02, 1.05, 1.08, 1.08, 1.03, 0.98, 1.0, 1.0)
# Category factors by kind of town (keys: a category code or its major). Streets have no farmland.
PLACE_FACTOR: dict[str, dict[str, float]] = {
    "street": {"11": 0.0, "0703": 0.0, "1301": 0.0, "0502": 0.2, "0705": 2.5, "0202": 1.4, "0203": 1.5,
               "0903": 0.4, "0901": 0.7, "0902": 0.8},
    "mountain": {"1301": 4.0, "0502": 1.8, "11": 1.5, "0202": 0.6, "0705": 0.3, "0203": 0.6, "0604": 0.6},
    "plain": {"0901": 1.4, "0902": 1.4, "0603": 1.4, "0604": 1.4, "0704": 1.4, "0602": 1.2, "0705": 0.6},
}
CHANNELS = ("grid_worker", "resident", "hotline", "department", "api")
CHANNEL_MIX = (0.55, 0.20, 0.15, 0.05, 0.05)
# Multipliers on CHANNEL_MIX: disputes come by phone, street order by camera, enterprises by
# departments.
CHANNEL_TILT: dict[str, tuple[float, ...]] = {
    "07": (0.6, 1.6, 1.8, 1.0, 0.1), "10": (0.8, 1.5, 1.4, 0.8, 0.1), "0706": (0.3, 1.5, 3.0, 1.0, 0.0),
    "12": (0.6, 1.3, 1.5, 2.5, 0.2), "0504": (0.6, 1.0, 1.5, 3.0, 0.5), "0604": (0.8, 0.6, 0.8, 3.0, 0.3),
    "0201": (1.0, 0.8, 0.8, 0.3, 2.5), "0202": (1.0, 0.9, 0.8, 0.3, 2.2), "0203": (1.0, 0.8, 0.7, 0.3, 2.0),
    "1302": (0.8, 1.2, 1.2, 1.0, 2.5), "0802": (0.7, 1.3, 1.3, 1.5, 0.0), "0803": (0.5, 1.5, 1.5, 2.0, 0.0),
}
# Hour-of-day weights (local time) by channel, and for matters of the evening.
_PATROL = (0, 0, 0, 0, 0, 0, 0, 1, 8, 10, 10, 8, 2, 3, 8, 10, 9, 6, 2, 2, 1, 0, 0, 0)
_PUBLIC = (1, 0, 0, 0, 0, 0, 2, 5, 8, 9, 9, 8, 6, 6, 7, 7, 7, 6, 6, 7, 7, 5, 3, 2)
_OFFICE = (0, 0, 0, 0, 0, 0, 0, 1, 6, 10, 10, 8, 1, 3, 9, 10, 9, 3, 0, 0, 0, 0, 0, 0)
_CAMERA = (2, 1, 1, 1, 1, 2, 4, 7, 8, 8, 8, 8, 7, 7, 7, 7, 8, 9, 9, 8, 7, 6, 4, 3)
EVENING = (3, 2, 1, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 6, 9, 10, 10, 8, 5)
HOURS_BY_CHANNEL = (_PATROL, _PUBLIC, _PUBLIC, _OFFICE, _CAMERA)
EVENING_CATEGORIES = ("0503", "0201", "0801", "0802", "1303")

# The odds of each path through the workflow.
P_ON_THE_SPOT = 0.72  # of on-the-spot categories reported by grid workers (~40 % of all of them)
P_REJECT = 0.012  # of reports not from grid workers, outside ALWAYS_CLOSED towns
P_ESCALATE = {"village": 0.045, "town": 0.015}
P_RETURN = {"village": 0.01, "town": 0.025, "district": 0.025}
P_REWORK = 0.02
P_EXTENSION = 0.05  # of categories limited in (calendar) days
P_RATED = 0.6
P_URGENT = {"1303": 0.6, "0605": 0.4, "1302": 0.3}
P_URGENT_DEFAULT = 0.1  # of other categories that have an urgent time limit
UNITS = ("hours", "days", "calendar_hours", "calendar_days")


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator per (seed, stage), so stages don't disturb each other."""
    return np.random.default_rng([seed % 2**63, *keys])


def _factor(table: dict[str, Any], code: str, default: Any) -> Any:
    return table.get(code, table.get(code[:2], default))


def pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of `weights`, drawn in proportion (rows need not sum to 1)."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), weights.shape[1] - 1)


def _uniform_points(geom: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    found: list[np.ndarray] = []
    have = 0
    while have < n:
        xy = np.column_stack([rng.uniform(minx, maxx, 2 * n + 16), rng.uniform(miny, maxy, 2 * n + 16)])
        xy = xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]
        found.append(xy)
        have += len(xy)
    return np.concatenate(found)[:n]


class Town:
    def __init__(self, code: str, name: str, kind: str, geometry: Any, share: float) -> None:
        self.code, self.name, self.kind, self.geometry, self.share = code, name, kind, geometry, share
        self.late = LATE_SHARE.get(name, DEFAULT_LATE)
        self.always_closed = name in ALWAYS_CLOSED


class Tree:
    """The district as the history needs it: towns (street / mountain / plain), villages, units."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(Region.code, Region.name, Region.level, Region.village_type,
                                      Region.geometry_wkb).where(Region.level.in_(("district", "town", "village")))
                               .order_by(Region.code)).all()
        district = next((r for r in rows if r.level == "district"), None)
        if district is None:
            raise LookupError("load the demo regions first")
        self.district_code, self.district_name = district.code, district.name
        self.village_names = {r.code: r.name for r in rows if r.level == "village"}
        types: dict[str, list[str | None]] = {}
        for r in rows:
            if r.level == "village":
                types.setdefault(r.code[:9], []).append(r.village_type)
        town_rows = [r for r in rows if r.level == "town"]
        known = all(r.name in TOWN_SHARE for r in town_rows)
        self.towns: list[Town] = []
        for r in town_rows:
            kinds = types.get(r.code)
            kind = "street" if not kinds else (
                "mountain" if sum(k == "mountain" for k in kinds) * 2 > len(kinds) else "plain")
            self.towns.append(Town(r.code, r.name, kind, shapely.from_wkb(r.geometry_wkb),
                                   TOWN_SHARE[r.name] if known else 1.0))
        total = sum(t.share for t in self.towns)
        for t in self.towns:
            t.share /= total
        orgs = session.execute(select(Organization.id, Organization.code, Organization.name, Organization.kind,
                                      Region.code.label("region")).join(Region, Region.id == Organization.region_id)
                               .order_by(Organization.id)).all()
        self.org_by_code = {o.code: o.id for o in orgs}
        self.org_name = {o.id: o.name for o in orgs}
        self.org_region = {o.id: o.region for o in orgs}
        self.first_org: dict[tuple[str, str], int] = {}
        for o in orgs:
            self.first_org.setdefault((o.kind, o.region), o.id)


class Router:
    """`routing.propose`, answered from memory (the tests compare the two), and the dispatcher's pick."""

    def __init__(self, tree: Tree) -> None:
        cat = catalog()
        self.tree = tree
        self.tiers = [t.code for t in cat.tiers]
        self.policy = f"catalog {cat.version} / routing {routing().version}"
        # Routing looks at code prefixes up to the deepest tier's level; deeper digits cannot matter.
        self.deepest = max(tier_code_length(t) for t in self.tiers)

    def propose(self, code: str, region_code: str, min_tier: str | None = None) -> tuple[str, str, int | None]:
        cat = catalog()
        category = cat.category(code)
        tier = category.default_tier
        if min_tier is not None and cat.tier_rank(min_tier) > cat.tier_rank(tier):
            tier = min_tier
        while len(region_code) < tier_code_length(tier) and cat.tier_rank(tier) < len(self.tiers) - 1:
            tier = self.tiers[cat.tier_rank(tier) + 1]
        if cat.handler_type(category.handler_type).tier == tier:
            handler = category.handler_type
        else:
            handler = routing().handler_at(tier, category.major)
        for n in range(min(tier_code_length(tier), len(region_code)), 5, -3):
            org = self.tree.first_org.get((handler, region_code[:n]))
            if org is not None:
                return tier, handler, org
        return tier, handler, None

    def preferred(self, handler: str, category: str, proposed: int | None) -> int | None:
        """The unit a dispatcher picks: the proposed one, or its sibling office for this category."""
        n = preferred_unit(handler, category)
        if proposed is None or n == 1:
            return proposed
        return self.tree.org_by_code.get(f"{handler}-{self.tree.org_region[proposed]}-{n}", proposed)


class Plan:
    """One array per attribute, one element per event, in reporting order."""

    def __init__(self, session: Session, tree: Tree, clock: Clock, *, seed: int, start: int, end: int,
                 scale: float) -> None:
        self.cats = [c.code for c in catalog().categories]
        self.tree = tree
        rng = rng_for(seed, 1)
        towns = tree.towns
        # -- how many, per town and day ---------------------------------------------------------
        cal = clock.cal
        first = (start + clock.tz) // DAY * DAY - clock.tz  # local midnight, as UTC µs
        days = np.arange(first, end, DAY)
        dates = [clock.local_date(int(d)) for d in days]
        holidays = {d for y in cal.policy.years.values() for p in y.holidays for d in p.days()}
        factor = np.array([(1.0 if cal.is_workday(d) else 0.65 if d in holidays else 0.8)
                           * VOLUME_BY_MONTH[d.month - 1] for d in dates])
        cover = (np.minimum(days + DAY, end) - np.maximum(days, start)) / DAY
        share = np.array([t.share for t in towns])
        counts = rng.poisson(DAILY_EVENTS * scale * (factor * cover)[:, None] * share[None, :])
        day_i, town_i = np.nonzero(counts)
        reps = counts[day_i, town_i]
        day_i, town_i = np.repeat(day_i, reps), np.repeat(town_i, reps)
        n = len(day_i)
        month = np.array([d.month - 1 for d in dates])[day_i]
        # -- what: the category mix by town kind and month --------------------------------------
        base = np.array([CATEGORY_WEIGHT.get(c, 1.0) for c in self.cats])
        season = np.array([SEASON.get(c, (1.0,) * 12) for c in self.cats]).T
        place = {k: np.array([_factor(f, c, 1.0) for c in self.cats]) for k, f in PLACE_FACTOR.items()}
        category = np.empty(n, dtype=np.int64)
        group = town_i * 12 + month
        order = np.argsort(group, kind="stable")
        for idx in np.split(order, np.flatnonzero(np.diff(group[order])) + 1):
            if len(idx):
                t, m = divmod(int(group[idx[0]]), 12)
                p = base * season[m] * place[towns[t].kind]
                category[idx] = rng.choice(len(self.cats), size=len(idx), p=p / p.sum())
        # -- by which channel, at what hour ------------------------------------------------------
        mix = np.array([np.array(CHANNEL_MIX) * _factor(CHANNEL_TILT, c, (1.0,) * 5) for c in self.cats])
        channel = pick(rng, mix[category])
        hours = np.array(HOURS_BY_CHANNEL, dtype=float)[channel]
        evening = np.isin(category, [self.cats.index(c) for c in EVENING_CATEGORIES if c in self.cats])
        hours[evening & (rng.random(n) < 0.5)] = EVENING
        created = days[day_i] + (pick(rng, hours) * 3600 + rng.integers(0, 3600, n)) * US
        always = np.array([t.always_closed for t in towns])[town_i]
        # The first and last day are partial; ALWAYS_CLOSED towns leave half an hour to close.
        lo = np.maximum(days[day_i], start)
        hi = np.minimum(days[day_i] + DAY, np.where(always, end - 30 * MINUTE, end - MINUTE))
        outside = (created < lo) | (created >= hi)
        created[outside] = lo[outside] + (rng.random(outside.sum()) * (hi - lo)[outside]).astype(np.int64) // US * US
        keep = np.flatnonzero(hi > lo)
        keep = keep[np.argsort(created[keep], kind="stable")]
        self.n = len(keep)
        self.created, self.town, self.category = created[keep], town_i[keep], category[keep]
        self.channel, self.always = channel[keep], always[keep]
        self._locate(session, rng_for(seed, 2))
        self._route(rng_for(seed, 3))
        self.rng = rng_for(seed, 4)  # for the timelines

    def _locate(self, session: Session, rng: np.random.Generator) -> None:
        """A point in the event's town (40 % near one of its hotspots) and the deepest region there."""
        index = geo.get_index(session)
        n = self.n
        lon, lat, region = np.zeros(n), np.zeros(n), np.empty(n, dtype=object)
        metres = np.array([1 / 96_500, 1 / 110_574])  # degrees per metre at 29.85°N
        for t, town in enumerate(self.tree.towns):
            idx = np.flatnonzero(self.town == t)
            k = len(idx)
            if not k:
                continue
            hot = _uniform_points(town.geometry, max(3, k // 120), rng)
            weight = 1.0 / np.arange(1, len(hot) + 1) ** 0.8
            xy = _uniform_points(town.geometry, k, rng)
            near = rng.random(k) < 0.4
            around = hot[rng.choice(len(hot), size=k, p=weight / weight.sum())] + rng.normal(0, 25, (k, 2)) * metres
            xy[near] = around[near]
            codes = np.empty(k, dtype=object)
            todo = np.arange(k)
            for _ in range(50):  # a point off the town (near its edge) is drawn again
                found = [index.refs[p].code if p != OUTSIDE else "" for p in index.locate_many(xy[todo, 0], xy[todo, 1])]
                ok = np.array([c.startswith(town.code) for c in found], dtype=bool)
                codes[todo[ok]] = np.array(found, dtype=object)[ok]
                todo = todo[~ok]
                if not len(todo):
                    break
                xy[todo] = _uniform_points(town.geometry, len(todo), rng)
            else:  # pragma: no cover - a town the index cannot find points in
                raise RuntimeError(f"could not place events in {town.name}")
            lon[idx], lat[idx], region[idx] = np.round(xy[:, 0], 7), np.round(xy[:, 1], 7), codes
        self.lon, self.lat, self.region = lon, lat, region

    def _route(self, rng: np.random.Generator) -> None:
        """Urgency, limits, the path through the workflow, and the proposed and chosen units."""
        cat = catalog()
        n, cats = self.n, self.cats
        objs = [cat.category(c) for c in cats]
        urgent_p = np.array([P_URGENT.get(c.code, P_URGENT_DEFAULT) if c.urgent_time_limit else 0.0 for c in objs])
        self.urgent = rng.random(n) < urgent_p[self.category]
        grid = self.channel == CHANNELS.index("grid_worker")
        self.spot = np.array([c.on_the_spot for c in objs])[self.category] & grid & (rng.random(n) < P_ON_THE_SPOT)
        self.reject = ~self.spot & ~grid & ~self.always & (rng.random(n) < P_REJECT)
        normal = ~self.spot & ~self.reject
        self.amount, self.unit = np.zeros(n), np.zeros(n, dtype=np.int64)
        for i, c in enumerate(objs):
            m = self.category == i
            for mask, limit in ((m & ~self.urgent, c.time_limit), (m & self.urgent, c.urgent_time_limit or c.time_limit)):
                self.amount[mask], self.unit[mask] = limit.amount, UNITS.index(limit.unit)
        # routing: once per distinct (category, place) pair
        router = Router(self.tree)
        self.policy, tiers = router.policy, router.tiers
        places, place_i = np.unique(np.array([r[: router.deepest] for r in self.region]), return_inverse=True)
        pairs, pair_i = np.unique(self.category * len(places) + place_i, return_inverse=True)
        table = []
        for key in pairs.tolist():
            c, r = cats[key // len(places)], str(places[key % len(places)])
            tier1, handler1, org1 = router.propose(c, r)
            if org1 is None:
                raise LookupError(f"no {handler1} unit serves {r}: create the demo units first")
            tier2 = handler2 = None
            org2 = final2 = 0
            if tiers.index(tier1) + 1 < len(tiers):
                tier2, handler2, o2 = router.propose(c, r, tiers[tiers.index(tier1) + 1])
                org2, final2 = o2 or 0, router.preferred(handler2, c, o2) or 0
            table.append((tier1, tier2, handler1, handler2, org1, org2, router.preferred(handler1, c, org1), final2))
        columns = list(zip(*table)) or [()] * 8
        self.tier1, self.tier2, self.handler1, self.handler2 = (np.array(col, dtype=object)[pair_i] for col in columns[:4])
        self.org1, self.org2, self.final1, self.final2 = (np.array(col, dtype=np.int64)[pair_i] for col in columns[4:])
        p_escalate = np.array([P_ESCALATE.get(t, 0.0) for t in columns[0]])[pair_i]
        p_return = np.array([P_RETURN.get(t, 0.0) for t in columns[0]])[pair_i]
        self.escalate = normal & (self.org2 > 0) & (rng.random(n) < p_escalate)
        self.returned = normal & (rng.random(n) < p_return)
        self.rework = normal & (rng.random(n) < P_REWORK)
        self.extend = normal & ((self.unit == 1) | (self.unit == 3)) & (rng.random(n) < P_EXTENSION)
        late = np.array([t.late for t in self.tree.towns])[self.town]
        self.late = normal & ~self.extend & (rng.random(n) < late)
        self.rated = ~self.reject & (rng.random(n) < P_RATED)

