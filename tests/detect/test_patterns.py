"""Hotspots and trends: a planted cluster is found and uniform noise is not; a rising category
is flagged and a flat one is not; both become alerts in the inbox, once each."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from builders import lattice_tree, make_event, make_units
from sqlalchemy import func, select

from shanzhi.db import utcnow
from shanzhi.detect import alerts
from shanzhi.detect.hotspots import find_hotspots
from shanzhi.detect.models import DetectAlert
from shanzhi.detect.text import METRES_PER_DEGREE_LAT
from shanzhi.detect.trends import find_trends
from shanzhi.geo import service as geo

TOWN = "330203101"  # lon 121.30–121.40, lat 29.80–29.90
GRID_A = "330203101201001"  # lon 121.30–121.35, lat 29.80–29.85
GRID_B = "330203101201002"  # lon 121.35–121.40, lat 29.80–29.85
CORNER = (121.32, 29.82)


@pytest.fixture
def district(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)


def put(session, *, lon: float, lat: float, days_ago: float, category: str = "0101", text: str = "路边垃圾成堆没人清理"):
    event = make_event(session, text=text, category=category, lon=lon, lat=lat).event
    event.created_at = utcnow() - timedelta(days=days_ago)
    return event


def noise(session, n: int, seed: int = 11) -> None:
    """Garbage reports spread uniformly over the whole town and the 90 days."""
    rng = random.Random(seed)
    for _ in range(n):
        put(session, lon=rng.uniform(121.301, 121.399), lat=rng.uniform(29.801, 29.899), days_ago=rng.uniform(0, 89))


def near(lon: float, lat: float, metres_east: float, metres_north: float) -> tuple[float, float]:
    return (lon + metres_east / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat))),
            lat + metres_north / METRES_PER_DEGREE_LAT)


def test_uniform_noise_has_no_hotspot(session, district):
    noise(session, 150)
    session.flush()
    assert find_hotspots(session, region=TOWN) == []


def test_a_corner_with_garbage_every_week_is_a_hotspot_among_the_noise(session, district):
    noise(session, 150)
    planted = [put(session, lon=lon, lat=lat, days_ago=3 + 7 * week)
               for week, (lon, lat) in enumerate(near(*CORNER, dx, dy) for dx, dy in
                                                  [(0, 0), (12, 5), (-8, 10), (20, -6), (-15, -12), (5, 18), (-3, -20)])]
    session.flush()
    found = find_hotspots(session, region=TOWN)
    assert len(found) == 1
    spot = found[0]
    assert spot.category_code == "0101" and spot.count == 7 and spot.weeks == 7
    assert abs(spot.lon - CORNER[0]) < 0.0003 and abs(spot.lat - CORNER[1]) < 0.0003
    assert spot.codes[0] == planted[0].code  # the latest first
    assert spot.region_code.startswith(GRID_A)
    # Another category, or a window that ends before the corner's reports, finds nothing.
    assert find_hotspots(session, region=TOWN, category="0102") == []
    assert find_hotspots(session, region="330203102") == []


def test_one_incident_reported_many_times_in_a_day_is_not_a_recurring_hotspot(session, district):
    for i in range(8):
        put(session, lon=near(*CORNER, i * 3, 0)[0], lat=CORNER[1], days_ago=2 + i / 48)
    session.flush()
    assert find_hotspots(session, region=TOWN) == []


def weekly(session, lon: float, lat: float, *, per_week: int, weeks: range, category: str = "0104") -> None:
    for week in weeks:
        for k in range(per_week):
            put(session, lon=lon + k * 0.001, lat=lat, days_ago=week * 7 + 1 + k, category=category,
                text="路面积水好几天了，走路都走不了")


def test_a_category_rising_in_a_grid_is_flagged_and_a_flat_one_is_not(session, district):
    # Grid A: one report a fortnight for twelve weeks, then nine in the last two weeks.
    weekly(session, 121.31, 29.81, per_week=1, weeks=range(2, 14, 2))
    for day in range(9):
        put(session, lon=121.312, lat=29.812, days_ago=day * 1.4 + 0.2, category="0104", text="这条路又积水了")
    # Grid B: three a week, week after week (more reports, but no change).
    weekly(session, 121.36, 29.81, per_week=3, weeks=range(14))
    session.flush()
    found = find_trends(session, region=TOWN)
    assert [(t.region_code, t.category_code) for t in found] == [(GRID_A, "0104")]
    rise = found[0]
    assert rise.recent == 9 and rise.baseline == 6
    assert rise.ratio > 5 and rise.p_value < 0.01


def test_a_scan_raises_each_finding_once_and_a_dismissed_one_stays_dismissed(session, district, engine):
    noise(session, 60)
    for week in range(6):
        lon, lat = near(*CORNER, week * 4, -week * 3)
        put(session, lon=lon, lat=lat, days_ago=2 + 7 * week)
    session.flush()
    found = alerts.findings(session)
    assert [f.kind for f in found] == ["hotspot"]
    first = alerts.raise_alert(session, found[0])
    assert "6 起" in first.reason and "6 个不同的周" in first.reason
    first.dismissed_at = utcnow()
    again = alerts.raise_alert(session, alerts.findings(session)[0])
    assert again.id == first.id and again.dismissed_at is not None
    assert session.scalar(select(func.count()).select_from(DetectAlert)) == 1
