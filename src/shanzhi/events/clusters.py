"""Open events on the command center's map, aggregated in the database per zoom and viewport.

Below POINT_ZOOM the viewport is cut into cells of about CELL_PIXELS screen pixels on a grid
anchored at (-180°, -90°), so a cell stays put while the map pans, and ONE grouped query
answers count, mean position, per-status and per-deadline-state counts for each non-empty
cell: the answer's size follows the screen, never the number of events. From POINT_ZOOM on,
the events themselves come back, worst deadline first, at most MAX_POINTS of them.

Only open events are drawn. They are few beside the closed ones (the demo district: under a
thousand of 160,000), so `status IN (open …)` rides ix_events_status_created and reach and
viewport filter what remains. An event located by region code alone (no point) is drawn at
its region's centroid.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, require_somewhere
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import InvalidInput
from shanzhi.events.catalog import category_name
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.policy import workflow
from shanzhi.events.service import reach_filter
from shanzhi.geo import cells
from shanzhi.geo.cells import BBox, parse_bbox  # noqa: F401  (parse_bbox: the endpoints' parser)
from shanzhi.geo.models import Region

POINT_ZOOM = 15  # from here on single events instead of cells
MAX_POINTS = 500
MAX_CELLS = 500  # a huge viewport gets coarser cells rather than more of them
CELL_PIXELS = 64
MAX_ZOOM = 22
# Worst last: a cell is drawn in the colour of its worst event.
DEADLINE_ORDER = ("none", "normal", "yellow", "red")


def check_zoom(zoom: float) -> float:
    if not (math.isfinite(zoom) and 0 <= zoom <= MAX_ZOOM):
        raise InvalidInput(f"zoom must be between 0 and {MAX_ZOOM}", f"缩放级别应在 0 到 {MAX_ZOOM} 之间",
                           code="invalid_zoom")
    return zoom


# -- SQL building blocks, shared with the live feed and the dashboard ---------------------------


def deadline_state_sql(now: datetime) -> ColumnElement[str]:
    """An open event's deadline state as of `now` from its yellow and due marks (the stored
    column is what the worker last marked, which lags by up to a sweep)."""
    return case((Event.due_at.is_(None), "none"), (Event.due_at < now, "red"),
                (Event.yellow_at <= now, "yellow"), else_="normal")


def position_sql() -> tuple[ColumnElement[float], ColumnElement[float]]:
    """Longitude and latitude: the reported point, else the region's centroid (needs
    `.outerjoin(Region, Region.code == Event.region_code)`)."""
    return (func.coalesce(Event.lon, Region.centroid_lon).label("lon"),
            func.coalesce(Event.lat, Region.centroid_lat).label("lat"))


# -- the answer ---------------------------------------------------------------------------------


def cell_size(zoom: float, box: BBox) -> tuple[float, float]:
    """Degrees of longitude and latitude of a cell of about CELL_PIXELS pixels at `zoom`."""
    return cells.cell_size(box, zoom=zoom, pixels=CELL_PIXELS, max_cells=MAX_CELLS)


def clusters(
    session: Session, *, actor: Actor, bbox: BBox, zoom: float, now: datetime | None = None,
) -> dict[str, Any]:
    """Open events within reach inside `bbox`: cells below POINT_ZOOM, single events from it."""
    require_somewhere(session, actor, "event.read")
    check_zoom(zoom)
    now = as_utc(now) or utcnow()
    lon, lat = position_sql()
    where = [Event.status.in_(OPEN_STATUSES), reach_filter(actor, "event.read"),
             lon.between(bbox.west, bbox.east), lat.between(bbox.south, bbox.north)]
    if zoom >= POINT_ZOOM:
        return _points(session, where, zoom, now)
    return _cells(session, where, zoom, bbox, now)


def _cells(session: Session, where: list[Any], zoom: float, bbox: BBox, now: datetime) -> dict[str, Any]:
    size_lon, size_lat = cell_size(zoom, bbox)
    lon, lat = position_sql()
    state = deadline_state_sql(now)
    cx, cy = cells.grid_cells(lon, lat, (size_lon, size_lat))
    statuses = workflow().statuses
    columns = [
        func.count().label("count"), func.avg(lon).label("lon"), func.avg(lat).label("lat"),
        # The code of a lone event, so the map can draw it as itself.
        func.min(Event.code).label("code"),
        *[func.sum(case((state == s, 1), else_=0)).label(s) for s in DEADLINE_ORDER],
        *[func.sum(case((Event.status == s, 1), else_=0)).label(f"s_{s}") for s in OPEN_STATUSES],
    ]
    stmt = (select(cx.label("cx"), cy.label("cy"), *columns)
            .select_from(Event).outerjoin(Region, Region.code == Event.region_code)
            .where(*where).group_by(cx, cy))
    items = []
    totals = dict.fromkeys(DEADLINE_ORDER, 0)
    for row in session.execute(stmt).mappings():
        states = {s: int(row[s] or 0) for s in DEADLINE_ORDER}
        for s, n in states.items():
            totals[s] += n
        count = int(row["count"])
        items.append({
            "lon": round(float(row["lon"]), 6), "lat": round(float(row["lat"]), 6), "count": count,
            "worst": next(s for s in reversed(DEADLINE_ORDER) if states[s]),
            "red": states["red"], "yellow": states["yellow"],
            "statuses": {s: int(row[f"s_{s}"]) for s in OPEN_STATUSES if row[f"s_{s}"]},
            "code": row["code"] if count == 1 else None,
        })
    items.sort(key=lambda c: (-c["count"], c["lon"], c["lat"]))
    return {"mode": "clusters", "zoom": zoom, "cell": [size_lon, size_lat], "total": sum(totals.values()),
            "red": totals["red"], "yellow": totals["yellow"], "truncated": False, "items": items,
            "status_labels": {s: statuses[s] for s in OPEN_STATUSES}}


def _points(session: Session, where: list[Any], zoom: float, now: datetime) -> dict[str, Any]:
    lon, lat = position_sql()
    state = deadline_state_sql(now)
    worst_first = case({s: i for i, s in enumerate(reversed(DEADLINE_ORDER))}, value=state)
    located = select().select_from(Event).outerjoin(Region, Region.code == Event.region_code).where(*where)
    counts = session.execute(located.add_columns(
        func.count(), *[func.sum(case((state == s, 1), else_=0)) for s in ("red", "yellow")])).one()
    rows = session.execute(
        located.add_columns(Event.code, lon, lat, Event.status, state.label("deadline_state"), Event.category_code,
                            Event.urgency, Event.text, Event.created_at)
        .order_by(worst_first, Event.id.desc()).limit(MAX_POINTS)).mappings().all()
    statuses = workflow().statuses
    items = [{
        "code": r["code"], "lon": round(float(r["lon"]), 6), "lat": round(float(r["lat"]), 6),
        "status": r["status"], "status_label": statuses[r["status"]], "deadline_state": r["deadline_state"],
        "category": category_name(r["category_code"]) if r["category_code"] else None,
        "urgency": r["urgency"], "text": r["text"] if len(r["text"]) <= 60 else r["text"][:60] + "…",
        "created_at": as_utc(r["created_at"]).isoformat(),
    } for r in rows]
    total = int(counts[0])
    return {"mode": "points", "zoom": zoom, "total": total, "red": int(counts[1] or 0),
            "yellow": int(counts[2] or 0), "truncated": total > len(items), "items": items,
            "status_labels": {s: statuses[s] for s in OPEN_STATUSES}}
