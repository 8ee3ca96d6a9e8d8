"""Map boxes and the screen-sized grid that every map aggregation shares.

A map asks for a viewport (a WGS84 box) at a zoom; layers with too many things to draw group
them, in the database, into cells of about N screen pixels. The grid is anchored at
(-180°, -90°), so a cell stays put while the map pans, and a box too large for `max_cells`
gets cells doubled in size, so the coarser grid stays aligned with the finer one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shanzhi.db import floor_int
from shanzhi.errors import InvalidInput


@dataclass(frozen=True)
class BBox:
    """A WGS84 box: west, south, east, north (degrees)."""

    west: float
    south: float
    east: float
    north: float


def parse_bbox(text: str) -> BBox:
    """'minlon,minlat,maxlon,maxlat' (Leaflet's toBBoxString) → BBox, or a 422 in Chinese."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 4 and all(math.isfinite(v) for v in values):
        box = BBox(*values)
        if -180 <= box.west < box.east <= 180 and -90 <= box.south < box.north <= 90:
            return box
    raise InvalidInput("bbox must be minlon,minlat,maxlon,maxlat in WGS84 degrees",
                       "bbox 应为“最小经度,最小纬度,最大经度,最大纬度”（WGS84 度），例如 121.3,29.8,121.5,29.9",
                       code="invalid_bbox")


def degrees_per_pixel(zoom: float) -> float:
    """Longitude degrees one screen pixel spans at a zoom (Web Mercator, 256-px tiles)."""
    return 360.0 / (256.0 * 2.0**zoom)


def cell_size(bbox: BBox, *, zoom: float, pixels: float, max_cells: int) -> tuple[float, float]:
    """The (longitude, latitude) degrees of a cell of about `pixels` screen pixels at `zoom`,
    doubled until `bbox` needs at most `max_cells`, so an answer's size never depends on how much
    data there is."""
    size_lon = pixels * degrees_per_pixel(zoom)
    # Square on the screen (Mercator); the latitude is rounded so a pan does not reshape cells.
    size_lat = size_lon * math.cos(math.radians(round((bbox.south + bbox.north) / 2)))
    while math.ceil((bbox.east - bbox.west) / size_lon) * math.ceil((bbox.north - bbox.south) / size_lat) > max_cells:
        size_lon, size_lat = size_lon * 2, size_lat * 2
    return size_lon, size_lat


def grid_cells(lon: Any, lat: Any, size: tuple[float, float]) -> tuple[floor_int, floor_int]:
    """SQL numbering the cell of `size` degrees that (lon, lat) falls in, for GROUP BY."""
    return floor_int((lon + 180.0) / size[0]), floor_int((lat + 90.0) / size[1])
