"""The demo district: a deterministic, synthetic 海曙区 (Ningbo, 330203) with five levels.

Geometry is built top-down. The district outline is a hand-placed control polygon roughened by
seeded midpoint displacement. Every lower level partitions its parent with a clipped Voronoi
diagram (demo/partition.py). Towns are different: the outline is cut into ~1,600 small cells, each
given to the nearest town seat (real positions, weighted, with a smooth noise term), and a town is
the union of its small cells, so town borders wander instead of running straight.

Cells are densified to edges of at most ~50 m before clipping: rounding to 7 decimals moves a
crossing point up to ~1 cm off its parent's edge, and short edges keep the resulting slivers
(overlaps between neighbours, bits outside the parent) well below 0.5 m².

All coordinates are WGS84 lon/lat already snapped to 7 decimals, so rounding for output changes
nothing and every geometry stays valid. The same seed gives byte-identical output.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from shanzhi.demo.names import VillageNamer, grid_name, microgrid_name
from shanzhi.demo.partition import (
    GRID_SIZE,
    M_PER_DEG_LAT,
    M_PER_DEG_LON,
    SCALE,
    SEGMENT_DEG,
    clip_cells,
    give_away_orphans,
    lloyd,
    polygonal,
    rng_for,
    sample_points,
    split,
    voronoi_cells,
)

__all__ = [
    "DISTRICT_CODE",
    "DISTRICT_NAME",
    "TOWNS",
    "TOTAL_VILLAGES",
    "TOTAL_GRIDS",
    "TOTAL_MICROGRIDS",
    "TownSpec",
    "apportion",
    "build_district",
]

Progress = Callable[[str, int, int], None]

DISTRICT_CODE = "330203"
DISTRICT_NAME = "海曙区"

TOTAL_VILLAGES = 164
TOTAL_GRIDS = 572
TOTAL_MICROGRIDS = 2229
VILLAGES_PER_TOWN = (15, 28)
GRIDS_PER_VILLAGE = (2, 6)
MICROGRIDS_PER_GRID = (2, 7)


BOUNDS = (121.25, 29.75, 121.60, 29.95)
# Keep the outline this far inside BOUNDS.
_MARGIN = 0.003

# 三江口 / the old city: distance from here decides urban vs suburban villages.
CITY_CENTRE = (121.545, 29.872)
URBAN_RADIUS_KM = 9.0
# Villages of 洞桥镇 west of this longitude are in the hills.
DONGQIAO_WEST_LON = 121.41
MOUNTAIN_TOWNS = frozenset({"鄞江镇", "章水镇", "龙观乡"})

# Town partition: number of small cells, how much borders wander (m), and size weights
# (a town's reach is its distance to a small cell divided by its weight).
_FINE_CELLS = 1600
_BORDER_WIGGLE_M = 700.0
_TOWN_WEIGHT: dict[str, float] = {
    "横街镇": 0.9,
    "鄞江镇": 1.05,
    "章水镇": 1.2,
    "龙观乡": 1.3,
}


@dataclass(frozen=True)
class TownSpec:
    code: str
    name: str
    lon: float
    lat: float

    @property
    def rural(self) -> bool:
        """Towns (镇) and townships (乡) have villages; sub-districts (街道) do not."""
        return not self.name.endswith("街道")

    @property
    def short_name(self) -> str:
        return self.name.removesuffix("街道").removesuffix("镇").removesuffix("乡")


TOWNS: tuple[TownSpec, ...] = (
    TownSpec("330203001", "江厦街道", 121.556, 29.873),
    TownSpec("330203002", "鼓楼街道", 121.546, 29.882),
    TownSpec("330203003", "月湖街道", 121.537, 29.869),
    TownSpec("330203004", "西门街道", 121.527, 29.879),
    TownSpec("330203005", "南门街道", 121.545, 29.861),
    TownSpec("330203006", "白云街道", 121.512, 29.867),
    TownSpec("330203007", "段塘街道", 121.530, 29.848),
    TownSpec("330203008", "望春街道", 121.500, 29.893),
    TownSpec("330203009", "石碶街道", 121.520, 29.805),
    TownSpec("330203101", "高桥镇", 121.460, 29.900),
    TownSpec("330203102", "集士港镇", 121.450, 29.860),
    TownSpec("330203103", "古林镇", 121.470, 29.800),
    TownSpec("330203104", "横街镇", 121.380, 29.880),
    TownSpec("330203105", "洞桥镇", 121.420, 29.790),
    TownSpec("330203106", "鄞江镇", 121.350, 29.800),
    TownSpec("330203107", "章水镇", 121.290, 29.830),
    TownSpec("330203200", "龙观乡", 121.300, 29.770),
)

# Fixed village names: (town name, village name).
FIXED_VILLAGES: tuple[tuple[str, str], ...] = (
    ("高桥镇", "藕缆桥村"),
    ("集士港镇", "深溪村"),
)

# Rough outline of the district, clockwise from the east tip at 三江口 (lon, lat).
_OUTLINE_CONTROL: tuple[tuple[float, float], ...] = (
    (121.571, 29.876),
    (121.562, 29.890),
    (121.545, 29.897),
    (121.525, 29.903),
    (121.505, 29.915),
    (121.482, 29.930),
    (121.445, 29.937),
    (121.405, 29.928),
    (121.360, 29.924),
    (121.318, 29.910),
    (121.282, 29.887),
    (121.264, 29.855),
    (121.268, 29.815),
    (121.278, 29.780),
    (121.305, 29.758),
    (121.345, 29.764),
    (121.378, 29.774),
    (121.412, 29.760),
    (121.452, 29.768),
    (121.492, 29.775),
    (121.528, 29.784),
    (121.548, 29.806),
    (121.553, 29.832),
    (121.556, 29.851),
    (121.566, 29.862),
)


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def apportion(total: int, weights: Sequence[float], lo: int, hi: int) -> list[int]:
    """Split `total` into integers in [lo, hi], roughly proportional to `weights`, summing exactly.

    Continuous water-filling (find s with Σ clip(s·w, lo, hi) = total) then largest remainders;
    ties go to the lower index, so the result is deterministic.
    """
    w = np.asarray(weights, dtype=float)
    n = len(w)
    if not n * lo <= total <= n * hi:
        raise ValueError(f"cannot split {total} into {n} parts of {lo}..{hi}")
    w = np.where(w > 0, w, 1e-12)
    s_lo, s_hi = 0.0, hi / w.min() + 1.0
    for _ in range(200):
        s = (s_lo + s_hi) / 2
        if np.clip(s * w, lo, hi).sum() < total:
            s_lo = s
        else:
            s_hi = s
    target = np.clip(s_hi * w, lo, hi)
    counts = np.clip(np.floor(target).astype(int), lo, hi)
    frac = target - counts
    rest = total - int(counts.sum())
    up = sorted(range(n), key=lambda i: (-frac[i], i))
    down = sorted(range(n), key=lambda i: (frac[i], i))
    while rest > 0:
        for i in up:
            if rest and counts[i] < hi:
                counts[i] += 1
                rest -= 1
    while rest < 0:
        for i in down:
            if rest and counts[i] > lo:
                counts[i] -= 1
                rest += 1
    return [int(c) for c in counts]


def _km_from_city(lon: float, lat: float) -> float:
    dx = (lon - CITY_CENTRE[0]) * M_PER_DEG_LON
    dy = (lat - CITY_CENTRE[1]) * M_PER_DEG_LAT
    return math.hypot(dx, dy) / 1000.0


# --------------------------------------------------------------------------------------------
# outline
# --------------------------------------------------------------------------------------------


def _roughen(ring: np.ndarray, rng: np.random.Generator, depth: int, amplitude: float) -> np.ndarray:
    """Midpoint displacement of a closed ring given as (n, 2) points in the isotropic frame."""
    pts = ring
    amp = amplitude
    for _ in range(depth):
        nxt = np.roll(pts, -1, axis=0)
        seg = nxt - pts
        length = np.hypot(seg[:, 0], seg[:, 1])
        normal = np.column_stack([-seg[:, 1], seg[:, 0]]) / np.maximum(length, 1e-12)[:, None]
        offset = np.clip(rng.normal(0.0, amp, len(pts)), -2 * amp, 2 * amp) * length
        mid = (pts + nxt) / 2 + normal * offset[:, None]
        out = np.empty((2 * len(pts), 2))
        out[0::2] = pts
        out[1::2] = mid
        pts = out
        amp *= 0.9
    return pts


def _district_outline(seed: int) -> BaseGeometry:
    control = np.array(_OUTLINE_CONTROL) * SCALE
    seeds = shapely.points([(t.lon, t.lat) for t in TOWNS])
    lo = np.array([BOUNDS[0] + _MARGIN, BOUNDS[1] + _MARGIN])
    hi = np.array([BOUNDS[2] - _MARGIN, BOUNDS[3] - _MARGIN])
    for attempt in range(64):
        rng = rng_for(seed, 1, attempt)
        ring = _roughen(control, rng, depth=5, amplitude=0.10) / SCALE
        ring = np.clip(ring, lo, hi)
        poly = shapely.set_precision(shapely.segmentize(shapely.polygons(ring), SEGMENT_DEG), GRID_SIZE)
        if (
            shapely.get_type_id(poly) == 3
            and poly.is_valid
            and all(shapely.contains(shapely.buffer(poly, -0.004), seeds))
        ):
            return poly
    # The control polygon itself always qualifies.
    fallback = shapely.segmentize(shapely.polygons(np.array(_OUTLINE_CONTROL)), SEGMENT_DEG)
    return shapely.set_precision(fallback, GRID_SIZE)


# --------------------------------------------------------------------------------------------
# GeoJSON
# --------------------------------------------------------------------------------------------


def _polygon_coords(poly: BaseGeometry) -> list[list[list[float]]]:
    rings = [poly.exterior, *poly.interiors]
    return [np.round(shapely.get_coordinates(r), 7).tolist() for r in rings]


def _geojson_geometry(geom: BaseGeometry) -> dict:
    geom = shapely.orient_polygons(geom, exterior_cw=False)  # RFC 7946: exteriors counter-clockwise
    if shapely.get_type_id(geom) == 3:
        return {"type": "Polygon", "coordinates": _polygon_coords(geom)}
    return {"type": "MultiPolygon", "coordinates": [_polygon_coords(p) for p in geom.geoms]}


def _feature(geom: BaseGeometry, level: str, code: str, name: str, parent_code: str | None, **extra) -> dict:
    props = {"level": level, "code": code, "name": name, "parent_code": parent_code, **extra}
    return {"type": "Feature", "geometry": _geojson_geometry(geom), "properties": props}


# --------------------------------------------------------------------------------------------
# villages' attributes
# --------------------------------------------------------------------------------------------


def _village_kind(town: TownSpec, centre: tuple[float, float]) -> str:
    """山区村 in the western hills, otherwise 城中村 near the city and 城郊村 further out."""
    lon, lat = centre
    if town.name in MOUNTAIN_TOWNS or (town.name == "洞桥镇" and lon < DONGQIAO_WEST_LON):
        return "mountain"
    return "urban" if _km_from_city(lon, lat) < URBAN_RADIUS_KM else "suburban"


# (registered population range, floating/registered ratio range) per village type
_DEMOGRAPHY = {
    "urban": ((2500, 6000), (0.9, 2.6)),
    "suburban": ((1500, 4800), (0.3, 1.1)),
    "mountain": ((800, 2600), (0.03, 0.25)),
}


def _demography(kind: str, rng: np.random.Generator) -> dict[str, int]:
    (p_lo, p_hi), (f_lo, f_hi) = _DEMOGRAPHY[kind]
    population = int(rng.integers(p_lo, p_hi + 1))
    households = int(round(population / rng.uniform(2.5, 3.1)))
    floating = int(round(population * rng.uniform(f_lo, f_hi)))
    return {"households": households, "population": population, "floating_population": floating}


# --------------------------------------------------------------------------------------------
# assembly
# --------------------------------------------------------------------------------------------


def _noise_field(rng: np.random.Generator, xy: np.ndarray, modes: int = 5) -> np.ndarray:
    """A smooth random field in [-1, 1] (sum of plane waves with 3–9 km wavelengths)."""
    metres = xy * np.array([M_PER_DEG_LON, M_PER_DEG_LAT])
    total = np.zeros(len(xy))
    for _ in range(modes):
        angle = rng.uniform(0, 2 * math.pi)
        wavenumber = 2 * math.pi / rng.uniform(3000.0, 9000.0)
        direction = np.array([math.cos(angle), math.sin(angle)]) * wavenumber
        total += np.sin(metres @ direction + rng.uniform(0, 2 * math.pi))
    return total / modes


def _town_cells(outline: BaseGeometry, seed: int) -> list[BaseGeometry]:
    """Partition the outline among the 17 towns.

    The outline is first cut into ~1,600 small relaxed Voronoi cells (the 17 seats pinned among
    them). Each small cell goes to the town minimising a weighted, noise-perturbed distance to its
    seat, and the towns are the dissolved unions, which gives irregular, natural-looking borders.
    """
    rng = rng_for(seed, 1, 1000)
    seats = np.array([(t.lon, t.lat) for t in TOWNS])
    shapely.prepare(outline)
    points = np.concatenate([seats, sample_points(outline, _FINE_CELLS, rng)])
    points = lloyd(points, outline, rounds=2, pinned=len(seats))
    fine = clip_cells(voronoi_cells(points, outline), outline)
    if fine is None:  # pragma: no cover - every seed lies inside the outline
        raise RuntimeError("a fine cell came out empty")
    metres = np.array([M_PER_DEG_LON, M_PER_DEG_LAT])
    dist = np.hypot(*((points[:, None, :] - seats[None, :, :]) * metres).transpose(2, 0, 1))
    weights = np.array([_TOWN_WEIGHT.get(t.name, 1.0) for t in TOWNS])
    noise = np.column_stack([_noise_field(rng, points) for _ in TOWNS])
    score = dist / weights + _BORDER_WIGGLE_M * noise
    label = np.argmin(score, axis=1)
    label[: len(seats)] = np.arange(len(seats))
    mains: list[BaseGeometry] = []
    orphans: list[tuple[int, BaseGeometry]] = []
    for t, (lon, lat) in enumerate(seats):
        members = [fine[i] for i in np.flatnonzero(label == t)]
        parts = polygonal(shapely.union_all(members, grid_size=GRID_SIZE))
        seat = shapely.Point(lon, lat)
        parts.sort(key=lambda p: (not p.intersects(seat), -p.area))
        mains.append(parts[0])
        orphans.extend((t, p) for p in parts[1:])
    return give_away_orphans(mains, orphans)


def build_district(seed: int = 2026, progress: Progress | None = None) -> list[dict]:
    """Build the demo district as GeoJSON Feature dicts, every parent before its children.

    1 district, 17 towns/streets, 164 villages (only in the 8 rural towns), 572 grids and
    2,229 micro-grids; each level partitions its parent. `progress(stage_label_zh, done, total)`
    is called as work proceeds. The same seed always gives identical output.
    """

    def report(label: str, done: int, total: int) -> None:
        if progress is not None:
            progress(label, done, total)

    report("生成区界", 0, 1)
    outline = _district_outline(seed)
    report("生成区界", 1, 1)

    report("划分镇街", 0, 1)
    town_geoms = _town_cells(outline, seed)
    report("划分镇街", 1, 1)

    features: list[dict] = [_feature(outline, "district", DISTRICT_CODE, DISTRICT_NAME, None)]
    features += [
        _feature(g, "town", t.code, t.name, DISTRICT_CODE) for t, g in zip(TOWNS, town_geoms)
    ]

    rural = [(i, t, g) for i, (t, g) in enumerate(zip(TOWNS, town_geoms)) if t.rural]
    village_counts = apportion(TOTAL_VILLAGES, [g.area for _, _, g in rural], *VILLAGES_PER_TOWN)

    # ---- villages -------------------------------------------------------------------------
    label = "生成村"
    report(label, 0, len(rural))
    villages: list[tuple[TownSpec, str, BaseGeometry]] = []  # (town, code, geometry)
    town_village_geoms: list[list[BaseGeometry]] = []
    for k, ((ti, town, geom), count) in enumerate(zip(rural, village_counts)):
        cells = split(geom, count, seed, 2, ti)
        town_village_geoms.append(cells)
        villages += [(town, f"{town.code}{201 + j}", c) for j, c in enumerate(cells)]
        report(label, k + 1, len(rural))

    # names and attributes
    namer = VillageNamer(random.Random(seed * 7919 + 17), reserved=[n for _, n in FIXED_VILLAGES])
    attr_rng = rng_for(seed, 5)
    centres = shapely.get_coordinates(
        shapely.point_on_surface(np.array([g for _, _, g in villages], dtype=object))
    )
    kinds = [_village_kind(t, (float(x), float(y))) for (t, _, _), (x, y) in zip(villages, centres)]
    names: list[str | None] = [None] * len(villages)
    # The village holding the town's own seat is named after the town (高桥村 …); the fixed
    # names go to the village nearest the seat after that.
    by_town: dict[str, list[int]] = {}
    for idx, (town, _, _) in enumerate(villages):
        by_town.setdefault(town.code, []).append(idx)
    for town in TOWNS:
        if not town.rural:
            continue
        idxs = by_town[town.code]
        seat = shapely.Point(town.lon, town.lat)
        near = sorted(idxs, key=lambda i: (shapely.distance(villages[i][2], seat), i))
        seat_name = f"{town.short_name}村"
        namer.reserve(seat_name)
        names[near[0]] = seat_name
        fixed = [n for tname, n in FIXED_VILLAGES if tname == town.name]
        for idx, fixed_name in zip(near[1:], fixed):
            names[idx] = fixed_name
    village_features: list[dict] = []
    for idx, ((town, code, geom), kind) in enumerate(zip(villages, kinds)):
        if names[idx] is None:
            names[idx] = namer.name(kind)
        village_features.append(
            _feature(
                geom, "village", code, names[idx], town.code,
                village_type=kind, **_demography(kind, attr_rng),
            )
        )
    features += village_features

    # ---- grids ----------------------------------------------------------------------------
    # Grids and micro-grids are reported per rural town, in the same order as the villages.
    village_town = [k for k, cells in enumerate(town_village_geoms) for _ in cells]
    grid_counts = apportion(TOTAL_GRIDS, [g.area for _, _, g in villages], *GRIDS_PER_VILLAGE)
    label = "生成网格"
    report(label, 0, len(rural))
    grids: list[tuple[str, str, BaseGeometry]] = []  # (code, name, geometry)
    grid_town: list[int] = []
    for vi, (_, vcode, vgeom) in enumerate(villages):
        for j, cell in enumerate(split(vgeom, grid_counts[vi], seed, 3, vi)):
            code, name = f"{vcode}{j + 1:03d}", grid_name(names[vi], j + 1)
            grids.append((code, name, cell))
            grid_town.append(village_town[vi])
            features.append(_feature(cell, "grid", code, name, vcode))
        if vi + 1 == len(villages) or village_town[vi + 1] != village_town[vi]:
            report(label, village_town[vi] + 1, len(rural))

    # ---- micro-grids ----------------------------------------------------------------------
    micro_counts = apportion(TOTAL_MICROGRIDS, [g.area for _, _, g in grids], *MICROGRIDS_PER_GRID)
    label = "生成微网格"
    report(label, 0, len(rural))
    for gi, (gcode, gname, ggeom) in enumerate(grids):
        for j, cell in enumerate(split(ggeom, micro_counts[gi], seed, 4, gi, rounds=2)):
            code, name = f"{gcode}{j + 1:03d}", microgrid_name(gname, j + 1)
            features.append(_feature(cell, "microgrid", code, name, gcode))
        if gi + 1 == len(grids) or grid_town[gi + 1] != grid_town[gi]:
            report(label, grid_town[gi] + 1, len(rural))

    return features
