"""Geometry helpers: GeoJSON parsing, metric projection, areas.

Polygons are stored in WGS84 degrees. For areas and tolerances we project to a local
equirectangular plane (metres), which is accurate to well under 1% across a district or a city.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


def to_metres(geoms: Any, lat0: float) -> Any:
    """Project geometries (one or an array) from degrees to metres around latitude lat0."""
    kx = M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))
    scale = np.array([kx, M_PER_DEG_LAT])
    return shapely.transform(geoms, lambda xy: xy * scale)


def area_km2(geom: BaseGeometry) -> float:
    lat0 = geom.centroid.y if not geom.is_empty else 0.0
    return float(to_metres(geom, lat0).area) / 1e6


def from_geojson(obj: Any) -> BaseGeometry:
    """A GeoJSON geometry dict → shapely geometry (raises ValueError/TypeError on malformed input)."""
    if not isinstance(obj, dict):
        raise TypeError("geometry must be an object")
    return shapely.geometry.shape(obj)


def to_geojson(geom: BaseGeometry, precision: int = 7) -> dict[str, Any]:
    mapping = shapely.geometry.mapping(geom)
    return _round(mapping, precision)


def _round(value: Any, precision: int) -> Any:
    if isinstance(value, float):
        return round(value, precision)
    if isinstance(value, (list, tuple)):
        return [_round(v, precision) for v in value]
    if isinstance(value, dict):
        return {k: _round(v, precision) for k, v in value.items()}
    return value


def simplify(geom: BaseGeometry, tolerance: float) -> BaseGeometry:
    """Simplify for display, keeping topology valid; tolerance is in degrees."""
    if tolerance <= 0:
        return geom
    out = shapely.simplify(geom, tolerance, preserve_topology=True)
    return out if not out.is_empty else geom
