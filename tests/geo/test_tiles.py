"""Region outlines by zoom: the level that suits the zoom, simplified, cached per tree revision."""

from __future__ import annotations

import json

import pytest
import shapely
from builders import bearer, lattice_tree, make_user, voronoi_tree

from shanzhi.errors import InvalidInput, NotFound
from shanzhi.geo import service as geo
from shanzhi.geo import tiles


@pytest.mark.parametrize(("zoom", "root", "level"), [
    (9, "district", "town"), (12, "district", "town"), (13, "district", "village"), (14.5, "district", "grid"),
    (16, "district", "microgrid"),
    (9, "town", "village"),  # never the root's own level: a town is shown by its villages
    (15, "village", "grid"), (9, "village", "grid"), (12, "microgrid", "microgrid"),
])
def test_the_level_drawn_follows_the_zoom_below_the_root(zoom, root, level):
    assert tiles.level_for(zoom, root) == level


def layer(session, **kw) -> dict:
    return json.loads(tiles.region_layer(session, **kw))


def test_a_layer_holds_the_regions_of_its_level_under_the_root_meeting_the_view(session):
    geo.import_regions(session, data=lattice_tree())
    towns = layer(session, root="330203", zoom=10)
    assert towns["level"] == "town" and towns["level_zh"] == "镇/街道/乡"
    assert [f["properties"]["name"] for f in towns["features"]] == ["第1镇", "第2镇"]
    west = layer(session, root="330203", zoom=10, bbox=(121.31, 29.81, 121.35, 29.85))
    assert [f["properties"]["code"] for f in west["features"]] == ["330203101"]
    villages = layer(session, root="330203102", zoom=10)
    assert {f["properties"]["code"][:9] for f in villages["features"]} == {"330203102"}
    assert len(villages["features"]) == 2
    outline = layer(session, root="330203", zoom=10, level="district")
    assert [f["properties"]["code"] for f in outline["features"]] == ["330203"]


def test_where_the_tree_stops_above_the_level_its_leaves_stand_in(session):
    geo.import_regions(session, data=voronoi_tree())  # 镇6 (330299106) has no villages
    villages = layer(session, root="330299", zoom=13)
    assert villages["level"] == "village"
    levels = {f["properties"]["code"]: f["properties"]["level"] for f in villages["features"]}
    assert levels.pop("330299106") == "town" and set(levels.values()) == {"village"}
    assert "330299101" not in levels  # a town with villages is drawn by them


def test_outlines_are_simplified_to_about_a_pixel_of_the_zoom(session):
    geo.import_regions(session, data=voronoi_tree())

    def vertices(fc: dict) -> int:
        return sum(shapely.get_num_coordinates(shapely.from_geojson(json.dumps(f["geometry"])))
                   for f in fc["features"])

    stored = vertices(geo.region_features(session, code="330299", children=True))
    coarse = vertices(layer(session, root="330299", zoom=8, level="town"))
    assert coarse < stored / 4  # the borders were cut every 0.002°, far below a pixel at zoom 8


def test_an_import_invalidates_the_cached_layer(session):
    tree = lattice_tree()
    geo.import_regions(session, data=tree)
    assert layer(session, root="330203", zoom=10)["features"][0]["properties"]["name"] == "第1镇"
    for f in tree["features"]:
        if f["properties"]["code"] == "330203101":
            f["properties"]["name"] = "古林镇"
    geo.import_regions(session, data=tree)
    assert layer(session, root="330203", zoom=10)["features"][0]["properties"]["name"] == "古林镇"


def test_bad_requests_are_refused(session):
    geo.import_regions(session, data=lattice_tree())
    with pytest.raises(NotFound):
        tiles.region_layer(session, root="330299", zoom=10)
    with pytest.raises(InvalidInput):
        tiles.region_layer(session, root="330203101", zoom=10, level="district")
    with pytest.raises(InvalidInput):
        tiles.region_layer(session, root="330203", zoom=10, level="province")


def test_over_http_the_layer_is_geojson(client, session):
    geo.import_regions(session, data=lattice_tree())
    headers = bearer(session, make_user(session, role="dispatcher", scope="330203101"))
    session.commit()
    r = client.get("/api/v1/regions/330203101/layer", params={"zoom": 13, "bbox": "121.3,29.8,121.4,29.9"},
                   headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["type"] == "FeatureCollection" and r.json()["level"] == "village"
    assert client.get("/api/v1/regions/330203101/layer", params={"zoom": 13, "bbox": "x"},
                      headers=headers).status_code == 422
    assert client.get("/api/v1/regions/999999/layer", params={"zoom": 13}, headers=headers).status_code == 404
