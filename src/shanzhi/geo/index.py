"""In-memory point → region lookup over the region tree.

Exact answers come from shapely STRtrees: one over the leaves (nodes without children), and one
over inner nodes for the rare point that lies in a parent but in none of its children.

The bulk path adds a raster accelerator. A uniform grid covers the tree's bounds; a cell that no
region boundary comes near lies wholly inside one set of nested regions, so its deepest region
is a property of the cell. Such "pure" cells are found by sampling every boundary densely and
marking the cells the samples fall in (and neighbours within a margin); 4-connected pure cells
cannot be separated by a boundary, so one exact lookup per connected component labels them all.
Points in pure cells are answered by array indexing; only points in boundary cells go to the
STRtree. The answer is identical to the exact path (tests check it against brute force).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from shanzhi.geo.levels import BY_NAME

OUTSIDE = -1
_IMPURE = -2
# Raster size: about this many cells per leaf region, within fixed bounds, so a district gets
# ~1M cells (boundary cells ≈ 10%) and a small test tree stays cheap to build.
_CELLS_PER_LEAF = 400
_MIN_CELLS = 4_096
_MAX_CELLS = 1 << 22


@dataclass(frozen=True, slots=True)
class RegionRecord:
    code: str
    name: str
    level: str
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class RegionRef:
    code: str
    name: str
    level: str


class RegionIndex:
    """Locates points (WGS84 lon/lat) in the deepest region that contains them."""

    def __init__(self, records: Sequence[RegionRecord]) -> None:
        records = sorted(records, key=lambda r: (BY_NAME[r.level].depth, r.code))
        self.refs: list[RegionRef] = [RegionRef(r.code, r.name, r.level) for r in records]
        self._pos = {r.code: i for i, r in enumerate(records)}
        n = len(records)
        self._depth = np.array([BY_NAME[r.level].depth for r in records], dtype=np.int16)
        self._parent = np.full(n, -1, dtype=np.int64)
        for i, r in enumerate(records):
            # A child's code starts with its parent's; walk up the code until a node matches.
            for cut in range(len(r.code) - 3, 5, -3):
                p = self._pos.get(r.code[:cut])
                if p is not None:
                    self._parent[i] = p
                    break
        geoms = np.array([r.geometry for r in records], dtype=object)
        shapely.prepare(geoms)
        self._geoms = geoms
        has_child = np.zeros(n, dtype=bool)
        has_child[self._parent[self._parent >= 0]] = True
        self._leaf_ids = np.flatnonzero(~has_child)
        self._inner_ids = np.flatnonzero(has_child)
        self._leaf_tree = STRtree(geoms[self._leaf_ids])
        self._inner_tree = STRtree(geoms[self._inner_ids])
        self._chains: list[tuple[RegionRef, ...] | None] = [None] * n
        self._raster_lock = threading.Lock()
        self._raster: _Raster | None = None

    def __len__(self) -> int:
        return len(self.refs)

    # -- exact path -------------------------------------------------------------------------

    def locate(self, lon: float, lat: float) -> int:
        """Position of the deepest region containing the point, or OUTSIDE."""
        raster = self._raster
        if raster is not None:
            label = raster.lookup_one(lon, lat)
            if label != _IMPURE:
                return label
        return self._locate_exact(shapely.Point(lon, lat))

    def _locate_exact(self, point: BaseGeometry) -> int:
        hits = self._leaf_tree.query(point, predicate="intersects")
        if len(hits):
            return int(self._leaf_ids[hits.min()])
        return self._deepest_inner(self._inner_tree.query(point, predicate="intersects"))

    def _deepest_inner(self, hits: np.ndarray) -> int:
        if not len(hits):
            return OUTSIDE
        ids = self._inner_ids[hits]
        # Deepest first; among equals (a point on a shared border) the first in code order.
        return int(ids[np.lexsort((ids, -self._depth[ids]))[0]])

    def _locate_exact_many(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        out = np.full(len(lons), OUTSIDE, dtype=np.int64)
        if not len(lons):
            return out
        points = shapely.points(lons, lats)
        src, hit = self._leaf_tree.query(points, predicate="intersects")
        if len(src):
            best = np.full(len(lons), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(best, src, self._leaf_ids[hit])
            found = best != np.iinfo(np.int64).max
            out[found] = best[found]
        missing = np.flatnonzero(out == OUTSIDE)
        if len(missing) and len(self._inner_ids):
            src, hit = self._inner_tree.query(points[missing], predicate="intersects")
            for k in np.unique(src):
                out[missing[k]] = self._deepest_inner(hit[src == k])
        return out

    # -- bulk path --------------------------------------------------------------------------

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Positions for many points at once (OUTSIDE where none); vectorized."""
        lons = np.asarray(lons, dtype=np.float64)
        lats = np.asarray(lats, dtype=np.float64)
        raster = self.raster()
        if raster is None:
            return self._locate_exact_many(lons, lats)
        labels = raster.lookup_many(lons, lats)
        todo = np.flatnonzero(labels == _IMPURE)
        if len(todo):
            labels[todo] = self._locate_exact_many(lons[todo], lats[todo])
        return labels

    def raster(self) -> _Raster | None:
        """The accelerator, built on first bulk use (about a second for a district)."""
        if self._raster is None and len(self.refs):
            with self._raster_lock:
                if self._raster is None:
                    self._raster = _Raster.build(self)
        return self._raster

    # -- answers ----------------------------------------------------------------------------

    def geometry(self, pos: int) -> BaseGeometry:
        return self._geoms[pos]

    def chain(self, pos: int) -> tuple[RegionRef, ...]:
        """The region and its ancestors, district first."""
        cached = self._chains[pos]
        if cached is None:
            path = []
            p = pos
            while p >= 0:
                path.append(self.refs[p])
                p = int(self._parent[p])
            cached = tuple(reversed(path))
            self._chains[pos] = cached
        return cached


