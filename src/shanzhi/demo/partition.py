"""Cutting a polygon into n compact cells: a clipped Voronoi partition (the demo's villages,
grids and micro-grids).

Seed points are sampled inside the parent and relaxed with a few Lloyd rounds; the Voronoi cells,
computed in a locally isotropic frame (lon scaled by cos φ), are densified to edges of at most
SEGMENT_DEG and intersected with the parent on the GRID_SIZE precision grid, and any detached
piece of a cell goes to the sibling it shares the longest border with. Deterministic per seed.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# Output precision: 7 decimals of a degree (about 1 cm). All overlays snap to this grid.
GRID_SIZE = 1e-7
LAT0 = 29.85
# Metres per degree in the local equirectangular frame, and lon's stretch factor for Voronoi work.
M_PER_DEG_LON = math.cos(math.radians(LAT0)) * 111320.0
M_PER_DEG_LAT = 110574.0
ASPECT = M_PER_DEG_LON / M_PER_DEG_LAT
SCALE = np.array([ASPECT, 1.0])
# Longest edge (degrees; ~48 m east-west, ~55 m north-south) of the final cells. Rounding to
# 7 decimals moves a vertex up to ~1 cm off its edge; short edges keep the slivers that creates
# well below 1 m².
SEGMENT_DEG = 0.0005


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator per (seed, stage, unit …), so stages don't disturb each other."""
    return np.random.default_rng([seed % 2**64, *keys])


def polygonal(geom: BaseGeometry) -> list[BaseGeometry]:
    """The non-empty polygons of a geometry (drops points/lines a snapped overlay may leave)."""
    parts = shapely.get_parts(geom)
    return [p for p in parts if shapely.get_type_id(p) == 3 and not p.is_empty and p.area > 0]


def _densify(cells: np.ndarray, step: float = SEGMENT_DEG) -> np.ndarray:
    """Split every edge of these single-ring polygons into pieces no longer than `step` degrees.

    An edge shared by two cells is walked in opposite directions by them; the new points are
    always computed from the lexicographically smaller end, so both cells get bit-identical
    vertices and their common border stays common.
    """
    coords, ring = shapely.get_coordinates(shapely.get_exterior_ring(cells), return_index=True)
    same = ring[:-1] == ring[1:]
    p, q, seg_ring = coords[:-1][same], coords[1:][same], ring[:-1][same]
    swap = (p[:, 0] > q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] > q[:, 1]))
    a = np.where(swap[:, None], q, p)
    b = np.where(swap[:, None], p, q)
    n = np.maximum(1, np.ceil(np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]) / step)).astype(np.int64)
    seg = np.repeat(np.arange(len(p)), n)
    j = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n)
    k = np.where(swap[seg], n[seg] - j, j)
    pts = a[seg] + (k / n[seg])[:, None] * (b[seg] - a[seg])
    start = j == 0
    pts[start] = p[seg[start]]
    rings = shapely.linearrings(pts, indices=seg_ring[seg])
    return shapely.polygons(rings)


def voronoi_cells(points: np.ndarray, parent: BaseGeometry) -> np.ndarray:
    """Unclipped Voronoi cells (lon/lat) of `points`, in input order, covering the parent."""
    scaled = points * SCALE
    minx, miny, maxx, maxy = parent.bounds
    pad = max(maxx - minx, maxy - miny)
    extent = shapely.box((minx - pad) * ASPECT, miny - pad, (maxx + pad) * ASPECT, maxy + pad)
    diagram = shapely.voronoi_polygons(shapely.multipoints(scaled), extend_to=extent, ordered=True)
    cells = shapely.get_parts(diagram)
    return shapely.transform(cells, lambda c: c / SCALE)


