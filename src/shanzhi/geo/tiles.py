"""Region outlines for maps, by zoom: the level that suits the zoom, simplified once and cached.

A map at zoom z shows nothing finer than a pixel (360 / (256 · 2^z) degrees of longitude), so
outlines are simplified to about a pixel and written as GeoJSON text once per (region-tree
revision, root, level, zoom); later requests only pick the cached features that meet the
viewport (by their bounding boxes, vectorized) and join their text. The key carries the
revision token every import writes, so an import in any process invalidates the cache in every
process, as for the locate index.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from shanzhi.db import get_meta
from shanzhi.errors import InvalidInput
from shanzhi.geo.levels import BY_NAME, LEVEL_NAMES, LEVELS, child_level
from shanzhi.geo.models import Region
from shanzhi.geo.service import REVISION_KEY, get_region

# The level drawn from each zoom on: about 80–200 screen pixels per region in the demo
# district (towns ~6 km across, villages ~2 km, grids ~1 km, micro-grids ~500 m), so a
# district opens on its towns, a town on its villages and a village on its micro-grids.
LEVEL_FROM_ZOOM = ((0.0, "town"), (12.5, "village"), (14.5, "grid"), (15.5, "microgrid"))
MIN_ZOOM, MAX_ZOOM = 8, 18  # coarser or finer than this, the outlines would not change
CACHE_ENTRIES = 48


def level_for(zoom: float, root_level: str) -> str:
    """The level to draw at `zoom` under a root: never the root's own level or above it."""
    by_zoom = [name for from_zoom, name in LEVEL_FROM_ZOOM if zoom >= from_zoom][-1]
    below = child_level(root_level)
    if below is None:
        return root_level
    return by_zoom if BY_NAME[by_zoom].depth > BY_NAME[root_level].depth else below.name


def zoom_key(zoom: float) -> int:
    if not math.isfinite(zoom):
        raise InvalidInput("zoom must be a number", "缩放级别应为数字", code="invalid_zoom")
    return min(max(math.floor(zoom), MIN_ZOOM), MAX_ZOOM)


@dataclass(frozen=True)
class _Layer:
    bounds: np.ndarray  # (n, 4): min_lon, min_lat, max_lon, max_lat
    features: list[str]  # one GeoJSON Feature per region, as text


_cache: OrderedDict[tuple[str, str, str, int], _Layer] = OrderedDict()
_lock = threading.Lock()


def _build(session: Session, root: str, level: str, zoom: int) -> _Layer:
    # Where the tree stops above the level (a town street without villages), its leaf is drawn,
    # so the map never has a hole there.
    child = aliased(Region)
    shallower = [lv.name for lv in LEVELS if lv.depth < BY_NAME[level].depth]
    leaf = and_(Region.level.in_(shallower), ~exists().where(child.parent_id == Region.id))
    rows = session.execute(
        select(Region.code, Region.name, Region.level, Region.geometry_wkb, Region.min_lon, Region.min_lat,
               Region.max_lon, Region.max_lat)
        .where(or_(Region.level == level, leaf), Region.code.startswith(root, autoescape=True))
        .order_by(Region.code)
    ).all()
    if not rows:
        return _Layer(np.empty((0, 4)), [])
    tolerance = 360.0 / (256.0 * 2.0**zoom)  # one pixel
    geoms = shapely.from_wkb([r.geometry_wkb for r in rows])
    simple = shapely.simplify(geoms, tolerance, preserve_topology=True)
    simple = np.where(shapely.is_empty(simple), geoms, simple)
    # Six decimals are ~10 cm: far below a pixel, and a third of the text.
    texts = shapely.to_geojson(shapely.transform(simple, lambda xy: np.round(xy, 6)))
    features = [
        '{"type":"Feature","geometry":' + g + ',"properties":'
        + json.dumps({"code": r.code, "name": r.name, "level": r.level, "level_zh": BY_NAME[r.level].label_zh},
                     ensure_ascii=False) + "}"
        for r, g in zip(rows, texts)
    ]
    bounds = np.array([(r.min_lon, r.min_lat, r.max_lon, r.max_lat) for r in rows], dtype=float)
    return _Layer(bounds, features)


def _layer(session: Session, root: str, level: str, zoom: int) -> _Layer:
    key = (get_meta(session, REVISION_KEY) or "empty", root, level, zoom)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    built = _build(session, root, level, zoom)  # outside the lock: a duplicate build is harmless
    with _lock:
        _cache[key] = built
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return built


def region_layer(
    session: Session, *, root: str, zoom: float, level: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> str:
    """The regions of `level` (default: by zoom) under `root` meeting `bbox`, as FeatureCollection text;
    where the tree ends above `level`, its leaves stand in."""
    region = get_region(session, code=root)
    if level is None:
        level = level_for(zoom, region.level)
    elif level not in LEVEL_NAMES or BY_NAME[level].depth < BY_NAME[region.level].depth:
        raise InvalidInput(f"level must be {region.level} or below", f"层级应为{BY_NAME[region.level].label_zh}或更低层级",
                           code="invalid_level")
    layer = _layer(session, root, level, zoom_key(zoom))
    chosen = range(len(layer.features))
    if bbox is not None and layer.features:
        west, south, east, north = bbox
        b = layer.bounds
        chosen = np.flatnonzero((b[:, 0] <= east) & (b[:, 2] >= west) & (b[:, 1] <= north) & (b[:, 3] >= south))
    return ('{"type":"FeatureCollection","level":' + json.dumps(level) + ',"level_zh":'
            + json.dumps(BY_NAME[level].label_zh, ensure_ascii=False) + ',"features":['
            + ",".join(layer.features[i] for i in chosen) + "]}")
