"""Map layers over HTTP: the registry, who sees which layer, reach, bounding boxes and caps."""

from __future__ import annotations

from datetime import timedelta

import pytest
import shapely
from builders import (
    bearer,
    lattice_tree,
    make_event,
    make_units,
    make_user,
    voronoi_tree,
)
from sqlalchemy import func, insert, select, update

from shanzhi.db import utcnow
from shanzhi.events.models import Event
from shanzhi.events.service import transition
from shanzhi.geo import service as geo
from shanzhi.geo.models import Region
from shanzhi.policy.loader import permissions
from shanzhi.web import layers

WHOLE = "121.2,29.7,121.6,30.0"  # the lattice district (121.30–121.50, 29.80–29.90) and a margin
WEST_TOWN, EAST_TOWN = (121.33, 29.83), (121.47, 29.87)  # inside 330203101 and 330203102


@pytest.fixture
def hs(session, client):
    geo.import_regions(session, data=lattice_tree())
    people = {
        "west": make_user(session, username="wangfang", role="dispatcher", scope="330203101"),
        "east": make_user(session, username="zhaoyi", role="dispatcher", scope="330203102"),
        "district": make_user(session, username="leader", role="district_leader", scope="330203"),
        "alliance": make_user(session, username="yiyuan", role="alliance_unit", scope="330203"),
    }
    session.commit()
    return {name: bearer(session, user) for name, user in people.items()} | {"users": people}


def get_layer(client, key, headers, bbox=WHOLE, zoom=12, **params):
    return client.get(f"/api/v1/map/layers/{key}", params={"bbox": bbox, "zoom": zoom, **params}, headers=headers)


def scatter(session, n, *, around, spread=0.004, status="reported", **columns):
    """`n` events on a small square around a point, written in one statement (intake makes
    one at ~30 ms: far too slow for hundreds). Region codes come from the real locator."""
    lon0, lat0 = around
    side = max(1, int(n**0.5))
    lons = [lon0 + spread * ((i % side) / side - 0.5) for i in range(n)]
    lats = [lat0 + spread * ((i // side) / side - 0.5) for i in range(n)]
    chains = geo.locate_many(session, lons=lons, lats=lats)
    start = session.scalar(select(func.count()).select_from(Event)) or 0
    session.execute(insert(Event), [
        {"code": f"HS-T-{start + i:06d}", "tracking_hash": "-", "text": "测试事件，用于地图图层", "category_code": "0101",
         "category_source": "chosen", "channel": "grid_worker", "lon": lon, "lat": lat,
         "region_code": chain[-1].code, "town_code": chain[-1].code[:9], "status": status, **columns}
        for i, (lon, lat, chain) in enumerate(zip(lons, lats, chains))
    ])
    session.commit()


# -- the registry and the list -----------------------------------------------------------------


def test_the_list_holds_the_layers_each_role_may_see(client, hs):
    body = client.get("/api/v1/map/layers", headers=hs["west"]).json()
    keys = [i["key"] for i in body["items"]]  # the events domain's first; other domains' follow
    assert keys[:3] == ["regions", "events", "heat"] and body["total"] == len(keys)
    events = body["items"][1]
    assert (events["label"], events["kind"], events["default_on"]) == ("待办事件", "points", True)
    assert [i["label"] for i in events["legend"]] == ["待受理", "办理中", "临期（黄灯）", "超期（红灯）"]
    assert body["items"][2]["kind"] == "heat" and body["items"][2]["options"]["radius"] > 0
    # An alliance unit reads the region tree and the alliances' lists, but no events.
    alliance = client.get("/api/v1/map/layers", headers=hs["alliance"]).json()
    assert [i["key"] for i in alliance["items"]] == ["regions", "orgs", "alliances", "needs", "resources"]
    assert client.get("/api/v1/map/layers").status_code == 401


def test_every_registered_layer_names_a_known_permission():
    known = permissions().actions
    for entry in layers.LAYERS.values():
        assert entry.action in known, entry.key
        assert entry.kind in layers.KINDS and entry.label and entry.legend


def test_a_layer_the_user_may_not_see_answers_403_and_an_unknown_one_404(client, hs):
    denied = get_layer(client, "events", hs["alliance"])
    assert denied.status_code == 403 and denied.json()["error"]["message_zh"] == "您无权执行“查看事件”操作"
    missing = get_layer(client, "tenants", hs["west"])
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "layer_not_found"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"bbox": "121.3,29.8,121.5"}, "invalid_bbox"),
        ({"bbox": "a,b,c,d"}, "invalid_bbox"),
        ({"bbox": "121.5,29.8,121.3,29.9"}, "invalid_bbox"),  # west of its own east
        ({"bbox": "200,29.8,201,29.9"}, "invalid_bbox"),
        ({"bbox": "nan,29.8,121.5,29.9"}, "invalid_bbox"),
        ({"zoom": 40}, "invalid_input"),
        ({"zoom": "far"}, "invalid_input"),
        ({"bbox": None}, "invalid_input"),
    ],
)
def test_bad_boxes_and_zooms_answer_422_in_chinese(client, hs, query, code):
    params = {"bbox": WHOLE, "zoom": 12} | query
    r = client.get("/api/v1/map/layers/events", params={k: v for k, v in params.items() if v is not None},
                   headers=hs["west"])
    assert r.status_code == 422 and r.json()["error"]["code"] == code
    assert r.json()["error"]["message_zh"]


