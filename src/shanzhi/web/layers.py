"""活地图 layers: one registry, one endpoint, any number of layers.

A layer is one function plus one registry entry; /map and the API are generic over them.

How to add a layer
------------------
Write the function and register it — no new page, endpoint, template or script::

    @layer("housing", "出租房屋", kind="points", action="housing.read",
           legend=(LegendItem("出租房", "#8e44ad"),))
    def housing_layer(session, *, actor, bbox, zoom, params):
        rows = ...  # only what the actor's reach covers, inside bbox, at most MAX_FEATURES
        return feature_collection([point(r.lon, r.lat, color="#8e44ad", tooltip=r.name) for r in rows])

`GET /api/v1/map/layers` then lists it to everyone whose roles grant `action` somewhere;
`GET /api/v1/map/layers/housing?bbox=W,S,E,N&zoom=Z` serves it (other query parameters reach the
function as `params`); /map shows a checkbox with its legend and redraws it as the view moves.
The endpoint checks only that the action is held *somewhere*: the function itself must keep to
the actor's reach (e.g. `events.service.reach_filter`), as list endpoints do.

What /map draws, by kind (the function returns a GeoJSON FeatureCollection unless said otherwise;
these feature properties are understood):
  points      `color`; `stroke` (an outline colour that marks a point out, e.g. overdue);
              `tooltip` (hover); `title`, `popup` ([[label, value], …]) and `href` (a 「详情」
              link) for a click; `count` > 1 draws a numbered cluster bubble that zooms in
  regions     outlines in `color` (the drill-down below stays clickable)
  choropleth  polygons filled with `color`, `tooltip` on hover; a click selects the region `code`
              in the drill-down panel and then opens `title`/`popup`/`href` if the feature has any
              (without a code, a click only opens them)
  heat        a list of [lat, lon, weight] cells (aggregate server-side), drawn by Leaflet.heat
A response may carry `summary` (a line of Chinese shown under the checkbox) and `legend`
([{label, color}, …]: what this view shows, replacing the registered legend until the next
load, e.g. the alliances in view). The endpoint
trims anything beyond MAX_FEATURES (MAX_HEAT_POINTS for heat) and marks it `truncated`, but a
layer should aggregate instead (see the events layer) so that nothing is silently dropped.
Layers of other domains (organizations, housing …) can live in their own module imported at the
end of this one, so that registering them happens on import (web/org_layers.py does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from shanzhi.accounts.authz import Actor, holds, require_somewhere
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import InvalidInput, NotFound
from shanzhi.events.catalog import category_name
from shanzhi.events.clusters import deadline_state_sql
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.policy import workflow
from shanzhi.events.service import reach_filter
from shanzhi.geo import cells
from shanzhi.geo.cells import BBox, cell_size, degrees_per_pixel, parse_bbox  # noqa: F401  (re-exported for layers)
from shanzhi.geo.levels import BY_NAME, LEVELS
from shanzhi.geo.models import Region
from shanzhi.geo.shapes import simplify, to_geojson

Kind = Literal["regions", "points", "heat", "choropleth"]
KINDS: tuple[str, ...] = ("regions", "points", "heat", "choropleth")
MAX_FEATURES = 500
MAX_HEAT_POINTS = 5000
HEAT_FLOOR = 3.0  # the fewest reports in one cell that show at full heat
MAX_PARAMS, MAX_PARAM_LENGTH = 20, 200
SHANGHAI = ZoneInfo("Asia/Shanghai")



class LayerFunction(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, bbox: BBox, zoom: float, params: Mapping[str, str]
    ) -> dict[str, Any] | list[list[float]]: ...


@dataclass(frozen=True)
class LegendItem:
    label: str
    color: str


@dataclass(frozen=True)
class Layer:
    key: str
    label: str
    kind: Kind
    action: str  # the permission that shows the layer (permissions.toml)
    fetch: LayerFunction
    default_on: bool = False
    legend: tuple[LegendItem, ...] = ()
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)  # passed to the kind's renderer (heat radius …)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "kind": self.kind, "default_on": self.default_on,
            "legend": [{"label": i.label, "color": i.color} for i in self.legend],
            "description": self.description, "options": dict(self.options),
        }


LAYERS: dict[str, Layer] = {}


def layer(
    key: str, label: str, *, kind: Kind, action: str, default_on: bool = False,
    legend: Sequence[LegendItem] = (), description: str = "", options: Mapping[str, Any] | None = None,
) -> Callable[[LayerFunction], LayerFunction]:
    """Register the decorated function as the layer `key` (the one entry a layer needs)."""

    def register(fn: LayerFunction) -> LayerFunction:
        if kind not in KINDS:
            raise ValueError(f"layer {key!r}: unknown kind {kind!r}")
        if key in LAYERS:
            raise ValueError(f"layer {key!r} is registered twice")
        LAYERS[key] = Layer(key, label, kind, action, fn, default_on, tuple(legend), description, options or {})
        return fn

    return register


# -- serving -----------------------------------------------------------------------------------


def visible_layers(actor: Actor) -> list[Layer]:
    """The layers whose action one of the actor's roles grants (registry order)."""
    return [entry for entry in LAYERS.values() if holds(actor, entry.action)]


