"""Benchmark: locating points in the demo district, bulk and single, against naive baselines.

    python bench/locate.py [--points 1000000] [--seed 2026]

Both paths are measured against a naive baseline in the same run: a loop over the prepared
micro-grid polygons (vectorized over points for bulk; one point at a time for single). The
baselines are slow, so they run on a subsample and are reported as points per second.
The last line holds the figures: bulk_pps=… single_pps=… bulk_ratio=… single_ratio=…
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from shanzhi.db import make_engine, session_scope
from shanzhi.demo.district import build_district
from shanzhi.errors import NotFound
from shanzhi.geo import service
from shanzhi.geo.index import OUTSIDE, RegionIndex, RegionRecord
from shanzhi.migrate import upgrade


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    features, dt = timed(build_district, args.seed)
    print(f"demo district built: {len(features)} regions in {dt:.1f} s")
    records = [
        RegionRecord(f["properties"]["code"], f["properties"]["name"], f["properties"]["level"],
                     shapely.geometry.shape(f["geometry"]))
        for f in features
    ]
    index, dt = timed(RegionIndex, records)
    print(f"index (STRtrees) built in {dt * 1000:.0f} ms")
    raster, dt = timed(index.raster)
    impure = float((raster.labels == -2).mean())
    print(f"raster built in {dt:.2f} s: {raster.nx}×{raster.ny} cells, {impure:.1%} near a boundary")

    rng = np.random.default_rng(args.seed)
    x0, y0, x1, y1 = shapely.total_bounds(np.array([r.geometry for r in records]))
    lons = rng.uniform(x0, x1, args.points)
    lats = rng.uniform(y0, y1, args.points)

    # -- bulk -------------------------------------------------------------------------------
    bulk, dt = timed(index.locate_many, lons, lats)
    bulk_pps = args.points / dt
    inside = int((bulk != OUTSIDE).sum())
    deepest = sum(1 for p in np.unique(bulk[bulk != OUTSIDE]) if index.refs[p].level == "microgrid")
    print(f"bulk: {args.points:,} points in {dt:.3f} s = {bulk_pps:,.0f} points/s "
          f"({inside:,} inside, in {deepest:,} distinct micro-grids)")

    leaves = [(i, index.geometry(i)) for i, r in enumerate(index.refs) if r.level == "microgrid"]
    leaf_geoms = [g for _, g in leaves]
    for g in leaf_geoms:
        shapely.prepare(g)
    leaf_pos = np.array([i for i, _ in leaves])

    def naive_bulk(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        out = np.full(len(xs), OUTSIDE, dtype=np.int64)
        for pos, geom in zip(leaf_pos, leaf_geoms):
            hit = shapely.intersects_xy(geom, xs, ys) & (out == OUTSIDE)
            out[hit] = pos
        return out

    n_base = min(args.points, 50_000)
    base, dt = timed(naive_bulk, lons[:n_base], lats[:n_base])
    base_bulk_pps = n_base / dt
    # Points in streets (no micro-grids) stop at the town; compare where the baseline found one.
    found = base != OUTSIDE
    mismatch = int((base[found] != bulk[:n_base][found]).sum())
    print(f"bulk baseline (loop over {len(leaf_geoms):,} prepared polygons, vectorized over points): "
          f"{base_bulk_pps:,.0f} points/s on {n_base:,}; disagreements with the index: {mismatch}")

    # -- single -----------------------------------------------------------------------------
    n_single = min(args.points, 200_000)
    start = time.perf_counter()
    for x, y in zip(lons[:n_single].tolist(), lats[:n_single].tolist()):
        pos = index.locate(x, y)
        if pos != OUTSIDE:
            index.chain(pos)
    single_pps = n_single / (time.perf_counter() - start)
    print(f"single: {n_single:,} lookups (point → chain) = {single_pps:,.0f} lookups/s")

    n_naive = 300
    start = time.perf_counter()
    for x, y in zip(lons[:n_naive].tolist(), lats[:n_naive].tolist()):
        p = shapely.Point(x, y)
        for pos, geom in zip(leaf_pos, leaf_geoms):
            if geom.intersects(p):
                break
    base_single_pps = n_naive / (time.perf_counter() - start)
    print(f"single baseline (one point at a time over prepared polygons): {base_single_pps:,.0f} lookups/s")

    # The whole service call, including the revision check against the database.
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        with session_scope(engine) as session:
            service.import_regions(session, data={"type": "FeatureCollection", "features": features})
        with session_scope(engine) as session:
            service.get_index(session).raster()  # warm up: build the index before timing
            n_service = 5_000
            start = time.perf_counter()
            for x, y in zip(lons[:n_service].tolist(), lats[:n_service].tolist()):
                try:
                    service.locate(session, lon=x, lat=y)
                except NotFound:
                    pass
            service_pps = n_service / (time.perf_counter() - start)
        engine.dispose()
    print(f"service.locate incl. database revision check (SQLite): {service_pps:,.0f} lookups/s")

    bulk_ratio = bulk_pps / base_bulk_pps
    single_ratio = single_pps / base_single_pps
    print(
        f"bulk_pps={bulk_pps:.0f} single_pps={single_pps:.0f} bulk_ratio={bulk_ratio:.1f} "
        f"single_ratio={single_ratio:.1f} service_pps={service_pps:.0f} mismatches={mismatch}"
    )


if __name__ == "__main__":
    main()
