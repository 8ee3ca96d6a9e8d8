"""Importing the region tree: what is accepted, and every way a bad tree is rejected whole."""

from __future__ import annotations

import copy

import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import func, select

from builders import X0, X1, Y0, Y1, feature, lattice_tree
from shanzhi.errors import InvalidInput
from shanzhi.geo import service
from shanzhi.geo.models import Region


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Region))


def rejected(session, data) -> InvalidInput:
    before = count(session)
    with pytest.raises(InvalidInput) as info:
        service.import_regions(session, data=data)
    assert count(session) == before, "a rejected import must not write anything"
    return info.value


def test_it_imports_a_valid_tree_with_all_levels(session):
    result = service.import_regions(session, data=lattice_tree())
    assert (result.created, result.updated) == (31, 0)
    levels = dict(session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert levels == {"district": 1, "town": 2, "village": 4, "grid": 8, "microgrid": 16}
    village = service.get_region(session, code="330203101201")
    assert village.village_type == "suburban" and village.population == 1201
    assert village.parent_id == service.get_region(session, code="330203101").id
    assert village.area_km2 == pytest.approx(9.6 * 5.5, rel=0.03)  # 0.1° × 0.05° near 29.85°N


def test_reimporting_the_same_tree_updates_rather_than_duplicates(session):
    service.import_regions(session, data=lattice_tree())
    again = lattice_tree()
    again["features"][1]["properties"]["name"] = "改名镇"
    result = service.import_regions(session, data=again)
    assert (result.created, result.updated) == (0, 31)
    assert count(session) == 31
    assert service.get_region(session, code="330203101").name == "改名镇"


def test_it_rejects_a_child_lying_outside_its_parent(session):
    data = lattice_tree()
    town = next(f for f in data["features"] if f["properties"]["code"] == "330203101")
    town["geometry"] = box(X0, Y0, X1 + 0.05, Y1).__geo_interface__  # sticks out east
    err = rejected(session, data)
    assert err.code == "invalid_regions"
    assert "330203101" in err.message and "outside its parent 330203" in err.message
    assert "超出上级区域" in err.message_zh
    assert err.details[0]["index"] == data["features"].index(town)


def test_it_tolerates_a_sliver_beyond_the_parent_from_digitising(session):
    data = lattice_tree()
    grid = next(f for f in data["features"] if f["properties"]["code"] == "330203101201001")
    x0, y0, x1, y1 = Polygon(grid["geometry"]["coordinates"][0]).bounds
    # 1e-7° ≈ 1 cm west of the district edge along one side: far below the tolerance.
    grid["geometry"] = box(x0 - 1e-7, y0, x1, y1).__geo_interface__
    data["features"] = [f for f in data["features"] if not f["properties"]["code"].startswith("330203101201001") or f is grid]
    service.import_regions(session, data=data)


def test_it_rejects_overlapping_siblings_and_names_both(session):
    data = lattice_tree()
    first = next(f for f in data["features"] if f["properties"]["code"] == "330203101")
    first["geometry"] = box(X0, Y0, (X0 + X1) / 2 + 0.02, Y1).__geo_interface__
    data["features"] = [f for f in data["features"] if len(f["properties"]["code"]) <= 9]
    err = rejected(session, data)
    assert "overlaps its sibling" in err.message
    assert {"330203101", "330203102"} <= set(err.message.replace("(", " ").split())
    assert "重叠" in err.message_zh


def test_it_rejects_duplicate_codes(session):
    data = lattice_tree()
    data["features"].append(copy.deepcopy(data["features"][3]))
    err = rejected(session, data)
    assert "duplicate code" in err.message and "编码" in err.message_zh
    assert err.details[0]["index"] == len(data["features"]) - 1


def test_it_rejects_a_self_intersecting_polygon(session):
    bowtie = Polygon([(X0, Y0), (X1, Y1), (X1, Y0), (X0, Y1), (X0, Y0)])
    data = {"type": "FeatureCollection", "features": [feature("district", "330203", "蝴蝶区", bowtie)]}
    err = rejected(session, data)
    assert "invalid polygon" in err.message and "Self-intersection" in err.message
    assert "330203 蝴蝶区" in err.message


def test_it_rejects_an_unknown_parent(session):
    data = lattice_tree()
    data["features"] = [f for f in data["features"] if f["properties"]["code"] != "330203102"]
    err = rejected(session, data)
    assert "unknown parent 330203102" in err.message
    assert "上级区域 330203102 不存在" in err.message_zh


def test_a_child_may_join_a_parent_imported_earlier(session):
    data = lattice_tree()
    service.import_regions(session, data={"type": "FeatureCollection", "features": data["features"][:2]})
    rest = {"type": "FeatureCollection", "features": data["features"][2:]}
    assert service.import_regions(session, data=rest).created == 29


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(type="Feature"), "FeatureCollection"),
        (lambda d: d.pop("features"), "features"),
        (lambda d: d["features"][2].update(geometry=None), "feature 2"),
        (lambda d: d["features"][2].update(geometry={"type": "Polygon", "coordinates": [[1, 2]]}), "feature 2"),
        (lambda d: d["features"][2].update(geometry={"type": "Point", "coordinates": [121.4, 29.85]}), "Polygon or MultiPolygon"),
        (lambda d: d["features"][3]["properties"].update(level="county"), "feature 3: level 'county'"),
        (lambda d: d["features"][3]["properties"].update(code="33020310A"), "must be"),
        (lambda d: d["features"][3]["properties"].update(name=""), "needs a name"),
        (lambda d: d["features"][3]["properties"].update(parent_code="330299"), "parent_code"),
        (lambda d: d["features"][4]["properties"].update(village_type="城里"), "village_type"),
        (lambda d: d["features"][4]["properties"].update(population=-3), "population"),
        (lambda d: d["features"][0].update(geometry=box(200, 29, 201, 30).__geo_interface__), "out of range"),
    ],
)
def test_it_rejects_malformed_geojson_naming_the_feature(session, mutate, fragment):
    data = lattice_tree()
    mutate(data)
    err = rejected(session, data)
    assert fragment in err.message
    assert err.message_zh and err.code in {"invalid_geojson", "invalid_regions"}


def test_it_reports_every_problem_in_one_run(session):
    data = lattice_tree()
    data["features"][5]["properties"]["level"] = "county"
    data["features"][7]["properties"]["code"] = "1"
    err = rejected(session, data)
    assert [d["index"] for d in err.details] == [5, 7]
    assert "1 more" in err.message


def test_export_then_import_into_an_empty_tree_gives_the_same_tree(session, connection):
    service.import_regions(session, data=lattice_tree())
    exported = service.export_regions(session)
    assert [f["properties"]["code"] for f in exported["features"]][:3] == ["330203", "330203101", "330203102"]
    session.execute(Region.__table__.update().values(parent_id=None))
    session.execute(Region.__table__.delete())
    assert service.import_regions(session, data=exported).created == 31
    assert service.export_regions(session) == exported


def test_export_can_stop_at_a_level_and_a_subtree(session):
    service.import_regions(session, data=lattice_tree())
    levels = {f["properties"]["level"] for f in service.export_regions(session, level="village")["features"]}
    assert levels == {"district", "town", "village"}
    sub = service.export_regions(session, root="330203102")["features"]
    assert len(sub) == 15 and all(f["properties"]["code"].startswith("330203102") for f in sub)