def get_layer(key: str) -> Layer:
    entry = LAYERS.get(key)
    if entry is None:
        raise NotFound(f"No map layer {key!r}", f"图层「{key}」不存在", code="layer_not_found")
    return entry


def serve(
    session: Session, *, actor: Actor, key: str, bbox: BBox, zoom: float, params: Mapping[str, str]
) -> dict[str, Any]:
    """One layer's data for a view: permission checked, capped, tagged with key and kind."""
    entry = get_layer(key)
    require_somewhere(session, actor, entry.action)
    if len(params) > MAX_PARAMS or any(len(k) + len(v) > MAX_PARAM_LENGTH for k, v in params.items()):
        raise InvalidInput("Too many or too long layer parameters", "图层参数过多或过长", code="invalid_params")
    data = entry.fetch(session, actor=actor, bbox=bbox, zoom=zoom, params=params)
    body = _heat_body(data) if entry.kind == "heat" else _capped(data)
    return {"key": entry.key, "kind": entry.kind, **body}


def _capped(collection: Any) -> dict[str, Any]:
    features = collection["features"]
    truncated = bool(collection.get("truncated")) or len(features) > MAX_FEATURES
    return {**collection, "features": features[:MAX_FEATURES], "truncated": truncated}


def _heat_body(data: Any) -> dict[str, Any]:
    body = {"points": data} if isinstance(data, list) else dict(data)
    points = sorted(body["points"], key=lambda p: -p[2])
    kept = points[:MAX_HEAT_POINTS]
    # Colour saturates at the 95th percentile, so one busy market does not wash out the rest;
    # and never below HEAT_FLOOR, so a lone report does not glow like a hotspot.
    top = float(kept[int(0.05 * (len(kept) - 1))][2]) if kept else HEAT_FLOOR
    return {**body, "type": "Heat", "points": kept, "max": max(top, HEAT_FLOOR),
            "truncated": bool(body.get("truncated")) or len(points) > len(kept)}


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if raw.strip().isdigit() and low <= int(raw) <= high:
        return int(raw)
    raise InvalidInput(f"{name} must be an integer {low}–{high}", f"参数 {name} 应为 {low}–{high} 的整数",
                       code="invalid_params")


# -- building blocks for layer functions -------------------------------------------------------


def feature_collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, **members}


