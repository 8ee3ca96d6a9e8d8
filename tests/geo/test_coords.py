"""Tests for the WGS84 / GCJ-02 / BD-09 conversions in shanzhi.geo.coords."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shanzhi.errors import InvalidInput
from shanzhi.geo import coords
from shanzhi.geo.coords import (
    CRS_NAMES,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    from_wgs84_many,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    to_wgs84_many,
    validate_lonlat,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

EARTH_RADIUS_M = 6_371_008.8

# Published reference pairs, (lon, lat) -> (lon, lat):
# - the coordtransform project's README/test output for the point (116.404, 39.915);
# - the eviltransform project's wgs2gcj test table (Shanghai, Shenzhen, Beijing).
WGS_TO_GCJ_PUBLISHED = [
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
]
GCJ_TO_BD_PUBLISHED = ((116.404, 39.915), (116.41036949371029, 39.92133699351021))
BD_TO_GCJ_PUBLISHED = ((116.404, 39.915), (116.39762729119315, 39.90865673957631))

OUTSIDE_CHINA = [
    (-0.1276, 51.5072),  # London
    (151.2093, -33.8688),  # Sydney
    (-74.0060, 40.7128),  # New York
    (139.6917, 35.6895),  # Tokyo, just east of the box
    (0.0, 0.0),
]


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres; works on floats and numpy arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def textbook_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 formula written out term by term, as published, for cross-checking."""
    if out_of_china(lon, lat):
        return lon, lat
    a, ee, pi = 6378245.0, 0.00669342162296594323, math.pi
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1 - ee * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (a / sqrt_magic * math.cos(rad) * pi)
    return lon + dlon, lat + dlat


@pytest.fixture(scope="module")
def china_points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240607)
    return rng.uniform(73.0, 135.0, 5000), rng.uniform(18.0, 53.0, 5000)


# --- known values ----------------------------------------------------------------------------


@pytest.mark.parametrize(("wgs", "gcj"), WGS_TO_GCJ_PUBLISHED)
def test_it_converts_a_known_wgs84_point_to_the_published_gcj02_value(wgs, gcj):
    got = wgs84_to_gcj02(*wgs)
    assert got == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_TO_GCJ_PUBLISHED)
def test_it_converts_a_published_gcj02_value_back_to_its_wgs84_point(wgs, gcj):
    got = gcj02_to_wgs84(*gcj)
    assert got == pytest.approx(wgs, abs=1e-9)


def test_it_converts_gcj02_to_the_published_bd09_value():
    gcj, bd = GCJ_TO_BD_PUBLISHED
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=1e-9)


def test_it_converts_bd09_to_the_published_gcj02_value():
    bd, gcj = BD_TO_GCJ_PUBLISHED
    assert bd09_to_gcj02(*bd) == pytest.approx(gcj, abs=1e-9)


def test_the_gcj02_offset_at_tiananmen_has_the_well_known_size_and_direction():
    lon, lat = 116.391275, 39.906217
    glon, glat = wgs84_to_gcj02(lon, lat)
    # Near Beijing GCJ-02 shifts points ~+0.006 degrees east and ~+0.0014 north (~550 m).
    assert 0.0058 < glon - lon < 0.0066
    assert 0.0012 < glat - lat < 0.0016
    assert 500 < haversine_m(lon, lat, glon, glat) < 600


def test_it_matches_the_textbook_formula_term_by_term_across_china(china_points):
    lons, lats = china_points
    for lon, lat in zip(lons[:2000], lats[:2000], strict=True):
        expected = textbook_wgs84_to_gcj02(float(lon), float(lat))
        assert wgs84_to_gcj02(float(lon), float(lat)) == pytest.approx(expected, abs=1e-12)