def test_a_layers_own_parameters_are_checked_by_the_layer(client, hs):
    r = get_layer(client, "heat", hs["west"], days="0")
    assert r.status_code == 422 and r.json()["error"]["message_zh"] == "参数 days 应为 1–366 的整数"
    many = {f"p{i}": "x" for i in range(25)}
    assert get_layer(client, "heat", hs["west"], **many).json()["error"]["code"] == "invalid_params"


# -- events ------------------------------------------------------------------------------------


def test_a_dispatcher_sees_only_the_open_events_of_her_own_town(client, session, hs):
    west = [make_event(session, lon=WEST_TOWN[0] + i * 0.001, lat=WEST_TOWN[1]).event.code for i in range(3)]
    east = make_event(session, lon=EAST_TOWN[0], lat=EAST_TOWN[1]).event.code
    session.commit()
    body = get_layer(client, "events", hs["west"], zoom=16).json()
    assert sorted(f["properties"]["code"] for f in body["features"]) == sorted(west)
    assert body["total"] == 3 and body["truncated"] is False and body["kind"] == "points"
    first = body["features"][0]
    assert first["geometry"]["type"] == "Point" and first["properties"]["color"] == "#7b1fa2"  # 待受理
    assert dict(first["properties"]["popup"])["状态"] == "待受理"
    assert first["properties"]["href"] == f"/events/{first['properties']['code']}"
    assert [f["properties"]["code"] for f in get_layer(client, "events", hs["east"]).json()["features"]] == [east]
    # A token narrowed to one village sees no further than that village.
    token = bearer(session, hs["users"]["district"], region="330203102201")
    session.commit()
    assert get_layer(client, "events", token).json()["total"] == 0
    assert get_layer(client, "events", hs["district"]).json()["total"] == 4


def test_closed_and_rejected_events_leave_the_events_layer(client, session, hs):
    make_units(session)
    kept = make_event(session, lon=WEST_TOWN[0], lat=WEST_TOWN[1]).event.code
    gone = make_event(session, lon=WEST_TOWN[0] + 0.001, lat=WEST_TOWN[1]).event.code
    from shanzhi.accounts.service import load_actor

    transition(session, actor=load_actor(session, hs["users"]["west"]), code=gone, name="reject",
               reason="重复上报，已有人处理")
    session.commit()
    codes = [f["properties"]["code"] for f in get_layer(client, "events", hs["west"]).json()["features"]]
    assert codes == [kept]


def test_only_events_inside_the_box_are_drawn(client, session, hs):
    make_event(session, lon=121.31, lat=29.81)
    inside = make_event(session, lon=121.39, lat=29.89).event.code
    session.commit()
    body = get_layer(client, "events", hs["west"], bbox="121.38,29.88,121.40,29.90", zoom=16).json()
    assert [f["properties"]["code"] for f in body["features"]] == [inside] and body["total"] == 1