class _Raster:
    def __init__(
        self, x0: float, y0: float, cell: float, nx: int, ny: int, labels: np.ndarray
    ) -> None:
        self.x0, self.y0, self.cell, self.nx, self.ny = x0, y0, cell, nx, ny
        self.inv = 1.0 / cell
        self.labels = labels  # int64 (ny * nx), _IMPURE on boundary cells
        self._flat = labels.tolist()  # plain list: faster than numpy for one item at a time

    @classmethod
    def build(cls, index: RegionIndex) -> _Raster:
        geoms = index._geoms
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        n_cells = min(_MAX_CELLS, max(_MIN_CELLS, _CELLS_PER_LEAF * len(index._leaf_ids)))
        width, height = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        cell = math.sqrt(width * height / n_cells)
        nx, ny = int(width / cell) + 1, int(height / cell) + 1
        near = _cells_near_boundaries(geoms, x0, y0, cell, nx, ny)
        components, count = ndimage.label(~near)  # 4-connectivity by default
        labels = np.full(ny * nx, _IMPURE, dtype=np.int64)
        flat = components.ravel()
        comp_ids, first = np.unique(flat, return_index=True)
        keep = comp_ids > 0
        comp_ids, first = comp_ids[keep], first[keep]
        cx = x0 + (first % nx + 0.5) * cell
        cy = y0 + (first // nx + 0.5) * cell
        comp_label = np.full(count + 1, _IMPURE, dtype=np.int64)
        comp_label[comp_ids] = index._locate_exact_many(cx, cy)
        pure = flat > 0
        labels[pure] = comp_label[flat[pure]]
        return cls(x0, y0, cell, nx, ny, labels)

    def lookup_one(self, lon: float, lat: float) -> int:
        ix = int((lon - self.x0) * self.inv)
        iy = int((lat - self.y0) * self.inv)
        if lon < self.x0 or lat < self.y0 or ix >= self.nx or iy >= self.ny:
            return OUTSIDE
        return self._flat[iy * self.nx + ix]

    def lookup_many(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        fx = (lons - self.x0) * self.inv
        fy = (lats - self.y0) * self.inv
        inside = (fx >= 0) & (fy >= 0) & (fx < self.nx) & (fy < self.ny)
        out = np.full(len(lons), OUTSIDE, dtype=np.int64)
        idx = fy[inside].astype(np.int64) * self.nx + fx[inside].astype(np.int64)
        out[inside] = self.labels[idx]
        return out


def _cells_near_boundaries(
    geoms: np.ndarray, x0: float, y0: float, cell: float, nx: int, ny: int
) -> np.ndarray:
    """Boolean (ny, nx): cells within cell/4 of any region boundary.

    Boundaries are sampled every cell/4, so every boundary point is within cell/8 of a sample;
    marking each sample's cell and any neighbour within cell/4 of it marks every cell a
    boundary touches, with margin to spare for rounding.
    """
    # Boundaries of multipolygons are multilinestrings: split into parts so segments never
    # join two rings.
    parts = shapely.get_parts(shapely.boundary(geoms))
    coords, ring = shapely.get_coordinates(parts, return_index=True)
    same = ring[:-1] == ring[1:]
    a, b = coords[:-1][same], coords[1:][same]
    step = cell / 4
    seg_len = np.hypot(*(b - a).T)
    n = np.ceil(seg_len / step).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(a)), n)
    offsets = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n)
    t = offsets / np.maximum(np.repeat(n, n) - 1, 1)
    pts = a[seg] + (b[seg] - a[seg]) * t[:, None]
    fx = (pts[:, 0] - x0) / cell
    fy = (pts[:, 1] - y0) / cell
    ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    rx, ry = fx - ix, fy - iy
    margin = 0.25
    near = np.zeros((ny, nx), dtype=bool)
    for dx, mx in ((-1, rx < margin), (0, np.ones_like(rx, dtype=bool)), (1, rx > 1 - margin)):
        for dy, my in ((-1, ry < margin), (0, np.ones_like(ry, dtype=bool)), (1, ry > 1 - margin)):
            sel = mx & my
            cx, cy = ix[sel] + dx, iy[sel] + dy
            ok = (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
            near[cy[ok], cx[ok]] = True
    return near