def test_wgs84_to_bd09_is_gcj02_followed_by_the_bd_offset():
    lon, lat = 113.264385, 23.129112  # Guangzhou
    assert wgs84_to_bd09(lon, lat) == pytest.approx(gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
    assert bd09_to_wgs84(*wgs84_to_bd09(lon, lat)) == pytest.approx((lon, lat), abs=1e-5)


# --- round trips -----------------------------------------------------------------------------


def test_a_wgs84_to_gcj02_round_trip_lands_within_a_millimetre(china_points):
    lons, lats = china_points
    back = np.array([gcj02_to_wgs84(*wgs84_to_gcj02(lo, la)) for lo, la in zip(lons, lats)])
    err = haversine_m(lons, lats, back[:, 0], back[:, 1])
    assert err.max() < 0.001


def test_a_wgs84_to_bd09_round_trip_lands_within_a_metre(china_points):
    lons, lats = china_points
    back = np.array([bd09_to_wgs84(*wgs84_to_bd09(lo, la)) for lo, la in zip(lons, lats)])
    err = haversine_m(lons, lats, back[:, 0], back[:, 1])
    assert err.max() < 1.0


@pytest.mark.parametrize(("crs", "limit_m"), [("gcj02", 0.001), ("bd09", 1.0)])
def test_the_vectorized_round_trip_is_as_accurate_as_the_scalar_one(china_points, crs, limit_m):
    lons, lats = china_points
    back_lon, back_lat = to_wgs84_many(*from_wgs84_many(lons, lats, crs), crs)
    assert haversine_m(lons, lats, back_lon, back_lat).max() < limit_m


def test_the_iterative_inverse_beats_the_one_step_inverse(china_points):
    lons, lats = china_points
    glon, glat = from_wgs84_many(lons, lats, "gcj02")
    # The common shortcut subtracts the offset measured at the GCJ point itself.
    dlon, dlat = coords._gcj_offset(glon, glat)
    naive_err = haversine_m(lons, lats, glon - dlon, glat - dlat)
    back_lon, back_lat = to_wgs84_many(glon, glat, "gcj02")
    exact_err = haversine_m(lons, lats, back_lon, back_lat)
    assert naive_err.max() > 0.5  # the shortcut is off by metres somewhere in China
    assert exact_err.max() < naive_err.max() / 1000


# --- outside China ---------------------------------------------------------------------------


def test_out_of_china_uses_the_standard_rectangle():
    assert not out_of_china(116.397, 39.908)  # Beijing
    assert out_of_china(-0.1276, 51.5072)  # London
    assert not out_of_china(72.004, 30.0)  # the edges themselves are inside
    assert out_of_china(72.0039, 30.0)
    assert out_of_china(137.8348, 30.0)
    assert out_of_china(100.0, 0.8292)
    assert out_of_china(100.0, 55.8272)


@pytest.mark.parametrize(("lon", "lat"), OUTSIDE_CHINA)
def test_points_outside_china_pass_through_the_gcj02_conversions_unchanged(lon, lat):
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert to_wgs84(lon, lat, "gcj02") == (lon, lat)
    assert from_wgs84(lon, lat, "gcj02") == (lon, lat)


def test_the_vectorized_conversion_passes_outside_points_through_elementwise():
    lons = np.array([p[0] for p in OUTSIDE_CHINA] + [116.404, 121.5272106])
    lats = np.array([p[1] for p in OUTSIDE_CHINA] + [39.915, 31.1774276])
    glon, glat = from_wgs84_many(lons, lats, "gcj02")
    n = len(OUTSIDE_CHINA)
    np.testing.assert_array_equal(glon[:n], lons[:n])
    np.testing.assert_array_equal(glat[:n], lats[:n])
    assert np.all(np.abs(glon[n:] - lons[n:]) > 1e-3)
    wlon, wlat = to_wgs84_many(lons, lats, "gcj02")
    np.testing.assert_array_equal(wlon[:n], lons[:n])
    np.testing.assert_array_equal(wlat[:n], lats[:n])


# --- scalar vs vectorized ----------------------------------------------------------------------


@pytest.mark.parametrize("crs", CRS_NAMES)
def test_scalar_and_vectorized_conversions_agree(crs):
    rng = np.random.default_rng(7)
    # Mostly China, some of the world, and more points than one internal chunk.
    lons = np.concatenate([rng.uniform(73, 135, 15000), rng.uniform(-180, 180, 5000)])
    lats = np.concatenate([rng.uniform(18, 53, 15000), rng.uniform(-90, 90, 5000)])
    assert lons.size > coords._CHUNK
    to_lon, to_lat = to_wgs84_many(lons, lats, crs)
    from_lon, from_lat = from_wgs84_many(lons, lats, crs)
    for i in rng.choice(lons.size, 400, replace=False):
        lon, lat = float(lons[i]), float(lats[i])
        assert to_wgs84(lon, lat, crs) == pytest.approx((to_lon[i], to_lat[i]), abs=1e-12)
        assert from_wgs84(lon, lat, crs) == pytest.approx((from_lon[i], from_lat[i]), abs=1e-12)


def test_the_vectorized_conversion_keeps_shapes_and_leaves_inputs_alone():
    lons = np.full((3, 4), 116.404)
    lats = np.full((3, 4), 39.915)
    out_lon, out_lat = from_wgs84_many(lons, lats, "bd09")
    assert out_lon.shape == out_lat.shape == (3, 4)
    assert np.all(lons == 116.404) and np.all(lats == 39.915)
    assert out_lon[2, 3] == pytest.approx(wgs84_to_bd09(116.404, 39.915)[0], abs=1e-12)
    same_lon, _ = to_wgs84_many(lons, lats, "wgs84")
    assert same_lon is not lons and np.array_equal(same_lon, lons)


def test_the_vectorized_conversion_accepts_plain_lists():
    lon, lat = to_wgs84_many([116.41024449916938], [39.91640428150164], "gcj02")
    assert (lon[0], lat[0]) == pytest.approx((116.404, 39.915), abs=1e-9)


# --- crs names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("WGS84", "wgs84"),
        ("wgs-84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("GCJ-02", "gcj02"),
        (" Gcj02 ", "gcj02"),
        ("BD-09", "bd09"),
    ],
)
def test_crs_names_are_case_insensitive_and_accept_common_aliases(alias, canonical):
    point = (116.404, 39.915)
    assert to_wgs84(*point, alias) == to_wgs84(*point, canonical)
    assert from_wgs84(*point, alias) == from_wgs84(*point, canonical)


