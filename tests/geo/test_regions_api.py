"""The region and locate endpoints, including every bad-input answer."""

from __future__ import annotations

import pytest
import shapely

from builders import bearer, lattice_tree, make_user, voronoi_tree
from shanzhi.geo import service


@pytest.fixture
def tree(session, client):
    service.import_regions(session, data=lattice_tree())
    # A grid worker deep in the tree still reads the whole tree: it is reference data.
    client.headers.update(bearer(session, make_user(session, role="grid_worker", scope="330203102202002002")))
    session.commit()


def test_the_api_answers_401_without_a_sign_in(client, session):
    service.import_regions(session, data=lattice_tree())
    session.commit()
    assert_error(client.get("/api/v1/regions"), 401, "unauthorized")
    assert_error(client.get("/api/v1/locate", params={"lon": 121.31, "lat": 29.81}), 401, "unauthorized")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code
    assert body["message"] and body["message_zh"]
    return body


def test_it_lists_regions_paged_and_filtered(client, tree):
    r = client.get("/api/v1/regions", params={"level": "microgrid", "size": 5, "page": 2})
    body = r.json()
    assert r.status_code == 200
    assert (body["total"], body["page"], body["size"], len(body["items"])) == (16, 2, 5, 5)
    assert all(i["level"] == "microgrid" and i["level_zh"] == "微网格" for i in body["items"])
    kids = client.get("/api/v1/regions", params={"parent": "330203101"}).json()
    assert [i["code"] for i in kids["items"]] == ["330203101201", "330203101202"]
    assert kids["items"][0]["parent_code"] == "330203101"
    assert kids["items"][0]["village_type_zh"] == "城郊村"
    found = client.get("/api/v1/regions", params={"q": "第2镇"}).json()
    assert [i["code"] for i in found["items"]] == ["330203102"]


def test_region_detail_has_its_chain_and_descendant_counts(client, tree):
    body = client.get("/api/v1/regions/330203101201").json()
    assert [c["code"] for c in body["chain"]] == ["330203", "330203101", "330203101201"]
    assert body["children_count"] == 2
    assert body["descendants"] == {"grid": 2, "microgrid": 4}
    assert client.get("/api/v1/regions/330203").json()["descendants"] == {
        "town": 2, "village": 4, "grid": 8, "microgrid": 16,
    }


def test_geojson_of_children_is_simplified_by_the_tolerance(client, session):
    service.import_regions(session, data=voronoi_tree())
    client.headers.update(bearer(session, make_user(session, scope="330299")))
    session.commit()
    full = client.get("/api/v1/regions/330299/geojson", params={"children": "true"}).json()
    coarse = client.get("/api/v1/regions/330299/geojson", params={"children": "true", "tolerance": 0.01}).json()
    assert len(full["features"]) == len(coarse["features"]) >= 5
    n_full = sum(shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"])) for f in full["features"])
    n_coarse = sum(shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"])) for f in coarse["features"])
    assert n_coarse < n_full / 2
    assert all(shapely.geometry.shape(f["geometry"]).is_valid for f in coarse["features"])
    own = client.get("/api/v1/regions/330299/geojson").json()
    assert [f["properties"]["code"] for f in own["features"]] == ["330299"]


def test_locate_answers_the_whole_chain(client, tree):
    body = client.get("/api/v1/locate", params={"lon": 121.31, "lat": 29.81}).json()
    assert body["region"]["code"] == "330203101201001001"
    assert [c["level"] for c in body["chain"]] == ["district", "town", "village", "grid", "microgrid"]


def test_locate_accepts_gcj02(client, tree):
    body = client.get("/api/v1/locate", params={"lon": 121.3147, "lat": 29.8077, "crs": "GCJ02"}).json()
    assert body["crs"] == "wgs84" and body["lon"] < 121.3147


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"lon": 200, "lat": 29.8}, 422, "invalid_input"),
        ({"lon": 121.3, "lat": -95}, 422, "invalid_input"),
        ({"lon": "east", "lat": 29.8}, 422, "invalid_input"),
        ({"lat": 29.8}, 422, "invalid_input"),
        ({"lon": 121.31, "lat": 29.81, "crs": "mars"}, 422, "unknown_crs"),
        ({"lon": 116.4, "lat": 39.9}, 404, "outside_jurisdiction"),
    ],
)
def test_locate_rejects_bad_input_clearly(client, tree, params, status, code):
    assert_error(client.get("/api/v1/locate", params=params), status, code)


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/regions/999999", {}, 404, "region_not_found"),
        ("/api/v1/regions/999999/geojson", {}, 404, "region_not_found"),
        ("/api/v1/regions/330203/geojson", {"tolerance": -1}, 422, "invalid_input"),
        ("/api/v1/regions", {"level": "county"}, 422, "unknown_level"),
        ("/api/v1/regions", {"size": 501}, 422, "invalid_input"),
        ("/api/v1/regions", {"page": 0}, 422, "invalid_input"),
        ("/api/v1/regions", {"parent": "123456789"}, 404, "region_not_found"),
        ("/api/v1/no-such-thing", {}, 404, "not_found"),
    ],
)
def test_region_endpoints_reject_bad_input_clearly(client, tree, path, params, status, code):
    body = assert_error(client.get(path, params=params), status, code)
    if code == "region_not_found":
        assert "999999" in body["message"] or "123456789" in body["message"]


def test_the_openapi_document_and_local_docs_page_are_served(client):
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/locate" in spec["paths"]
    page = client.get("/api/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
