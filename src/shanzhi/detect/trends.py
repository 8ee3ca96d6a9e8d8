"""Trends: a category rising in a grid well above its own baseline.

One grouped query counts, per grid (or the policy's level) and category, the events of the
recent window and of the baseline window before it. The expected recent count is the
baseline's rate over the recent window's length (with one pseudo-event, so a category new to a
grid needs a real surge, not just a first few reports); a rise is flagged when the count is
large enough, a multiple of the expected one, and improbable as chance (Poisson tail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scipy.stats import poisson
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from shanzhi.db import utcnow
from shanzhi.detect.policy import TrendPolicy, detect_policy
from shanzhi.events.catalog import category_name
from shanzhi.events.models import Event
from shanzhi.geo.levels import BY_NAME


@dataclass(frozen=True)
class Trend:
    region_code: str
    category_code: str
    recent: int
    baseline: int
    expected: float
    p_value: float
    recent_days: int
    baseline_days: int

    @property
    def ratio(self) -> float:
        return self.recent / self.expected

    @property
    def key(self) -> str:
        return f"trend:{self.region_code}:{self.category_code}"

    @property
    def score(self) -> float:
        return min(1.0, -math.log10(max(self.p_value, 1e-300)) / 12)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region_code": self.region_code,
            "category": {"code": self.category_code, "name": category_name(self.category_code)},
            "recent": self.recent, "baseline": self.baseline, "expected": round(self.expected, 2),
            "ratio": round(self.ratio, 2), "p_value": float(f"{self.p_value:.3g}"), "score": round(self.score, 3),
            "recent_days": self.recent_days, "baseline_days": self.baseline_days,
        }


def find_trends(
    session: Session, *, region: str, category: str | None = None, now: datetime | None = None,
    policy: TrendPolicy | None = None,
) -> list[Trend]:
    """Rising categories in the region subtree's grids, most significant first."""
    policy = policy or detect_policy().trends
    now = now or utcnow()
    recent_start = now - timedelta(days=policy.recent_days)
    baseline_start = recent_start - timedelta(days=policy.baseline_days)
    length = BY_NAME[policy.level].code_length
    place = func.substr(Event.region_code, 1, length).label("place")
    is_recent = Event.created_at >= recent_start
    stmt = (
        select(place, Event.category_code,
               func.sum(case((is_recent, 1), else_=0)).label("recent"),
               func.sum(case((is_recent, 0), else_=1)).label("baseline"))
        .where(Event.region_code.startswith(region, autoescape=True), func.length(Event.region_code) >= length,
               Event.created_at >= baseline_start, Event.created_at <= now,
               Event.category_code.is_not(None), Event.status != "merged")
        .group_by(place, Event.category_code)
    )
    if category:
        stmt = stmt.where(Event.category_code.startswith(category, autoescape=True))
    scale = policy.recent_days / policy.baseline_days
    out: list[Trend] = []
    for row in session.execute(stmt):
        recent, baseline = int(row.recent), int(row.baseline)
        if recent < policy.min_count:
            continue
        expected = (baseline + 1) * scale
        if recent < policy.min_ratio * expected:
            continue
        p = float(poisson.sf(recent - 1, expected))
        if p < policy.max_p:
            out.append(Trend(region_code=row.place, category_code=row.category_code, recent=recent,
                             baseline=baseline, expected=expected, p_value=p, recent_days=policy.recent_days,
                             baseline_days=policy.baseline_days))
    out.sort(key=lambda t: (t.p_value, -t.recent))
    return out
