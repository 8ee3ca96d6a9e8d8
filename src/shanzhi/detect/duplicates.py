"""Duplicate detection: open reports that are probably the same problem as a given event.

Space-time-text rules, no model: candidates are open events of the same category created
within the category's time window and lying within its radius (or, for disputes, in the same
village); each is scored by a weighted mix of closeness in space, closeness in time and
character-bigram similarity of the texts. The policy (`policy/duplicates.toml`) says the
limits and weights per category.

One SQL query per lookup: the window, category and status narrow it through the indexes, and
a bounding box on lon/lat (degrees per metre at the event's latitude) cuts it to a handful of
rows; the exact haversine distance and the text score are computed in Python on those.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.db import as_utc
from shanzhi.detect.text import METRES_PER_DEGREE_LAT, haversine_m, text_similarity
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.service import get_event, reach_filter
from shanzhi.policy.loader import policy_path

# Rows read per lookup at most: a real cluster of duplicates is a few reports, never hundreds.
MAX_ROWS = 200
# The space score of a match by place name rather than distance (region-only reports, disputes).
SAME_PLACE_SCORE = 1.0
SAME_REGION_SCORE = 0.6


# -- policy ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    radius_m: float = Field(ge=0, le=10_000)  # 0: the same village instead of a distance
    window_hours: float = Field(gt=0, le=24 * 365)


class Weights(_Strict):
    distance: float = Field(ge=0)
    time: float = Field(ge=0)
    text: float = Field(ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> Weights:
        if self.distance + self.time + self.text <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class DuplicatePolicy(_Strict):
    version: str = Field(min_length=1)
    min_score: float = Field(ge=0, le=1)
    weights: Weights
    default: Limits
    categories: dict[str, Limits] = Field(default_factory=dict)

    @field_validator("categories")
    @classmethod
    def _category_codes(cls, value: dict[str, Limits]) -> dict[str, Limits]:
        bad = [k for k in value if not (k.isdigit() and len(k) in (2, 4))]
        if bad:
            raise ValueError(f"category keys must be 2-digit majors or 4-digit minors, not {bad}")
        return value

    def limits(self, category: str | None) -> Limits:
        """The minor's own limits, else its major's, else the default."""
        if category:
            for key in (category, category[:2]):
                if key in self.categories:
                    return self.categories[key]
        return self.default


def load_policy(path: Path) -> DuplicatePolicy:
    with path.open("rb") as f:
        return DuplicatePolicy.model_validate(tomllib.load(f))


@lru_cache
def duplicate_policy() -> DuplicatePolicy:
    return load_policy(policy_path("duplicates.toml"))


# -- lookup ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    event: Event
    score: float
    distance_m: float | None  # None when either report has no point
    hours: float  # hours apart, either way
    text_similarity: float

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.event.code, "score": round(self.score, 3),
                "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
                "hours": round(self.hours, 2), "text_similarity": round(self.text_similarity, 3),
                "text": self.event.text, "status": self.event.status}


def find_duplicates(
    session: Session, *, event: Event, limit: int = 5, where: Any = None,
    policy: DuplicatePolicy | None = None,
) -> list[Candidate]:
    """Open events that are probably the same problem as `event`, best first.
    `where` narrows the candidates further (e.g. to what the actor may read)."""
    policy = policy or duplicate_policy()
    limits = policy.limits(event.category_code)
    created = as_utc(event.created_at)
    assert created is not None
    window = timedelta(hours=limits.window_hours)
    stmt = select(Event).where(
        Event.status.in_(OPEN_STATUSES), Event.id != event.id, Event.merged_into_id.is_(None),
    )
    in_window = (Event.created_at >= created - window, Event.created_at <= created + window)
    has_point = event.lon is not None and event.lat is not None
    by_village = limits.radius_m == 0 and event.village_code is not None
    same_kind = (Event.category_code == event.category_code,) if event.category_code else ()
    if by_village:
        stmt = stmt.where(*in_window, *same_kind, Event.village_code == event.village_code)
    elif has_point:
        assert event.lon is not None and event.lat is not None
        dlat = limits.radius_m / METRES_PER_DEGREE_LAT
        # Never divide by ~0 near the poles; at Chinese latitudes cos is 0.6–0.95.
        dlon = dlat / max(math.cos(math.radians(event.lat)), 0.01)
        # The box is found in the (category, created_at, lon, lat) index alone, then only the
        # few rows inside it are read (one query would let the planner start from the status).
        inside = session.scalars(select(Event.id).where(
            *same_kind, *in_window, Event.lon.between(event.lon - dlon, event.lon + dlon),
            Event.lat.between(event.lat - dlat, event.lat + dlat)).limit(MAX_ROWS * 5)).all()
        stmt = stmt.where(Event.id.in_(inside))
    else:
        # A report located only by its region (no point): the same region.
        stmt = stmt.where(*in_window, *same_kind, Event.region_code == event.region_code)
    if where is not None:
        stmt = stmt.where(where)
    rows = session.scalars(stmt.order_by(Event.created_at.desc()).limit(MAX_ROWS)).all()

    w = policy.weights
    total_weight = w.distance + w.time + w.text
    out: list[Candidate] = []
    for other in rows:
        distance: float | None = None
        if has_point and other.lon is not None and other.lat is not None:
            assert event.lon is not None and event.lat is not None
            distance = haversine_m(event.lon, event.lat, other.lon, other.lat)
        if by_village:
            space = SAME_PLACE_SCORE
        elif distance is not None:
            if distance > limits.radius_m:
                continue  # inside the box's corner, outside the circle
            space = 1 - distance / limits.radius_m
        else:
            space = SAME_REGION_SCORE
        hours = abs((as_utc(other.created_at) - created).total_seconds()) / 3600  # type: ignore[operator]
        timeliness = max(0.0, 1 - hours / limits.window_hours)
        text = text_similarity(event.text, other.text)
        score = (w.distance * space + w.time * timeliness + w.text * text) / total_weight
        if score >= policy.min_score:
            out.append(Candidate(other, score, distance, hours, text))
    out.sort(key=lambda c: (-c.score, c.event.id))
    return out[:limit]


def duplicates_of(session: Session, *, actor: Actor, code: str, limit: int = 5) -> list[Candidate]:
    """The event's likely duplicates among those the actor may read (404 when the event is not)."""
    event = get_event(session, actor=actor, code=code)
    return find_duplicates(session, event=event, limit=limit, where=reach_filter(actor, "event.read"))