def point(lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": properties}


def grid_cells(lon: Any, lat: Any, bbox: BBox, *, zoom: float, pixels: float, max_cells: int) -> tuple[Any, Any]:
    """SQL numbering the screen-sized cell (lon, lat) falls in, for GROUP BY (geo.cells)."""
    return cells.grid_cells(lon, lat, cell_size(bbox, zoom=zoom, pixels=pixels, max_cells=max_cells))


def _in_bbox(bbox: BBox) -> list[Any]:
    return [Event.lon.between(bbox.west, bbox.east), Event.lat.between(bbox.south, bbox.north)]


# -- regions: the tree's outlines at the level that suits the zoom -----------------------------

# Roughly 60 screen pixels per region for the demo district (17 towns, 2,229 micro-grids).
OUTLINE_LEVEL_BY_ZOOM = ((0.0, "district"), (10.0, "town"), (12.0, "village"), (13.25, "grid"),
                         (14.25, "microgrid"))


@layer("regions", "区域边界", kind="regions", action="region.read",
       legend=(LegendItem("边界线（随缩放逐级细化）", "#37474f"),),
       description="放大地图时逐级显示更细的区域边界")
def regions_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
                  params: Mapping[str, str]) -> dict[str, Any]:
    # The region tree is reference data: region.read (checked by serve) covers all of it.
    overlaps = (Region.min_lon <= bbox.east, Region.max_lon >= bbox.west,
                Region.min_lat <= bbox.north, Region.max_lat >= bbox.south)
    counts = dict(session.execute(
        select(func.length(Region.code), func.count()).where(*overlaps).group_by(func.length(Region.code))).all())
    wanted = BY_NAME[[name for from_zoom, name in OUTLINE_LEVEL_BY_ZOOM if zoom >= from_zoom][-1]]
    # The deepest level up to the wanted one that the tree has here and that fits the cap.
    level = next((lv for lv in reversed(LEVELS[: wanted.depth + 1])
                  if 0 < counts.get(lv.code_length, 0) <= MAX_FEATURES), None)
    if level is None:
        return feature_collection([], summary="视野内没有区域")
    # Shallower leaves too (a street office without communities), so no part of the view is blank.
    child = aliased(Region)
    leaf = ~select(child.id).where(child.parent_id == Region.id).exists()
    depth = func.length(Region.code)
    rows = session.execute(
        select(Region.code, Region.name, Region.level, Region.geometry_wkb)
        .where(or_(depth == level.code_length, and_(depth < level.code_length, leaf)), *overlaps)
        .order_by(Region.code)).all()
    tolerance = degrees_per_pixel(zoom)  # one screen pixel: invisible, and far fewer vertices
    geoms = shapely.from_wkb([r.geometry_wkb for r in rows])
    features = [
        {"type": "Feature", "geometry": to_geojson(simplify(g, tolerance), precision=6),
         "properties": {"code": r.code, "name": r.name, "level": r.level, "tooltip": r.name}}
        for r, g in zip(rows, geoms)
    ]
    return feature_collection(features, summary=f"显示到{level.label_zh}一级，共 {len(features):,} 个")


# -- events: open events as points, or clusters when there are many ----------------------------

DEADLINE_STATES = (  # worst last: a cluster takes the colour of its worst event
    ("none", "待受理", "#7b1fa2"),
    ("normal", "办理中", "#1e88e5"),
    ("yellow", "临期（黄灯）", "#f9a825"),
    ("red", "超期（红灯）", "#e53935"),
)
STATE_RANK = {state: rank for rank, (state, _, _) in enumerate(DEADLINE_STATES)}
STATE_LABEL = {state: label for state, label, _ in DEADLINE_STATES}
STATE_COLOR = {state: color for state, _, color in DEADLINE_STATES}
POINT_ZOOM = 15  # from here on single events, when they fit under the cap
FEW_EVENTS = 100  # so few that clustering would only hide them
CLUSTER_PIXELS = 72


@layer("events", "待办事件", kind="points", action="event.read", default_on=True,
       legend=tuple(LegendItem(label, color) for _, label, color in DEADLINE_STATES),
       description="未结案的事件；缩小时按位置聚合，数字为事件数")
def events_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
                 params: Mapping[str, str]) -> dict[str, Any]:
    where = [reach_filter(actor, "event.read"), Event.status.in_(OPEN_STATUSES), *_in_bbox(bbox)]
    total = session.scalar(select(func.count()).select_from(Event).where(*where)) or 0
    if total <= MAX_FEATURES and (zoom >= POINT_ZOOM or total <= FEW_EVENTS):
        return _event_points(session, where, total)
    return _event_clusters(session, where, total, bbox, zoom)


