"""Conversions between the coordinate systems Chinese phones report and the WGS84 we store.

Amap and WeChat report GCJ-02 ("Mars coordinates"), Baidu reports BD-09 (GCJ-02 plus a further
offset). Both are published obfuscations, not datums, so the conversions below follow the
widely used open formulas (Krasovsky ellipsoid, the two trigonometric offset polynomials, and
the BD-09 polar offset). GCJ-02 is defined only inside a rectangle around China; outside it the
offset is zero by definition, so points there pass through the GCJ step unchanged.

Every formula is written once over numpy arrays; the scalar functions call it with 0-d arrays,
so scalar and vectorized results are identical by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from shanzhi.errors import InvalidInput

CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

# Spellings clients actually send, mapped to the canonical name.
_CRS_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
}

# Krasovsky 1940 ellipsoid: the GCJ-02 offset is expressed in metres on it.
_A = 6378245.0
_EE = 0.00669342162296594323
# The same factors folded for speed: metres along the meridian / the parallel to degrees.
_K_LAT = 180.0 / (math.pi * _A * (1.0 - _EE))
_K_LON = 180.0 / (math.pi * _A)
_SIN35, _COS35 = math.sin(math.radians(35.0)), math.cos(math.radians(35.0))
# BD-09 perturbs the GCJ-02 point in polar form with these constants.
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# Inverse GCJ iteration. The offset's slope (its Lipschitz constant) stays below 0.01 inside
# China, so a fixed-point step of d degrees leaves the point within 0.01*d of the exact
# inverse: stopping once steps fall under 1e-7 guarantees 1e-9 degrees (~0.1 mm), usually
# after 3 steps. The cap only guards against a non-converging input.
_INVERSE_TOL_DEG = 1e-9
_OFFSET_MAX_SLOPE = 0.01
_INVERSE_MAX_ITER = 10

# Bulk conversions run in slices of this many points. The formulas create ~100 temporaries;
# at 64 KB each they are recycled by the allocator and stay in cache, while whole-array
# temporaries are fresh page-faulted buffers and make a pass 2-3x slower.
_CHUNK = 8192

FloatArray = npt.NDArray[np.float64]


# --- core formulas (arrays in, arrays out) -------------------------------------------------


def _out_of_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _sines(t: FloatArray) -> tuple[FloatArray, ...]:
    """sin and cos of t degrees, then sin(k*pi*t) for k = 1/30, 1/12, 1/3, 1, 2, 6.

    Those are all the angles the GCJ polynomials use. A numpy sine costs as much as ~30
    multiplications and dominates bulk conversion, so the multiples come from one sin/cos
    pair via exact double/triple/sum-angle identities; the rounding this adds moves the
    offset by < 1e-15 degrees.
    """
    r = np.radians(t)
    s1, c1 = np.sin(r), np.cos(r)
    s3, c3 = s1 * (3.0 - 4.0 * s1 * s1), c1 * (4.0 * c1 * c1 - 3.0)
    s6, c6 = 2.0 * s3 * c3, 1.0 - 2.0 * s3 * s3  # pi*t/30
    s12, c12 = 2.0 * s6 * c6, 1.0 - 2.0 * s6 * s6
    s15, c15 = s12 * c3 + c12 * s3, c12 * c3 - s12 * s3  # pi*t/12
    s30, c30 = 2.0 * s15 * c15, 1.0 - 2.0 * s15 * s15
    s60, c60 = 2.0 * s30 * c30, 1.0 - 2.0 * s30 * s30  # pi*t/3
    s180, c180 = s60 * (3.0 - 4.0 * s60 * s60), c60 * (4.0 * c60 * c60 - 3.0)  # pi*t
    s360 = 2.0 * s180 * c180  # 2*pi*t
    s1080 = s360 * (3.0 - 4.0 * s360 * s360)  # 6*pi*t
    return s1, c1, s6, s15, s60, s180, s360, s1080


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The (dlon, dlat) in degrees that GCJ-02 adds to a WGS84 point, ignoring the China box.

    This is the published polynomial pair with the constant factors (e.g. 2/3) multiplied in.
    """
    x = lon - 105.0
    y = lat - 35.0
    _, _, sx30, sx12, sx3, sx1, sx2, sx6 = _sines(x)
    sy, cy, sy30, sy12, sy3, sy1, _, _ = _sines(y)
    shared = 0.1 * x * y + (40.0 / 3.0) * (sx6 + sx2)
    root = np.sqrt(np.abs(x))
    p_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * (y * y + root) + shared
        + (40.0 / 3.0) * sy1 + (80.0 / 3.0) * sy3 + (320.0 / 3.0) * sy12 + (640.0 / 3.0) * sy30
    )
    p_lon = (
        300.0 + x + 2.0 * y + 0.1 * (x * x + root) + shared
        + (40.0 / 3.0) * sx1 + (80.0 / 3.0) * sx3 + 100.0 * sx12 + 200.0 * sx30
    )
    # Radii of curvature on the Krasovsky ellipsoid turn those metre-like values into degrees;
    # lat = y + 35, so its sine and cosine follow from y's by the angle-sum identity.
    sin_lat = sy * _COS35 + cy * _SIN35
    cos_lat = cy * _COS35 - sy * _SIN35
    w = 1.0 - _EE * sin_lat * sin_lat
    sqrt_w = np.sqrt(w)
    return p_lon * (_K_LON * sqrt_w / cos_lat), p_lat * (_K_LAT * w * sqrt_w)


