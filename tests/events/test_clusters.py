"""Open events on the command map: cells at low zoom, single events at high zoom, within reach.

The lattice district: 第1镇 (330203101, west half) and 第2镇 (330203102, east half). Three open
events sit in one map cell of 第1镇's village …101201, two in one cell of 第2镇's village
…102202, and a rejected (final) one beside the first three, which no view may count.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from builders import actor_of, bearer, lattice_tree, make_event, make_units, make_user

from shanzhi.db import as_utc
from shanzhi.errors import Forbidden, InvalidInput
from shanzhi.events import clusters, service
from shanzhi.geo import service as geo

DISTRICT = clusters.BBox(121.29, 29.79, 121.51, 29.91)
LOW = 11.0


def cell_centre(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """The centre of the map cell holding (lon, lat) at `zoom`."""
    size_lon, size_lat = clusters.cell_size(zoom, DISTRICT)
    return ((math.floor((lon + 180) / size_lon) + 0.5) * size_lon - 180,
            (math.floor((lat + 90) / size_lat) + 0.5) * size_lat - 90)


@pytest.fixture
def district(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    people = {
        "leader": make_user(session, role="district_leader", scope="330203", username="leader"),
        "dispatcher1": make_user(session, role="dispatcher", scope="330203101", username="dispatcher1"),
        "dispatcher2": make_user(session, role="dispatcher", scope="330203102", username="dispatcher2"),
        "cadre": make_user(session, role="village_cadre", scope="330203101201", username="cadre"),
        "alliance": make_user(session, role="alliance_unit", scope="330203", username="alliance"),
    }
    a = cell_centre(121.33, 29.82, LOW)
    b = cell_centre(121.47, 29.87, LOW)
    west = [make_event(session, lon=a[0] + d, lat=a[1] + d).event for d in (-0.002, 0.0, 0.002)]
    east = [make_event(session, lon=b[0] + d, lat=b[1], category="0301", text="工地夜间施工噪声扰民").event
            for d in (-0.002, 0.002)]
    rejected = make_event(session, lon=a[0], lat=a[1] - 0.001).event
    service.transition(session, actor=actor_of(session, people["dispatcher1"]), code=rejected.code, name="reject",
                       reason="重复上报")
    session.commit()
    return {"people": people, "west": west, "east": east, "rejected": rejected}


def view(session, district, who: str, *, bbox=DISTRICT, zoom=LOW, now=None):
    return clusters.clusters(session, actor=actor_of(session, district["people"][who]), bbox=bbox, zoom=zoom,
                             now=now)


def test_at_low_zoom_open_events_come_back_as_one_cell_per_place_with_counts(session, district):
    result = view(session, district, "leader")
    assert result["mode"] == "clusters" and result["total"] == 5
    assert [(c["count"], c["statuses"]) for c in result["items"]] == [(3, {"reported": 3}), (2, {"reported": 2})]
    west, east = result["items"]
    # The cell sits at the mean of its events, and a cell of several events names none of them.
    assert west["lon"] == pytest.approx(sum(e.lon for e in district["west"]) / 3, abs=1e-6)
    assert east["lat"] == pytest.approx(district["east"][0].lat, abs=1e-6)
    assert west["code"] is None and (west["red"], west["yellow"], west["worst"]) == (0, 0, "none")


def test_a_coarser_zoom_merges_the_cells_and_still_counts_every_open_event(session, district):
    result = view(session, district, "leader", zoom=7)
    assert [c["count"] for c in result["items"]] == [5]


def test_at_high_zoom_single_events_come_back_capped_worst_deadline_first(session, district, monkeypatch):
    leader = actor_of(session, district["people"]["leader"])
    dispatcher = actor_of(session, district["people"]["dispatcher2"])
    late = district["east"][1]
    service.transition(session, actor=dispatcher, code=late.code, name="accept")
    result = view(session, district, "leader", zoom=15, now=as_utc(late.due_at) + timedelta(hours=1))
    assert result["mode"] == "points" and result["total"] == 5 and not result["truncated"]
    assert {i["code"] for i in result["items"]} == {e.code for e in district["west"] + district["east"]}
    assert result["items"][0]["code"] == late.code and result["items"][0]["deadline_state"] == "red"
    assert result["items"][0]["status_label"] == "已受理" and result["red"] == 1

    monkeypatch.setattr(clusters, "MAX_POINTS", 2)
    capped = clusters.clusters(session, actor=leader, bbox=DISTRICT, zoom=16,
                               now=as_utc(late.due_at) + timedelta(hours=1))
    assert capped["total"] == 5 and capped["truncated"] and len(capped["items"]) == 2
    assert capped["items"][0]["code"] == late.code and capped["red"] == 1


def test_deadline_states_are_read_as_of_now_and_the_cell_takes_the_worst(session, district):
    dispatcher = actor_of(session, district["people"]["dispatcher1"])
    first, second = district["west"][:2]
    for event in (first, second):
        service.transition(session, actor=dispatcher, code=event.code, name="accept")
    yellow_time = as_utc(first.yellow_at) + timedelta(minutes=1)
    west = view(session, district, "leader", now=yellow_time)["items"][0]
    assert (west["count"], west["yellow"], west["red"], west["worst"]) == (3, 2, 0, "yellow")
    assert west["statuses"] == {"reported": 1, "accepted": 2}
    west = view(session, district, "leader", now=as_utc(first.due_at) + timedelta(minutes=1))["items"][0]
    assert (west["red"], west["worst"]) == (2, "red")


def test_the_viewport_limits_what_is_counted(session, district):
    west_only = clusters.BBox(121.29, 29.79, 121.40, 29.91)
    assert view(session, district, "leader", bbox=west_only)["total"] == 3
    assert view(session, district, "leader", bbox=west_only, zoom=15)["total"] == 3
    nowhere = clusters.BBox(100.0, 20.0, 100.1, 20.1)
    assert view(session, district, "leader", bbox=nowhere)["items"] == []


def test_each_user_sees_only_the_events_in_reach(session, district):
    assert view(session, district, "dispatcher1")["total"] == 3
    assert view(session, district, "dispatcher2")["total"] == 2
    points = view(session, district, "cadre", zoom=15)
    assert {i["code"] for i in points["items"]} == {e.code for e in district["west"]}
    with pytest.raises(Forbidden):
        view(session, district, "alliance")


def test_an_event_located_by_region_code_alone_is_drawn_at_the_regions_centroid(session, district):
    placed = make_event(session, region="330203102202").event
    region = geo.get_region(session, code="330203102202")
    item = next(i for i in view(session, district, "leader", zoom=15)["items"] if i["code"] == placed.code)
    assert (item["lon"], item["lat"]) == (round(region.centroid_lon, 6), round(region.centroid_lat, 6))


def test_a_huge_viewport_gets_coarser_cells_not_more_of_them():
    world = clusters.BBox(-180, -85, 180, 85)
    size_lon, size_lat = clusters.cell_size(12, world)
    assert math.ceil(360 / size_lon) * math.ceil(170 / size_lat) <= clusters.MAX_CELLS


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "121.5,29.8,121.3,29.9", "0,0,200,10", "nan,0,1,1"])
def test_a_malformed_bbox_is_refused_in_chinese(bbox):
    with pytest.raises(InvalidInput) as err:
        clusters.parse_bbox(bbox)
    assert "最小经度" in err.value.message_zh


def test_over_http_the_clusters_endpoint_is_not_taken_for_an_event_code(client, session, district):
    headers = bearer(session, district["people"]["dispatcher1"])
    r = client.get("/api/v1/events/clusters", params={"bbox": "121.29,29.79,121.51,29.91", "zoom": 11},
                   headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 3
    bad = client.get("/api/v1/events/clusters", params={"bbox": "121.5,29.8", "zoom": 11}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_bbox"
    assert client.get("/api/v1/events/clusters", params={"bbox": "1,2,3,4", "zoom": 40},
                      headers=headers).status_code == 422
    assert client.get("/api/v1/events/clusters", params={"bbox": "121.29,29.79,121.51,29.91", "zoom": 11}
                      ).status_code == 401