def test_to_wgs84_defaults_to_wgs84_and_returns_the_point_unchanged():
    assert to_wgs84(116.404, 39.915) == (116.404, 39.915)


# --- errors ------------------------------------------------------------------------------------


def assert_invalid(exc: pytest.ExceptionInfo[InvalidInput], code: str, *fragments: str):
    err = exc.value
    assert err.code == code
    assert err.status_code == 422
    assert err.message and err.message_zh
    for fragment in fragments:
        assert fragment in err.message
        assert fragment in err.message_zh


@pytest.mark.parametrize("call", [to_wgs84, from_wgs84])
def test_an_unknown_crs_is_rejected_with_the_accepted_names(call):
    with pytest.raises(InvalidInput) as exc:
        call(116.4, 39.9, "utm50n")
    assert_invalid(exc, "unknown_crs", "utm50n", "wgs84", "gcj02", "bd09")


def test_an_unknown_crs_is_rejected_by_the_vectorized_conversion_too():
    with pytest.raises(InvalidInput) as exc:
        to_wgs84_many(np.array([116.4]), np.array([39.9]), "mercator")
    assert_invalid(exc, "unknown_crs", "mercator")


def test_a_longitude_of_200_is_rejected_naming_the_value():
    with pytest.raises(InvalidInput) as exc:
        to_wgs84(200.0, 39.9, "gcj02")
    assert_invalid(exc, "invalid_coordinates", "200.0", "[-180, 180]")
    assert "Longitude" in exc.value.message and "经度" in exc.value.message_zh


def test_a_latitude_of_minus_95_is_rejected_naming_the_value():
    with pytest.raises(InvalidInput) as exc:
        from_wgs84(116.4, -95.0, "bd09")
    assert_invalid(exc, "invalid_coordinates", "-95.0", "[-90, 90]")
    assert "Latitude" in exc.value.message and "纬度" in exc.value.message_zh


@pytest.mark.parametrize(
    ("lon", "lat"), [(math.nan, 39.9), (116.4, math.nan), (math.inf, 39.9), (116.4, -math.inf)]
)
def test_non_finite_coordinates_are_rejected(lon, lat):
    with pytest.raises(InvalidInput) as exc:
        validate_lonlat(lon, lat)
    assert_invalid(exc, "invalid_coordinates")


@pytest.mark.parametrize(("lon", "lat"), [(180.0, 90.0), (-180.0, -90.0), (0.0, 0.0)])
def test_coordinates_on_the_range_limits_are_accepted(lon, lat):
    validate_lonlat(lon, lat)
    assert to_wgs84(lon, lat, "gcj02") == (lon, lat)


def test_the_vectorized_conversion_names_the_first_bad_index():
    lons = np.array([116.4, 116.5, 116.6, 200.0, 116.7, np.nan])
    lats = np.array([39.9, 39.9, 39.9, 39.9, -95.0, 39.9])
    with pytest.raises(InvalidInput) as exc:
        to_wgs84_many(lons, lats, "gcj02")
    assert_invalid(exc, "invalid_coordinates", "200.0")
    assert "index 3" in exc.value.message and "第 3 个" in exc.value.message_zh
    assert exc.value.details == {"index": 3}


def test_the_vectorized_conversion_rejects_nan_and_bad_latitudes():
    with pytest.raises(InvalidInput) as exc:
        from_wgs84_many(np.array([116.4, np.nan]), np.array([39.9, 39.9]), "bd09")
    assert_invalid(exc, "invalid_coordinates", "nan")
    assert "index 1" in exc.value.message and "第 1 个" in exc.value.message_zh
    for bad_lat in (91.0, -95.0, np.nan):
        with pytest.raises(InvalidInput) as exc:
            from_wgs84_many(np.array([116.4, 116.4]), np.array([39.9, bad_lat]), "wgs84")
        assert_invalid(exc, "invalid_coordinates", str(bad_lat))
        assert "Latitude" in exc.value.message and "纬度" in exc.value.message_zh


def test_the_vectorized_conversion_rejects_mismatched_array_shapes():
    with pytest.raises(InvalidInput) as exc:
        to_wgs84_many(np.zeros(3), np.zeros(4), "wgs84")
    assert exc.value.code == "invalid_coordinates"