def _wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_offset(lon, lat)
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _gcj02_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Invert the GCJ offset by fixed-point iteration: w <- w - (gcj(w) - target).

    The one-step inverse most libraries ship is only good to 1-2 m; iterating makes the
    round trip exact to well under a millimetre. Points that have converged drop out.
    """
    target_lon, target_lat = lon.reshape(-1), lat.reshape(-1)
    w_lon, w_lat = target_lon.copy(), target_lat.copy()
    # Outside the box GCJ-02 equals WGS84, so those points are already their own inverse.
    active = np.flatnonzero(~_out_of_china(target_lon, target_lat))
    for _ in range(_INVERSE_MAX_ITER):
        if active.size == 0:
            break
        cur_lon, cur_lat = w_lon[active], w_lat[active]
        # The raw offset (no box test) keeps the iteration smooth near the box edges.
        dlon, dlat = _gcj_offset(cur_lon, cur_lat)
        step_lon = cur_lon + dlon - target_lon[active]
        step_lat = cur_lat + dlat - target_lat[active]
        w_lon[active] = cur_lon - step_lon
        w_lat[active] = cur_lat - step_lat
        step = np.maximum(np.abs(step_lon), np.abs(step_lat))
        active = active[step * _OFFSET_MAX_SLOPE >= _INVERSE_TOL_DEG]
    return w_lon.reshape(lon.shape), w_lat.reshape(lat.shape)


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # The published closed-form inverse. It is not exact: it lands up to ~2e-6 degrees
    # (~0.2 m) from the true inverse of the forward formula, far below phone GPS noise.
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _wgs84_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat))


def _bd09_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj02_to_wgs84(*_bd09_to_gcj02(lon, lat))


def _identity(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return lon.copy(), lat.copy()


_Converter = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]
_TO_WGS84: dict[str, _Converter] = {
    "wgs84": _identity,
    "gcj02": _gcj02_to_wgs84,
    "bd09": _bd09_to_wgs84,
}
_FROM_WGS84: dict[str, _Converter] = {
    "wgs84": _identity,
    "gcj02": _wgs84_to_gcj02,
    "bd09": _wgs84_to_bd09,
}


def _scalar(fn: _Converter, lon: float, lat: float) -> tuple[float, float]:
    out_lon, out_lat = fn(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return float(out_lon), float(out_lat)


# --- scalar API ----------------------------------------------------------------------------


def out_of_china(lon: float, lat: float) -> bool:
    """True outside the rectangle where GCJ-02 applies (so no offset is added there)."""
    return lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_wgs84_to_gcj02, lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_gcj02_to_wgs84, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_gcj02_to_bd09, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_bd09_to_gcj02, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_wgs84_to_bd09, lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return _scalar(_bd09_to_wgs84, lon, lat)


# --- validation ----------------------------------------------------------------------------


def _bad_lon(lon: float, where: str = "", where_zh: str = "") -> InvalidInput:
    if not math.isfinite(lon):
        return InvalidInput(
            f"Longitude {lon}{where} is not a finite number",
            f"{where_zh}经度 {lon} 不是有效数值",
            code="invalid_coordinates",
        )
    return InvalidInput(
        f"Longitude {lon}{where} is out of range [-180, 180]",
        f"{where_zh}经度 {lon} 超出范围 [-180, 180]",
        code="invalid_coordinates",
    )


def _bad_lat(lat: float, where: str = "", where_zh: str = "") -> InvalidInput:
    if not math.isfinite(lat):
        return InvalidInput(
            f"Latitude {lat}{where} is not a finite number",
            f"{where_zh}纬度 {lat} 不是有效数值",
            code="invalid_coordinates",
        )
    return InvalidInput(
        f"Latitude {lat}{where} is out of range [-90, 90]",
        f"{where_zh}纬度 {lat} 超出范围 [-90, 90]",
        code="invalid_coordinates",
    )


def validate_lonlat(lon: float, lat: float) -> None:
    """Reject NaN/inf and out-of-range values before they reach the database."""
    # `not (a <= x <= b)` is also true for NaN, so one test covers both cases.
    if not (-180.0 <= lon <= 180.0):
        raise _bad_lon(lon)
    if not (-90.0 <= lat <= 90.0):
        raise _bad_lat(lat)


def _validate_many(lons: FloatArray, lats: FloatArray) -> None:
    if lons.shape != lats.shape:
        raise InvalidInput(
            f"Longitude and latitude arrays differ in shape: {lons.shape} vs {lats.shape}",
            f"经度与纬度数组形状不一致：{lons.shape} 与 {lats.shape}",
            code="invalid_coordinates",
        )
    # Same NaN-rejecting comparison as the scalar check, elementwise.
    bad = ~((lons >= -180.0) & (lons <= 180.0) & (lats >= -90.0) & (lats <= 90.0))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad.ravel())[0])
    lon, lat = float(lons.ravel()[i]), float(lats.ravel()[i])
    where, where_zh = f" at index {i}", f"第 {i} 个点的"
    if not (-180.0 <= lon <= 180.0):
        err = _bad_lon(lon, where, where_zh)
    else:
        err = _bad_lat(lat, where, where_zh)
    err.details = {"index": i}
    raise err


def _canonical_crs(crs: str) -> str:
    name = _CRS_ALIASES.get(str(crs).strip().lower())
    if name is None:
        accepted = ", ".join(CRS_NAMES)
        raise InvalidInput(
            f"Unknown coordinate system {crs!r}; accepted: {accepted} "
            "(also wgs-84, epsg:4326, gcj-02, bd-09)",
            f"未知坐标系 {crs!r}；可用：{accepted}（也接受 wgs-84、epsg:4326、gcj-02、bd-09）",
            code="unknown_crs",
        )
    return name


# --- entry points --------------------------------------------------------------------------


def to_wgs84(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """Validate a point reported in ``crs`` and return it in WGS84."""
    fn = _TO_WGS84[_canonical_crs(crs)]
    validate_lonlat(lon, lat)
    return _scalar(fn, lon, lat)


def from_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Validate a stored WGS84 point and return it in ``crs`` (e.g. for an Amap/Baidu map)."""
    fn = _FROM_WGS84[_canonical_crs(crs)]
    validate_lonlat(lon, lat)
    return _scalar(fn, lon, lat)