def test_many_events_come_as_clusters_under_the_cap_and_add_up(client, session, hs):
    scatter(session, 900, around=WEST_TOWN, spread=0.05)
    scatter(session, 5, around=(121.41, 29.85), spread=0.0, deadline_state="red",
            due_at=utcnow() - timedelta(hours=2), yellow_at=utcnow() - timedelta(hours=8))
    for zoom in (11, 13, 15, 18):  # even at street level 900 events do not come one by one
        body = get_layer(client, "events", hs["district"], zoom=zoom).json()
        counts = [f["properties"]["count"] for f in body["features"]]
        assert body["clustered"] is True and body["total"] == 905 and sum(counts) == 905
        assert len(body["features"]) <= layers.MAX_FEATURES and body["truncated"] is False
    coarse = get_layer(client, "events", hs["district"], zoom=11).json()["features"]
    finer = get_layer(client, "events", hs["district"], zoom=14).json()["features"]
    assert len(coarse) < len(finer)
    # A cluster takes the colour of its worst event and says how many are overdue.
    overdue = [f for f in finer if f["properties"]["color"] == "#e53935"]
    assert len(overdue) == 1 and "超期 5 件" in overdue[0]["properties"]["tooltip"]


def test_a_huge_box_at_high_zoom_still_answers_at_most_500_clusters(client, session, hs):
    scatter(session, 2500, around=(121.40, 29.85), spread=0.09)
    body = get_layer(client, "events", hs["district"], bbox="100,20,140,40", zoom=18).json()
    assert 0 < len(body["features"]) <= layers.MAX_FEATURES
    assert sum(f["properties"]["count"] for f in body["features"]) == 2500


def test_from_zoom_15_up_to_500_events_come_one_by_one_newest_first(client, session, hs):
    scatter(session, 450, around=WEST_TOWN, spread=0.02)
    latest = make_event(session, lon=WEST_TOWN[0], lat=WEST_TOWN[1]).event.code
    session.commit()
    body = get_layer(client, "events", hs["west"], zoom=15).json()
    assert len(body["features"]) == 451 and not body.get("clustered")
    assert body["features"][0]["properties"]["code"] == latest
    assert get_layer(client, "events", hs["west"], zoom=13).json()["clustered"] is True


# -- heat --------------------------------------------------------------------------------------


def test_heat_is_event_density_in_weighted_cells(client, session, hs):
    scatter(session, 60, around=WEST_TOWN, spread=0.0005)  # one busy corner
    scatter(session, 6, around=(121.37, 29.88), spread=0.03, status="closed")  # spread thin; closed counts
    scatter(session, 4, around=(121.37, 29.88), status="merged")  # duplicates do not
    scatter(session, 9, around=(121.36, 29.86), created_at=utcnow() - timedelta(days=200))  # too old
    body = get_layer(client, "heat", hs["west"], zoom=13).json()
    assert body["type"] == "Heat" and body["kind"] == "heat" and body["total"] == 66
    weights = [w for _, _, w in body["points"]]
    assert sum(weights) == 66 and max(weights) >= 30 and len(weights) <= layers.MAX_HEAT_POINTS
    lat, lon, _ = max(body["points"], key=lambda p: p[2])
    assert abs(lat - WEST_TOWN[1]) < 0.01 and abs(lon - WEST_TOWN[0]) < 0.01  # [lat, lon] order, as Leaflet.heat wants
    assert body["max"] >= 1
    assert get_layer(client, "heat", hs["west"], zoom=13, days=365).json()["total"] == 75
    assert get_layer(client, "heat", hs["east"], zoom=13).json()["points"] == []  # reach applies to heat too


# -- regions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("zoom", "level", "count"),
                         [(9, "district", 1), (11, "town", 2), (12.5, "village", 4), (13.5, "grid", 8),
                          (15, "microgrid", 16)])
def test_region_outlines_get_finer_as_the_map_zooms_in(client, hs, zoom, level, count):
    body = get_layer(client, "regions", hs["alliance"], zoom=zoom).json()
    assert {f["properties"]["level"] for f in body["features"]} == {level} and len(body["features"]) == count
    assert body["features"][0]["geometry"]["type"] == "Polygon"


def test_region_outlines_keep_to_the_box(client, hs):
    body = get_layer(client, "regions", hs["alliance"], bbox="121.30,29.80,121.34,29.84", zoom=15).json()
    assert 0 < len(body["features"]) < 16
    assert all(f["properties"]["code"].startswith("330203101") for f in body["features"])


