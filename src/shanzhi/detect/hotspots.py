"""Hotspots: the same kind of problem coming back to the same place.

Per category, the window's events with a point are clustered by density (DBSCAN on the
sphere, neighbours within `radius_m`). A cluster is a hotspot when it holds enough events,
spread over enough distinct weeks (a recurring problem, not one incident reported many
times), and is far denser than chance would make it. Chance is judged locally: reports of
every kind within `background_m` of the cluster, times the category's share of all reports,
scaled to the cluster's area, is the expected count; the Poisson tail of the observed count
must be below `max_p`. A busy town centre therefore needs more than its usual share of
garbage reports to make a garbage hotspot, and uniform noise yields none.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy.stats import poisson
from sklearn.cluster import DBSCAN
from sklearn.neighbors import BallTree
from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.db import as_utc, utcnow
from shanzhi.detect.policy import HotspotPolicy, detect_policy
from shanzhi.detect.text import EARTH_RADIUS_M, haversine_m
from shanzhi.events.catalog import category_name
from shanzhi.events.models import Event

SAMPLE_CODES = 5


@dataclass(frozen=True)
class Hotspot:
    category_code: str
    count: int
    weeks: int
    lon: float
    lat: float
    radius_m: float
    region_code: str
    first_at: datetime
    last_at: datetime
    p_value: float
    codes: tuple[str, ...]  # the latest few

    @property
    def key(self) -> str:
        # ~100 m cells: the same hotspot found again by the next scan keeps its key.
        return f"hotspot:{self.category_code}:{round(self.lat * 1000)}:{round(self.lon * 1000)}"

    @property
    def score(self) -> float:
        """0–1: how far beyond chance (-log10 p, 12 and more counting as certain)."""
        return min(1.0, -math.log10(max(self.p_value, 1e-300)) / 12)

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": {"code": self.category_code, "name": category_name(self.category_code)},
            "count": self.count, "weeks": self.weeks, "lon": round(self.lon, 6), "lat": round(self.lat, 6),
            "radius_m": round(self.radius_m, 1), "region_code": self.region_code,
            "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat(),
            "p_value": float(f"{self.p_value:.3g}"), "score": round(self.score, 3), "codes": list(self.codes),
        }


def _radians(rows: list[Any]) -> np.ndarray:
    return np.radians(np.array([(r.lat, r.lon) for r in rows]))


def _clusters(category: str, rows: list[Any], share: float, background: BallTree,
              policy: HotspotPolicy) -> list[Hotspot]:
    labels = DBSCAN(eps=policy.radius_m / EARTH_RADIUS_M, min_samples=min(3, policy.min_events),
                    metric="haversine", algorithm="ball_tree").fit_predict(_radians(rows))
    out: list[Hotspot] = []
    for label in set(labels.tolist()) - {-1}:
        members = [rows[i] for i in np.flatnonzero(labels == label)]
        if len(members) < policy.min_events:
            continue
        weeks = {as_utc(m.created_at).isocalendar()[:2] for m in members}  # type: ignore[union-attr]
        if len(weeks) < policy.min_weeks:
            continue
        lon = float(np.mean([m.lon for m in members]))
        lat = float(np.mean([m.lat for m in members]))
        spread = max(haversine_m(lon, lat, m.lon, m.lat) for m in members)
        radius = max(spread, policy.radius_m)
        around = int(background.query_radius(np.radians([[lat, lon]]), r=policy.background_m / EARTH_RADIUS_M,
                                             count_only=True)[0])
        expected = around * share * (radius / policy.background_m) ** 2
        p = float(poisson.sf(len(members) - 1, expected))
        if p >= policy.max_p:
            continue
        members.sort(key=lambda m: m.created_at)
        region = Counter(m.region_code for m in members).most_common(1)[0][0]
        out.append(Hotspot(
            category_code=category, count=len(members), weeks=len(weeks), lon=lon, lat=lat, radius_m=spread,
            region_code=region, first_at=as_utc(members[0].created_at),  # type: ignore[arg-type]
            last_at=as_utc(members[-1].created_at),  # type: ignore[arg-type]
            p_value=p, codes=tuple(m.code for m in reversed(members[-SAMPLE_CODES:])),
        ))
    return out


def find_hotspots(
    session: Session, *, region: str, category: str | None = None, days: int | None = None,
    now: datetime | None = None, policy: HotspotPolicy | None = None,
) -> list[Hotspot]:
    """Hotspots in the region subtree over the last `days` (policy default), most significant first."""
    policy = policy or detect_policy().hotspots
    now = now or utcnow()
    since = now - timedelta(days=days or policy.window_days)
    stmt = select(Event.code, Event.category_code, Event.lon, Event.lat, Event.created_at, Event.region_code).where(
        Event.region_code.startswith(region, autoescape=True), Event.created_at >= since, Event.created_at <= now,
        Event.lon.is_not(None), Event.lat.is_not(None), Event.category_code.is_not(None),
        Event.status != "merged",  # a merged duplicate is the same report, not a recurrence
    )
    # Every category is read, even when one is asked for: the others are the background.
    every = session.execute(stmt).all()
    by_category: dict[str, list[Any]] = {}
    for row in every:
        if not category or row.category_code.startswith(category):
            by_category.setdefault(row.category_code, []).append(row)
    if not any(len(rows) >= policy.min_events for rows in by_category.values()):
        return []
    background = BallTree(_radians(every), metric="haversine")
    found = [h for code, rows in sorted(by_category.items()) if len(rows) >= policy.min_events
             for h in _clusters(code, rows, len(rows) / len(every), background, policy)]
    found.sort(key=lambda h: (h.p_value, -h.count))
    return found