def _event_points(session: Session, where: list[Any], total: int) -> dict[str, Any]:
    statuses = workflow().statuses
    rows = session.execute(
        select(Event.code, Event.lon, Event.lat, Event.status, deadline_state_sql(utcnow()).label("state"),
               Event.urgency, Event.category_code, Event.text, Event.created_at)
        .where(*where).order_by(Event.created_at.desc()).limit(MAX_FEATURES)).all()
    features = []
    for r in rows:
        category = category_name(r.category_code) if r.category_code else "未分类"
        urgent = "（紧急）" if r.urgency == "urgent" else ""
        reported = as_utc(r.created_at).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        text = r.text if len(r.text) <= 60 else r.text[:60] + "…"
        features.append(point(
            r.lon, r.lat, code=r.code, color=STATE_COLOR[r.state], tooltip=f"{category}{urgent} · {r.code}",
            title=f"{category}{urgent}", href=f"/events/{r.code}",
            popup=[["编号", r.code], ["状态", statuses.get(r.status, r.status)], ["时限", STATE_LABEL[r.state]],
                   ["上报时间", reported], ["内容", text]]))
    return feature_collection(features, total=total, summary=f"视野内 {total:,} 件")


def _event_clusters(session: Session, where: list[Any], total: int, bbox: BBox, zoom: float) -> dict[str, Any]:
    state = deadline_state_sql(utcnow())
    cells = grid_cells(Event.lon, Event.lat, bbox, zoom=zoom, pixels=CLUSTER_PIXELS, max_cells=MAX_FEATURES)
    rows = session.execute(
        select(func.avg(Event.lon), func.avg(Event.lat), func.count(), func.max(case(STATE_RANK, value=state)),
               func.sum(case((state == "red", 1), else_=0)), func.sum(case((state == "yellow", 1), else_=0)))
        .where(*where).group_by(*cells)).all()
    features = []
    for lon, lat, n, rank, n_red, n_yellow in rows:
        notes = "，".join(f"{label} {k} 件" for label, k in (("超期", n_red), ("临期", n_yellow)) if k)
        features.append(point(lon, lat, count=n, color=STATE_COLOR[DEADLINE_STATES[rank][0]],
                              tooltip=f"{n:,} 件待办事件" + (f"（{notes}）" if notes else "") + "，点击放大"))
    return feature_collection(features, total=total, clustered=True,
                              summary=f"视野内 {total:,} 件，已按位置聚合")


# -- heat: where events happen, binned server-side ---------------------------------------------

HEAT_PIXELS = 14  # about half Leaflet.heat's radius + blur, so its own binning changes little
HEAT_GRADIENT = (("少", "#2b83ba"), ("", "#abdda4"), ("", "#ffffbf"), ("", "#fdae61"), ("多", "#d7191c"))


@layer("heat", "事件热力", kind="heat", action="event.read",
       legend=tuple(LegendItem(label, color) for label, color in HEAT_GRADIENT),
       description="近 90 天上报事件的密度（不含不予受理和已合并的重复件）",
       options={"radius": 16, "blur": 14, "minOpacity": 0.25,
                "gradient": {"0.2": "#2b83ba", "0.4": "#abdda4", "0.6": "#ffffbf", "0.8": "#fdae61",
                             "1.0": "#d7191c"}})
def heat_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
               params: Mapping[str, str]) -> dict[str, Any]:
    days = int_param(params, "days", 90, 1, 366)
    cells = grid_cells(Event.lon, Event.lat, bbox, zoom=zoom, pixels=HEAT_PIXELS, max_cells=40_000)
    rows = session.execute(
        select(func.avg(Event.lat), func.avg(Event.lon), func.count()).where(
            reach_filter(actor, "event.read"), *_in_bbox(bbox), Event.status.not_in(("rejected", "merged")),
            Event.created_at >= utcnow() - timedelta(days=days)).group_by(*cells)).all()
    points = [[round(lat, 6), round(lon, 6), n] for lat, lon, n in rows]
    total = sum(n for _, _, n in rows)
    return {"points": points, "total": total, "summary": f"近 {days} 天视野内 {total:,} 件"}


# Other domains' layers register themselves on import; importing them here means whoever uses the
# registry (the endpoint, /map, the tests) sees them, in this order, without a second import list.
from shanzhi.web import org_layers  # noqa: F401

# isort: split
from shanzhi.web import housing_layers  # noqa: F401