def _many(
    table: dict[str, _Converter], lons: npt.ArrayLike, lats: npt.ArrayLike, crs: str
) -> tuple[FloatArray, FloatArray]:
    fn = table[_canonical_crs(crs)]
    lon_arr = np.asarray(lons, dtype=np.float64)
    lat_arr = np.asarray(lats, dtype=np.float64)
    _validate_many(lon_arr, lat_arr)
    if lon_arr.size <= _CHUNK:
        return fn(lon_arr, lat_arr)
    flat_lon, flat_lat = lon_arr.reshape(-1), lat_arr.reshape(-1)
    out_lon, out_lat = np.empty_like(flat_lon), np.empty_like(flat_lat)
    for i in range(0, flat_lon.size, _CHUNK):
        part = slice(i, i + _CHUNK)
        out_lon[part], out_lat[part] = fn(flat_lon[part], flat_lat[part])
    return out_lon.reshape(lon_arr.shape), out_lat.reshape(lat_arr.shape)


def to_wgs84_many(lons: FloatArray, lats: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    """Vectorized :func:`to_wgs84`; returns new arrays and never modifies the inputs."""
    return _many(_TO_WGS84, lons, lats, crs)


def from_wgs84_many(lons: FloatArray, lats: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    """Vectorized :func:`from_wgs84`; returns new arrays and never modifies the inputs."""
    return _many(_FROM_WGS84, lons, lats, crs)