def test_a_town_without_villages_keeps_its_outline_among_villages(client, session):
    geo.import_regions(session, data=voronoi_tree())  # its town 6 has no villages
    headers = bearer(session, make_user(session, username="yiyuan", role="alliance_unit", scope="330299"))
    session.commit()
    body = get_layer(client, "regions", headers, bbox="121.2,29.7,121.65,30.0", zoom=12.5).json()
    codes = {f["properties"]["code"] for f in body["features"]}
    assert "330299106" in codes and sum(len(c) == 12 and c.startswith("330299") for c in codes) > 20


# -- one function and one entry ----------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry, so the layers a test registers vanish after it."""
    monkeypatch.setattr(layers, "LAYERS", dict(layers.LAYERS))
    return layers.LAYERS


def test_a_new_layer_is_one_function_and_one_entry(client, session, hs, registry):
    @layers.layer("population", "户籍人口", kind="choropleth", action="region.read",
                  legend=(layers.LegendItem("1,200 人以上", "#c62828"),))
    def population(session, *, actor, bbox, zoom, params):
        rows = session.execute(select(Region.code, Region.name, Region.population, Region.geometry_wkb)
                               .where(Region.level == "village", Region.min_lon <= bbox.east,
                                      Region.max_lon >= bbox.west)).all()
        features = [{"type": "Feature", "geometry": shapely.geometry.mapping(shapely.from_wkb(wkb)),
                     "properties": {"code": code, "color": "#c62828", "tooltip": f"{name} {people} 人"}}
                    for code, name, people, wkb in rows]
        return layers.feature_collection(features, summary=f"{len(features)} 个村社")

    listed = client.get("/api/v1/map/layers", headers=hs["alliance"]).json()["items"]
    assert listed[-1] == {"key": "population", "label": "户籍人口", "kind": "choropleth", "default_on": False,
                          "legend": [{"label": "1,200 人以上", "color": "#c62828"}], "description": "",
                          "options": {}}
    body = get_layer(client, "population", hs["alliance"], bbox="121.2,29.7,121.39,30.0").json()
    assert body["summary"] == "2 个村社" and body["kind"] == "choropleth"
    assert {f["properties"]["code"] for f in body["features"]} == {"330203101201", "330203101202"}


def test_the_endpoint_trims_a_layer_that_returns_too_much(client, hs, registry):
    @layers.layer("noisy", "噪声", kind="points", action="region.read")
    def noisy(session, *, actor, bbox, zoom, params):
        return layers.feature_collection([layers.point(121.3, 29.8) for _ in range(layers.MAX_FEATURES + 50)])

    body = get_layer(client, "noisy", hs["alliance"]).json()
    assert len(body["features"]) == layers.MAX_FEATURES and body["truncated"] is True


def test_a_new_layer_shows_only_to_holders_of_its_action(client, hs, registry):
    layers.layer("workload", "工作量", kind="heat", action="stats.read")(lambda session, **_: [[29.8, 121.3, 2]])
    assert "workload" not in [i["key"] for i in client.get("/api/v1/map/layers", headers=hs["alliance"]).json()["items"]]
    assert get_layer(client, "workload", hs["alliance"]).status_code == 403
    assert get_layer(client, "workload", hs["west"]).json()["points"] == [[29.8, 121.3, 2]]


def test_a_layer_key_cannot_be_registered_twice(registry):
    with pytest.raises(ValueError, match="twice"):
        layers.layer("events", "重复", kind="points", action="event.read")(lambda session, **_: {})
    with pytest.raises(ValueError, match="kind"):
        layers.layer("odd", "怪", kind="pie", action="event.read")(lambda session, **_: {})  # type: ignore[arg-type]


def test_marking_the_deadline_state_follows_the_clock_not_the_last_sweep(client, session, hs):
    # The stored column lags until the worker's next sweep; the map shows the state as of now.
    scatter(session, 1, around=WEST_TOWN, deadline_state="normal", status="accepted",
            yellow_at=utcnow() - timedelta(hours=1), due_at=utcnow() + timedelta(hours=1))
    feature = get_layer(client, "events", hs["west"], zoom=16).json()["features"][0]
    assert feature["properties"]["color"] == "#f9a825" and dict(feature["properties"]["popup"])["时限"] == "临期（黄灯）"
    session.execute(update(Event).values(due_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    feature = get_layer(client, "events", hs["west"], zoom=16).json()["features"][0]
    assert feature["properties"]["color"] == "#e53935"
