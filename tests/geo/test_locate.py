"""Locating points: the index against a brute-force shapely check, bulk and single paths."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from builders import lattice_tree, voronoi_tree
from shanzhi.errors import InvalidInput, NotFound
from shanzhi.geo import coords, service
from shanzhi.geo.index import OUTSIDE, RegionIndex, RegionRecord
from shanzhi.geo.levels import BY_NAME


def records(data) -> list[RegionRecord]:
    return [
        RegionRecord(f["properties"]["code"], f["properties"]["name"], f["properties"]["level"],
                     shapely.geometry.shape(f["geometry"]))
        for f in data["features"]
    ]


def brute_force(recs: list[RegionRecord], lon: float, lat: float) -> str | None:
    """The deepest region that covers the point, ties to the smallest code."""
    p = shapely.Point(lon, lat)
    hits = [r for r in recs if r.geometry.covers(p)]
    if not hits:
        return None
    return min(hits, key=lambda r: (-BY_NAME[r.level].depth, r.code)).code


@pytest.fixture(scope="module")
def irregular():
    data = voronoi_tree()
    recs = records(data)
    return recs, RegionIndex(recs)


def random_points(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # A margin around the district, so some points fall outside.
    return rng.uniform(121.22, 121.63, n), rng.uniform(29.72, 29.98, n)


def test_single_lookups_agree_with_brute_force_on_thousands_of_points(irregular):
    recs, index = irregular
    lons, lats = random_points(3000)
    for lon, lat in zip(lons, lats):
        pos = index.locate(lon, lat)
        got = None if pos == OUTSIDE else index.refs[pos].code
        assert got == brute_force(recs, lon, lat), (lon, lat)


def test_bulk_lookups_agree_with_brute_force_and_with_single_lookups(irregular):
    recs, index = irregular
    lons, lats = random_points(4000, seed=11)
    bulk = index.locate_many(lons, lats)
    assert index.raster() is not None, "the bulk path must use the raster accelerator"
    for pos, lon, lat in zip(bulk, lons, lats):
        assert (None if pos == OUTSIDE else index.refs[pos].code) == brute_force(recs, lon, lat)
    # Once the raster exists, single lookups go through it too and must still agree.
    assert [index.locate(x, y) for x, y in zip(lons, lats)] == bulk.tolist()


def test_points_on_shared_borders_and_vertices_are_located_consistently(irregular):
    recs, index = irregular
    village = next(r for r in recs if r.level == "village")
    xs, ys = np.asarray(village.geometry.exterior.coords).T if village.geometry.geom_type == "Polygon" else \
        np.asarray(village.geometry.geoms[0].exterior.coords).T
    bulk = index.locate_many(xs, ys)
    for pos, x, y in zip(bulk, xs, ys):
        assert index.refs[pos].code == brute_force(recs, x, y)


def test_a_point_in_a_town_without_villages_stops_at_the_town(irregular):
    recs, index = irregular
    bare = max((r for r in recs if r.level == "town"), key=lambda r: r.code)
    p = bare.geometry.representative_point()
    chain = index.chain(index.locate(p.x, p.y))
    assert [r.level for r in chain] == ["district", "town"] and chain[-1].code == bare.code


def test_points_outside_the_district_are_outside(irregular):
    _, index = irregular
    assert index.locate(120.0, 29.8) == OUTSIDE
    assert index.locate(121.26, 29.945) == OUTSIDE  # inside the bounding box, outside the outline
    assert (index.locate_many(np.array([0.0, 121.26]), np.array([0.0, 29.945])) == OUTSIDE).all()


def test_the_chain_runs_from_the_district_to_the_micro_grid(session):
    service.import_regions(session, data=lattice_tree())
    found = service.locate(session, lon=121.31, lat=29.81)
    assert [r.level for r in found.chain] == ["district", "town", "village", "grid", "microgrid"]
    codes = [r.code for r in found.chain]
    assert codes == ["330203", "330203101", "330203101201", "330203101201001", "330203101201001001"]


def test_the_index_is_rebuilt_when_regions_change(session):
    service.import_regions(session, data=lattice_tree())
    assert service.locate(session, lon=121.31, lat=29.81).chain[1].name == "第1镇"
    data = lattice_tree()
    data["features"][1]["properties"]["name"] = "新一镇"
    service.import_regions(session, data=data)
    assert service.locate(session, lon=121.31, lat=29.81).chain[1].name == "新一镇"


def test_gcj02_and_bd09_input_is_converted_before_locating(session):
    service.import_regions(session, data=lattice_tree())
    # A WGS84 point 30 m inside the east edge of micro-grid …001001 (grid edge at 121.35).
    wlon, wlat = 121.3497, 29.8125
    expected = service.locate(session, lon=wlon, lat=wlat).chain[-1].code
    for crs, convert in (("gcj02", coords.wgs84_to_gcj02), ("bd09", coords.wgs84_to_bd09)):
        lon, lat = convert(wlon, wlat)
        found = service.locate(session, lon=lon, lat=lat, crs=crs)
        assert found.chain[-1].code == expected
        assert abs(found.lon - wlon) < 1e-5 and abs(found.lat - wlat) < 1e-5
    # Read as if it were WGS84, the GCJ point lands ~450 m east: in the next grid.
    glon, glat = coords.wgs84_to_gcj02(wlon, wlat)
    assert service.locate(session, lon=glon, lat=glat).chain[-1].code != expected


def test_locating_outside_or_with_bad_input_gives_clear_errors(session):
    service.import_regions(session, data=lattice_tree())
    with pytest.raises(NotFound) as outside:
        service.locate(session, lon=116.4, lat=39.9)
    assert outside.value.code == "outside_jurisdiction" and "不在本辖区" in outside.value.message_zh
    with pytest.raises(InvalidInput) as bad_crs:
        service.locate(session, lon=121.31, lat=29.81, crs="mars")
    assert bad_crs.value.code == "unknown_crs"


def test_bulk_locate_through_the_service_returns_chains_and_none_outside(session):
    service.import_regions(session, data=lattice_tree())
    chains = service.locate_many(session, lons=np.array([121.31, 100.0]), lats=np.array([29.81, 20.0]))
    assert chains[0][-1].code == "330203101201001001" and chains[1] is None