def sample_points(parent: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform random points strictly inside `parent` (rejection sampling)."""
    minx, miny, maxx, maxy = parent.bounds
    shapely.prepare(parent)
    found: list[np.ndarray] = []
    have = 0
    batch = max(8 * n, 64)
    while have < n:
        xy = np.column_stack([rng.uniform(minx, maxx, batch), rng.uniform(miny, maxy, batch)])
        xy = xy[shapely.contains_xy(parent, xy[:, 0], xy[:, 1])]
        found.append(xy)
        have += len(xy)
    return np.concatenate(found)[:n]


def lloyd(points: np.ndarray, parent: BaseGeometry, rounds: int, pinned: int = 0) -> np.ndarray:
    """Move each point to the centroid of its clipped cell (point on surface if that falls outside).

    The first `pinned` points stay where they are.
    """
    shapely.prepare(parent)
    for _ in range(rounds):
        clipped = shapely.intersection(voronoi_cells(points, parent), parent)
        centres = shapely.get_coordinates(shapely.centroid(clipped))
        if len(centres) != len(points):  # an empty cell; stop relaxing
            break
        inside = shapely.contains_xy(parent, centres[:, 0], centres[:, 1])
        for i in np.flatnonzero(~inside):
            centres[i] = shapely.get_coordinates(shapely.point_on_surface(clipped[i]))[0]
        centres[:pinned] = points[:pinned]
        points = centres
    return points


def give_away_orphans(
    mains: list[BaseGeometry], orphans: list[tuple[int, BaseGeometry]]
) -> list[BaseGeometry]:
    """Merge each detached piece into the sibling whose main piece shares the longest border.

    A piece that touches no sibling along an edge stays with its own cell (a MultiPolygon).
    """
    if not orphans:
        return mains
    tree = shapely.STRtree(mains)
    extra: list[list[BaseGeometry]] = [[] for _ in mains]
    for own, piece in orphans:
        best, best_len = own, 0.0
        edge = piece.boundary
        for j in sorted(int(k) for k in tree.query(piece, predicate="intersects")):
            shared = shapely.length(shapely.intersection(edge, mains[j].boundary))
            if shared > best_len + 1e-12:
                best, best_len = j, shared
        extra[best].append(piece)
    out: list[BaseGeometry] = []
    for main, more in zip(mains, extra):
        if more:
            parts = polygonal(shapely.union_all([main, *more], grid_size=GRID_SIZE))
            out.append(parts[0] if len(parts) == 1 else shapely.multipolygons(parts))
        else:
            out.append(main)
    return out


def clip_cells(cells: np.ndarray, parent: BaseGeometry) -> list[BaseGeometry] | None:
    """Clip cells to the parent on the precision grid; detached pieces go to a neighbour.

    Each cell keeps its largest piece; see `give_away_orphans` for the rest. Returns None if a
    cell comes out empty.
    """
    clipped = shapely.intersection(_densify(cells), parent, grid_size=GRID_SIZE)
    mains: list[BaseGeometry] = []
    orphans: list[tuple[int, BaseGeometry]] = []
    for i, geom in enumerate(clipped):
        parts = polygonal(geom)
        if not parts:
            return None
        parts.sort(key=lambda p: -p.area)
        mains.append(parts[0])
        orphans.extend((i, p) for p in parts[1:])
    return give_away_orphans(mains, orphans)


def _order_cells(cells: list[BaseGeometry], points: np.ndarray) -> list[BaseGeometry]:
    """Number cells in rows from north to south, west to east within a row."""
    n = len(cells)
    rows = max(1, round(math.sqrt(n)))
    lat = points[:, 1]
    lo, hi = float(lat.min()), float(lat.max())
    band = (hi - lo) / rows or 1.0
    row = np.minimum(((hi - lat) / band).astype(int), rows - 1)
    order = sorted(range(n), key=lambda i: (int(row[i]), float(points[i, 0]), i))
    return [cells[i] for i in order]


def split(parent: BaseGeometry, n: int, seed: int, *keys: int, rounds: int = 3) -> list[BaseGeometry]:
    """Partition `parent` into n cells, deterministically for (seed, keys)."""
    for attempt in range(32):
        rng = rng_for(seed, *keys, attempt)
        points = lloyd(sample_points(parent, n, rng), parent, rounds)
        cells = clip_cells(voronoi_cells(points, parent), parent)
        if cells is not None and len(cells) == n:
            return _order_cells(cells, points)
    raise RuntimeError(f"could not split a parent into {n} cells")  # pragma: no cover
