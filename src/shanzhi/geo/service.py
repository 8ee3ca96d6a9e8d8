"""Region tree rules: import/export, queries, and locating points.

Plain functions taking a session; they flush, the caller's boundary commits.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.audit import service as audit
from shanzhi.db import get_meta, set_meta
from shanzhi.errors import InvalidInput, NotFound
from shanzhi.geo import coords
from shanzhi.geo.index import OUTSIDE, RegionIndex, RegionRecord, RegionRef
from shanzhi.geo.levels import BY_NAME, LEVEL_NAMES, VILLAGE_TYPES, parent_level
from shanzhi.geo.models import Region
from shanzhi.geo.shapes import area_km2, simplify, to_geojson
from shanzhi.geo.validate import RegionInput, parse_feature_collection, validate_tree

REVISION_KEY = "regions_revision"
MAX_PAGE_SIZE = 500
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Page:
    items: list[Region]
    total: int
    page: int
    size: int


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


@dataclass(frozen=True)
class Located:
    lon: float  # WGS84
    lat: float
    chain: tuple[RegionRef, ...]  # district first


def parent_code(region: Region) -> str | None:
    up = parent_level(region.level)
    return region.code[: up.code_length] if up else None


def region_properties(region: Region) -> dict[str, Any]:
    """What the API and GeoJSON export say about a region (no geometry)."""
    return {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "level_zh": BY_NAME[region.level].label_zh,
        "parent_code": parent_code(region),
        "centroid": [round(region.centroid_lon, 7), round(region.centroid_lat, 7)],
        "bbox": [round(v, 7) for v in (region.min_lon, region.min_lat, region.max_lon, region.max_lat)],
        "area_km2": round(region.area_km2, 4),
        "village_type": region.village_type,
        "village_type_zh": VILLAGE_TYPES.get(region.village_type or ""),
        "households": region.households,
        "population": region.population,
        "floating_population": region.floating_population,
    }


# -- queries -----------------------------------------------------------------------------------


def list_regions(
    session: Session,
    *,
    level: str | None = None,
    parent: str | None = None,
    q: str | None = None,
    page: int = 1,
    size: int = 50,
) -> Page:
    if level is not None and level not in LEVEL_NAMES:
        raise InvalidInput(
            f"Unknown level {level!r}; use one of {', '.join(LEVEL_NAMES)}",
            f"未知层级 {level!r}，应为 {', '.join(LEVEL_NAMES)} 之一",
            code="unknown_level",
        )
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"page must be ≥ 1 and size 1–{MAX_PAGE_SIZE}",
            f"页码应 ≥ 1，每页条数应为 1–{MAX_PAGE_SIZE}",
            code="invalid_paging",
        )
    stmt = select(Region)
    if level:
        stmt = stmt.where(Region.level == level)
    if parent:
        parent_row = get_region(session, code=parent)
        stmt = stmt.where(Region.parent_id == parent_row.id)
    if q:
        stmt = stmt.where(Region.name.contains(q, autoescape=True) | Region.code.startswith(q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Region.code).offset((page - 1) * size).limit(size)).all()
    return Page(list(rows), total, page, size)


def get_region(session: Session, *, code: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(
            f"Region {code} not found", f"区域 {code} 不存在", code="region_not_found"
        )
    return region


def region_chain(session: Session, *, code: str) -> list[RegionRef]:
    """The region and its ancestors, district first (names only: no polygons loaded)."""
    prefixes = [code[: lv.code_length] for lv in BY_NAME.values() if lv.code_length <= len(code)]
    rows = session.execute(
        select(Region.code, Region.name, Region.level).where(Region.code.in_(prefixes)).order_by(Region.code)
    ).all()
    return [RegionRef(c, n, lv) for c, n, lv in rows]


def region_detail(session: Session, *, code: str) -> dict[str, Any]:
    region = get_region(session, code=code)
    chain = region_chain(session, code=code)
    counts = dict(
        session.execute(
            select(Region.level, func.count())
            .where(Region.code.startswith(code), Region.code != code)
            .group_by(Region.level)
        ).all()
    )
    children = session.scalar(select(func.count()).where(Region.parent_id == region.id)) or 0
    return {
        **region_properties(region),
        "chain": [ref_dict(r.code, r.name, r.level) for r in chain],
        "children_count": children,
        "descendants": {lv: counts.get(lv, 0) for lv in LEVEL_NAMES if BY_NAME[lv].code_length > len(code)},
    }


def ref_dict(code: str, name: str, level: str) -> dict[str, str]:
    return {"code": code, "name": name, "level": level, "level_zh": BY_NAME[level].label_zh}


def region_features(
    session: Session, *, code: str, children: bool = False, tolerance: float = 0.0
) -> dict[str, Any]:
    """A region (or its children) as a GeoJSON FeatureCollection, simplified for display."""
    if not 0 <= tolerance <= 1:
        raise InvalidInput(
            "tolerance must be between 0 and 1 degree",
            "简化容差应在 0 到 1 度之间",
            code="invalid_tolerance",
        )
    region = get_region(session, code=code)
    rows = (
        session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.code)).all()
        if children
        else [region]
    )
    return _feature_collection(rows, tolerance)


def _feature_collection(rows: list[Region] | Any, tolerance: float = 0.0) -> dict[str, Any]:
    rows = list(rows)
    geoms = shapely.from_wkb([r.geometry_wkb for r in rows]) if rows else []
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": to_geojson(simplify(g, tolerance)),
                "properties": region_properties(r),
            }
            for r, g in zip(rows, geoms)
        ],
    }


def export_regions(session: Session, *, root: str | None = None, level: str | None = None) -> dict[str, Any]:
    """The tree (or a subtree, down to a level) as a FeatureCollection that import accepts back."""
    stmt = select(Region)
    if root:
        get_region(session, code=root)
        stmt = stmt.where(Region.code.startswith(root))
    if level:
        if level not in LEVEL_NAMES:
            raise InvalidInput(
                f"Unknown level {level!r}", f"未知层级 {level!r}", code="unknown_level"
            )
        stmt = stmt.where(func.length(Region.code) <= BY_NAME[level].code_length)
    rows = session.scalars(stmt.order_by(func.length(Region.code), Region.code)).all()
    return _feature_collection(rows)


# -- import ------------------------------------------------------------------------------------


def import_regions(
    session: Session, *, data: Any, progress: Progress | None = None, by: str = "命令行 CLI"
) -> ImportResult:
    """Validate a FeatureCollection against the stored tree, then create or update by code.

    Nothing is written unless the whole file is valid; the caller's transaction makes the
    writes all-or-nothing.
    """
    incoming = parse_feature_collection(data)
    if not incoming:
        raise InvalidInput("The file has no regions", "文件中没有区域", code="empty_import")
    stored = {n.code: n for n in _stored_inputs(session)}
    validate_tree(incoming, stored)

    rows = {r.code: r for r in session.scalars(select(Region)).all()}
    incoming.sort(key=lambda n: (BY_NAME[n.level].depth, n.code))
    created = updated = 0
    for depth_done, node in enumerate(incoming, 1):
        row = rows.get(node.code)
        if row is None:
            row = Region(code=node.code, level=node.level)
            session.add(row)
            rows[node.code] = row
            created += 1
        else:
            updated += 1
        _fill(row, node, rows)
        # Children need their parent's id: flush whenever the level changes.
        nxt = incoming[depth_done] if depth_done < len(incoming) else None
        if nxt is None or nxt.level != node.level:
            session.flush()
        if progress and (depth_done % 200 == 0 or nxt is None):
            progress("写入区域", depth_done, len(incoming))
    revision = uuid.uuid4().hex
    set_meta(session, REVISION_KEY, revision)
    # Imports come from the server's shell (the operator), never from the web.
    audit.record(session, action="region.import", actor_name=by, target_type="region_tree",
                 region_code=min((n.code for n in incoming), key=len),
                 after={"created": created, "updated": updated, "revision": revision})
    return ImportResult(created, updated)


def _fill(row: Region, node: RegionInput, rows: dict[str, Region]) -> None:
    geom = node.geometry
    c = geom.centroid
    row.name = node.name
    row.parent_id = rows[node.parent_code].id if node.parent_code else None
    row.geometry_wkb = shapely.to_wkb(geom)
    row.centroid_lon, row.centroid_lat = c.x, c.y
    row.min_lon, row.min_lat, row.max_lon, row.max_lat = geom.bounds
    row.area_km2 = area_km2(geom)
    row.village_type = node.attrs.get("village_type")
    row.households = node.attrs.get("households")
    row.population = node.attrs.get("population")
    row.floating_population = node.attrs.get("floating_population")


def _stored_inputs(session: Session) -> list[RegionInput]:
    rows = session.execute(select(Region.code, Region.name, Region.level, Region.geometry_wkb)).all()
    geoms = shapely.from_wkb([r.geometry_wkb for r in rows]) if rows else []
    out = []
    for r, g in zip(rows, geoms):
        up = parent_level(r.level)
        out.append(RegionInput(None, r.level, r.code, r.name, r.code[: up.code_length] if up else None, g))
    return out


# -- locating ----------------------------------------------------------------------------------

_index_lock = threading.Lock()
_index_cache: tuple[str, RegionIndex] | None = None


def get_index(session: Session) -> RegionIndex:
    """The spatial index for the tree as this session sees it.

    Keyed by the random revision token each import writes, so every process rebuilds after
    any process changes the regions, and a rolled-back import never poisons the cache.
    """
    global _index_cache
    revision = get_meta(session, REVISION_KEY) or "empty"
    cached = _index_cache
    if cached is not None and cached[0] == revision:
        return cached[1]
    with _index_lock:
        if _index_cache is not None and _index_cache[0] == revision:
            return _index_cache[1]
        rows = session.execute(select(Region.code, Region.name, Region.level, Region.geometry_wkb)).all()
        geoms = shapely.from_wkb([r.geometry_wkb for r in rows]) if rows else []
        index = RegionIndex([RegionRecord(r.code, r.name, r.level, g) for r, g in zip(rows, geoms)])
        _index_cache = (revision, index)
        return index


def outside_jurisdiction(lon: float, lat: float) -> NotFound:
    return NotFound(
        f"Point ({lon:.6f}, {lat:.6f}) lies outside the jurisdiction",
        f"该位置（{lon:.6f}, {lat:.6f}）不在本辖区范围内",
        code="outside_jurisdiction",
    )


def locate(session: Session, *, lon: float, lat: float, crs: str = "wgs84") -> Located:
    """The chain of regions containing a point, district first; NotFound when outside."""
    wlon, wlat = coords.to_wgs84(lon, lat, crs)
    index = get_index(session)
    pos = index.locate(wlon, wlat)
    if pos == OUTSIDE:
        raise outside_jurisdiction(wlon, wlat)
    return Located(wlon, wlat, index.chain(pos))


def locate_many(
    session: Session, *, lons: np.ndarray, lats: np.ndarray, crs: str = "wgs84"
) -> list[tuple[RegionRef, ...] | None]:
    """Chains for many points (None where a point is outside); vectorized."""
    wlons, wlats = coords.to_wgs84_many(np.asarray(lons, float), np.asarray(lats, float), crs)
    index = get_index(session)
    return [index.chain(int(p)) if p != OUTSIDE else None for p in index.locate_many(wlons, wlats)]
