"""The command center's panels — today, this month, categories, statuses, rates, tier
containment, the ranking of the next level down and a 30-day trend — in three grouped queries.

The counts and rates are exactly those of `stats` (policy/metrics.toml): the same count
columns and `stats.figures`. What differs is how the rows are found. `stats.compute` filters
by report time alone, which no index leads with, so each call scans the events table (on
SQLite, 160,000 demo events: ~0.3 s a call, and the panels would need three calls). Here every
period query also says `status IN (every status)`, always true, which lets the database walk
ix_events_status_created (status, created_at) once per status instead.

One query grouped by day and by region of the next level down, over a window covering this
month and the last 30 days, gives the trend, today, the month's totals and the ranking (counts
add up, so a month is the sum of its days); one gives the month by major category and status;
one the open events by status and deadline state as of now."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, require_somewhere, scope_prefixes
from shanzhi.db import as_utc, shanghai_day, utcnow
from shanzhi.events import stats
from shanzhi.events.catalog import catalog
from shanzhi.events.clusters import deadline_state_sql
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.policy import workflow
from shanzhi.events.service import reach_filter
from shanzhi.geo.levels import LEVELS, child_level
from shanzhi.geo.models import Region

ACTION = "stats.read"
TREND_DAYS = 30
# The policy metrics the panels show, when the district's metrics.toml defines them.
RATE_KEYS = ("close_rate", "handled_on_time_rate", "closed_on_time_rate", "satisfaction_rate")
CONTAINMENT_KEYS = ("village_containment", "town_containment")
KEPT_COUNTS = ("reported", "registered", "handled", "closed", "overdue_unhandled", "rated")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), stats.SHANGHAI).astimezone(UTC)


def _period(start: date, end: date) -> list[ColumnElement[bool]]:
    """Events reported in [start, end) (Asia/Shanghai dates), through the (status, created_at) index."""
    return [Event.status.in_(tuple(workflow().statuses)),
            Event.created_at >= _day_start(start), Event.created_at < _day_start(end)]


def _counted(row: Any) -> dict[str, int]:
    return {name: int(row[name] or 0) for name in stats.count_labels() if name in row}


def _summary(counts: dict[str, int], policy: stats.MetricsPolicy) -> dict[str, Any]:
    """The counts and rates a panel shows, from one row of counts."""
    fig = stats.figures(counts, [], policy)
    out = {name: fig[name] for name in KEPT_COUNTS}
    out["handling_rate"] = round(fig["handled"] / fig["registered"], 4) if fig["registered"] else None
    keys = {m.key for m in policy.metrics}
    out |= {k: fig[k] for k in RATE_KEYS + CONTAINMENT_KEYS if k in keys}
    out["score"] = fig["score"]
    return out


def _ranking_level(actor: Actor) -> tuple[list[str], str | None]:
    """The scope prefixes the panels describe, and the level their ranking compares: the one
    below the widest scope (none below micro-grids)."""
    prefixes = scope_prefixes(actor, ACTION)
    if not prefixes:
        return [], None
    widest = next(lv for lv in LEVELS if lv.code_length == min(len(p) for p in prefixes))
    below = child_level(widest.name)
    return prefixes, below.name if below else None


def dashboard(session: Session, *, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the command center's side panels, within the actor's reach."""
    require_somewhere(session, actor, ACTION)
    now = as_utc(now) or utcnow()
    policy = stats.metrics_policy()
    reach = reach_filter(actor, ACTION)
    today = now.astimezone(stats.SHANGHAI).date()
    tomorrow = today + timedelta(days=1)
    month_start = today.replace(day=1)
    trend_start = today - timedelta(days=TREND_DAYS - 1)
    counts = stats.count_columns(now)  # the one definition of every count (metrics.toml)

    # 1. per day and region of the next level down, over this month and the last 30 days
    prefixes, level = _ranking_level(actor)
    day = shanghai_day(Event.created_at).label("day")
    length = next((lv.code_length for lv in LEVELS if lv.name == level), None)
    area = (func.substr(Event.region_code, 1, length) if length else literal(None)).label("area")
    by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    month: dict[str, int] = defaultdict(int)
    by_area: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in session.execute(
        select(day, area, *counts).where(reach, *_period(min(month_start, trend_start), tomorrow))
        .group_by(day, area)
    ).mappings():
        in_month = row["day"] >= month_start.isoformat()
        for name, n in _counted(row).items():
            by_day[row["day"]][name] += n
            if in_month:
                month[name] += n
                by_area[row["area"]][name] += n
    trend = [{"day": key, **{k: by_day.get(key, {}).get(k, 0) for k in ("reported", "registered", "closed")}}
             for key in ((trend_start + timedelta(days=i)).isoformat() for i in range(TREND_DAYS))]

    # 2. this month by major category and status
    major = func.substr(Event.category_code, 1, 2).label("major")
    majors: dict[str | None, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    for code, status, n in session.execute(
        select(major, Event.status, func.count()).where(reach, *_period(month_start, tomorrow))
        .group_by(major, Event.status)
    ).tuples():
        majors[code] += n
        statuses[status] += n
    names = {m.code: m.name for m in catalog().majors()}
    status_labels = workflow().statuses

    # 3. the ranking: every region of the next level down, with or without events
    ranking: list[dict[str, Any]] = []
    if level:
        for code, name in session.execute(
            select(Region.code, Region.name).where(
                Region.level == level, or_(*[Region.code.startswith(p, autoescape=True) for p in prefixes]))
        ).tuples():
            ranking.append({"code": code, "name": name, **_summary(by_area.get(code, {}), policy)})
        # Best score first; regions without a score (nothing to close yet) last, busiest first.
        ranking.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), -r["reported"], r["code"]))

    # 4. open events now, by status and deadline state
    state = deadline_state_sql(now).label("state")
    backlog: dict[str, dict[str, int]] = {s: dict.fromkeys(("none", "normal", "yellow", "red"), 0)
                                          for s in OPEN_STATUSES}
    for status, st, n in session.execute(
        select(Event.status, state, func.count()).where(reach, Event.status.in_(OPEN_STATUSES))
        .group_by(Event.status, state)
    ).tuples():
        backlog[status][st] += n

    # One scope is described by name; several (rare) as "my areas" by the page.
    scope_row = session.execute(select(Region.code, Region.name, Region.level)
                                .where(Region.code == prefixes[0])).first() if len(prefixes) == 1 else None
    labels = {m.key: m.label for m in policy.metrics if m.key in RATE_KEYS + CONTAINMENT_KEYS}
    labels |= {"handling_rate": "处置率", "score": policy.score.label}
    return {
        "now": now.isoformat(),
        "scope": {"code": scope_row.code, "name": scope_row.name, "level": scope_row.level} if scope_row else None,
        "today": {"date": today.isoformat(), **{k: v for k, v in trend[-1].items() if k != "day"}},
        "month": {"start": month_start.isoformat(), **_summary(month, policy)},
        "open": {
            "total": sum(sum(v.values()) for v in backlog.values()),
            "red": sum(v["red"] for v in backlog.values()),
            "yellow": sum(v["yellow"] for v in backlog.values()),
            "by_status": [{"status": s, "label": status_labels[s], "count": sum(v.values()), **v}
                          for s, v in backlog.items()],
        },
        "by_category": sorted(({"code": c, "name": names.get(c, c) if c else "未分类", "count": n}
                               for c, n in majors.items()), key=lambda r: (-r["count"], r["code"] or "")),
        "by_status": [{"status": s, "label": status_labels[s], "count": statuses[s]}
                      for s in status_labels if statuses.get(s)],
        "ranking": {"level": level, "items": ranking},
        "trend": trend,
        "labels": labels,
    }
