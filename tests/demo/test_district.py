"""The demo district generator: counts, names, codes, determinism and a sound partition."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from shanzhi.demo.district import TOWNS, apportion, build_district
from shanzhi.geo.levels import BY_NAME, LEVEL_NAMES, VILLAGE_TYPES

SEED = 2026
LAT0 = 29.85
KX = math.cos(math.radians(LAT0)) * 111320.0
KY = 110574.0

STREETS = ["江厦街道", "鼓楼街道", "月湖街道", "西门街道", "南门街道", "白云街道", "段塘街道", "望春街道", "石碶街道"]
RURAL = ["高桥镇", "集士港镇", "古林镇", "横街镇", "洞桥镇", "鄞江镇", "章水镇", "龙观乡"]
MOUNTAIN_TOWNS = ["章水镇", "龙观乡", "鄞江镇"]
PARENT_LEVEL = {"town": "district", "village": "town", "grid": "village", "microgrid": "grid"}


@pytest.fixture(scope="module")
def built() -> dict:
    calls: list[tuple[str, int, int]] = []
    features = build_district(SEED, progress=lambda label, done, total: calls.append((label, done, total)))
    return {"features": features, "calls": calls}


@pytest.fixture(scope="module")
def features(built) -> list[dict]:
    return built["features"]


@pytest.fixture(scope="module")
def props(features) -> list[dict]:
    return [f["properties"] for f in features]


@pytest.fixture(scope="module")
def by_code(features) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in features}


@pytest.fixture(scope="module")
def by_level(features) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for f in features:
        out[f["properties"]["level"]].append(f)
    return out


@pytest.fixture(scope="module")
def metric(features) -> dict[str, shapely.Geometry]:
    """Each feature's geometry in metres (local equirectangular projection), keyed by code."""
    geoms = np.array([shape(f["geometry"]) for f in features], dtype=object)
    projected = shapely.transform(geoms, lambda c: c * np.array([KX, KY]))
    return {f["properties"]["code"]: g for f, g in zip(features, projected)}


def _codes(by_level, level: str) -> list[str]:
    return [f["properties"]["code"] for f in by_level[level]]


def _name_of(by_code, code: str | None) -> str | None:
    return by_code[code]["properties"]["name"] if code else None


# ---- counts and names ------------------------------------------------------------------------


def test_it_has_1_district_17_towns_164_villages_572_grids_and_2229_microgrids(by_level):
    counts = {level: len(by_level[level]) for level in LEVEL_NAMES}
    assert counts == {"district": 1, "town": 17, "village": 164, "grid": 572, "microgrid": 2229}


def test_the_district_is_haishu_with_code_330203(by_level):
    (district,) = by_level["district"]
    assert district["properties"]["code"] == "330203"
    assert district["properties"]["name"] == "海曙区"
    assert district["properties"]["parent_code"] is None


def test_the_towns_carry_the_17_real_names(by_level):
    names = [f["properties"]["name"] for f in by_level["town"]]
    assert sorted(names) == sorted(STREETS + RURAL)


def test_streets_are_numbered_001_to_009_towns_101_to_107_and_longguan_200(by_level):
    code = {f["properties"]["name"]: f["properties"]["code"] for f in by_level["town"]}
    assert sorted(code[n] for n in STREETS) == [f"330203{i:03d}" for i in range(1, 10)]
    assert sorted(code[n] for n in RURAL if n != "龙观乡") == [f"330203{i}" for i in range(101, 108)]
    assert code["龙观乡"] == "330203200"


def test_it_has_exactly_164_villages_all_in_rural_towns(by_level, by_code):
    per_town = Counter(_name_of(by_code, f["properties"]["parent_code"]) for f in by_level["village"])
    assert sum(per_town.values()) == 164
    assert sorted(per_town) == sorted(RURAL)
    assert all(15 <= n <= 28 for n in per_town.values()), per_town


def test_each_village_has_2_to_6_grids_and_each_grid_2_to_7_microgrids(by_level):
    grids = Counter(f["properties"]["parent_code"] for f in by_level["grid"])
    micro = Counter(f["properties"]["parent_code"] for f in by_level["microgrid"])
    assert set(grids) == set(_codes(by_level, "village"))
    assert set(micro) == set(_codes(by_level, "grid"))
    assert all(2 <= n <= 6 for n in grids.values())
    assert all(2 <= n <= 7 for n in micro.values())


def test_ou_lan_qiao_village_is_in_gaoqiao_and_shen_xi_village_in_jishigang(by_level, by_code):
    town_of = {
        f["properties"]["name"]: _name_of(by_code, f["properties"]["parent_code"]) for f in by_level["village"]
    }
    assert town_of["藕缆桥村"] == "高桥镇"
    assert town_of["深溪村"] == "集士港镇"


def test_village_names_are_unique_chinese_and_all_end_in_cun(by_level):
    names = [f["properties"]["name"] for f in by_level["village"]]
    assert len(set(names)) == len(names) == 164
    for name in names:
        assert name.endswith("村") and 2 <= len(name) <= 5, name
        assert all("\u4e00" <= ch <= "\u9fff" for ch in name), name


def test_grid_and_microgrid_names_extend_their_parents_names(by_level, by_code):
    for f in by_level["grid"]:
        p = f["properties"]
        village = _name_of(by_code, p["parent_code"])
        assert p["name"].startswith(village + "第") and p["name"].endswith("网格"), p["name"]
    for f in by_level["microgrid"]:
        p = f["properties"]
        grid = _name_of(by_code, p["parent_code"])
        assert p["name"] == f"{grid}{int(p['code'][-3:])}号微网格"
    assert any(f["properties"]["name"] == "藕缆桥村第一网格" for f in by_level["grid"])


# ---- codes and order -------------------------------------------------------------------------


def test_codes_are_unique_digits_of_the_right_length_and_extend_the_parent_code(props):
    codes = [p["code"] for p in props]
    assert len(set(codes)) == len(codes)
    for p in props:
        assert p["code"].isdigit() and p["code"].isascii()
        assert len(p["code"]) == BY_NAME[p["level"]].code_length
        if p["level"] == "district":
            assert p["parent_code"] is None
        else:
            assert p["code"].startswith(p["parent_code"])


def test_child_codes_count_up_from_201_for_villages_and_001_below(by_level):
    for level, first in (("village", 201), ("grid", 1), ("microgrid", 1)):
        siblings: dict[str, list[int]] = defaultdict(list)
        for f in by_level[level]:
            siblings[f["properties"]["parent_code"]].append(int(f["properties"]["code"][-3:]))
        for numbers in siblings.values():
            assert sorted(numbers) == list(range(first, first + len(numbers)))


def test_every_parent_comes_before_its_children(props):
    seen: dict[str, str] = {}
    for p in props:
        if p["parent_code"] is not None:
            assert p["parent_code"] in seen, p["code"]
            assert seen[p["parent_code"]] == PARENT_LEVEL[p["level"]]
        seen[p["code"]] = p["level"]


# ---- village attributes ----------------------------------------------------------------------


def test_village_attributes_are_plausible_integers(by_level):
    for f in by_level["village"]:
        p = f["properties"]
        assert p["village_type"] in VILLAGE_TYPES
        for key in ("households", "population", "floating_population"):
            assert isinstance(p[key], int) and p[key] >= 0, (key, p)
        assert 800 <= p["population"] <= 6000
        assert 2.0 <= p["population"] / p["households"] <= 3.5


def test_floating_population_is_higher_in_urban_and_suburban_villages(by_level):
    ratios: dict[str, list[float]] = defaultdict(list)
    for f in by_level["village"]:
        p = f["properties"]
        ratios[p["village_type"]].append(p["floating_population"] / p["population"])
    assert set(ratios) == {"urban", "suburban", "mountain"}
    mean = {k: sum(v) / len(v) for k, v in ratios.items()}
    assert mean["urban"] > mean["suburban"] > mean["mountain"]


def test_mountain_towns_villages_are_mountain_villages(by_level, by_code):
    types_by_town: dict[str, set[str]] = defaultdict(set)
    for f in by_level["village"]:
        types_by_town[_name_of(by_code, f["properties"]["parent_code"])].add(f["properties"]["village_type"])
    for town in MOUNTAIN_TOWNS:
        assert types_by_town[town] == {"mountain"}
    assert types_by_town["洞桥镇"] == {"mountain", "suburban"}  # hills in the west only
    for town in ("高桥镇", "集士港镇", "古林镇"):
        assert "mountain" not in types_by_town[town]
    assert "urban" in types_by_town["高桥镇"] | types_by_town["集士港镇"] | types_by_town["古林镇"]


# ---- geometry --------------------------------------------------------------------------------


def test_every_geometry_is_a_valid_non_empty_polygon_rounded_to_7_decimals(features):
    for f in features:
        geom = f["geometry"]
        assert geom["type"] in ("Polygon", "MultiPolygon")
        g = shape(geom)
        assert not g.is_empty and g.area > 0
        assert shapely.is_valid(g), (f["properties"]["code"], shapely.is_valid_reason(g))
        coords = shapely.get_coordinates(g)
        assert np.array_equal(coords, np.round(coords, 7))


def test_all_points_lie_within_lon_121_25_to_121_60_and_lat_29_75_to_29_95(features):
    coords = np.concatenate([shapely.get_coordinates(shape(f["geometry"])) for f in features])
    assert coords[:, 0].min() >= 121.25 and coords[:, 0].max() <= 121.60
    assert coords[:, 1].min() >= 29.75 and coords[:, 1].max() <= 29.95


def test_the_district_outline_is_irregular_not_its_bounding_box(by_level):
    outline = shape(by_level["district"][0]["geometry"])
    assert outline.geom_type == "Polygon"
    assert len(outline.exterior.coords) > 100
    assert outline.area < 0.9 * outline.envelope.area


def test_each_town_contains_its_real_seat_and_the_old_city_streets_are_small(by_level, metric):
    geom = {f["properties"]["name"]: shape(f["geometry"]) for f in by_level["town"]}
    for town in TOWNS:
        assert geom[town.name].contains(shapely.Point(town.lon, town.lat)), town.name
    code = {f["properties"]["name"]: f["properties"]["code"] for f in by_level["town"]}
    km2 = {name: metric[c].area / 1e6 for name, c in code.items()}
    for name in ("鼓楼街道", "江厦街道", "月湖街道", "西门街道", "南门街道"):
        assert km2[name] < 10, (name, km2[name])
    assert min(km2[n] for n in ("横街镇", "章水镇", "鄞江镇")) > max(km2[n] for n in STREETS)


def test_every_child_lies_inside_its_parent(props, metric):
    children = [p for p in props if p["parent_code"] is not None]
    child = np.array([metric[p["code"]] for p in children], dtype=object)
    parent = np.array([metric[p["parent_code"]] for p in children], dtype=object)
    outside = shapely.area(shapely.difference(child, parent))
    limit = np.maximum(1.0, 1e-4 * shapely.area(child))
    bad = [(p["code"], a) for p, a, lim in zip(children, outside, limit) if a > lim]
    assert not bad


def test_no_two_units_of_a_level_overlap(by_level, metric):
    for level in LEVEL_NAMES[1:]:
        geoms = np.array([metric[c] for c in _codes(by_level, level)], dtype=object)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        keep = left < right
        a, b = geoms[left[keep]], geoms[right[keep]]
        overlap = shapely.area(shapely.intersection(a, b))
        limit = np.maximum(1.0, 1e-4 * np.minimum(shapely.area(a), shapely.area(b)))
        assert (overlap <= limit).all(), (level, float(overlap.max()))


def test_children_cover_their_parent(props, metric):
    kids: dict[str, list[str]] = defaultdict(list)
    for p in props:
        if p["parent_code"] is not None:
            kids[p["parent_code"]].append(p["code"])
    assert len(kids) == 1 + 8 + 164 + 572
    for parent, codes in kids.items():
        union = shapely.union_all([metric[c] for c in codes])
        gap = shapely.difference(metric[parent], union).area
        assert gap <= 1e-3 * metric[parent].area, (parent, gap)


# ---- determinism and progress ----------------------------------------------------------------


def test_the_same_seed_gives_identical_output(features):
    again = build_district(SEED)
    assert json.dumps(again, ensure_ascii=False) == json.dumps(features, ensure_ascii=False)


def test_a_different_seed_gives_a_different_but_equally_sized_district(features):
    other = build_district(7)
    assert Counter(f["properties"]["level"] for f in other) == Counter(f["properties"]["level"] for f in features)
    assert other[0]["geometry"] != features[0]["geometry"]
    names = [f["properties"]["name"] for f in other if f["properties"]["level"] == "village"]
    assert len(set(names)) == 164 and {"藕缆桥村", "深溪村"} <= set(names)


def test_progress_is_reported_in_chinese_stages_that_finish(built):
    calls = built["calls"]
    assert calls
    last: dict[str, tuple[int, int]] = {}
    for label, done, total in calls:
        assert 0 <= done <= total and total > 0
        assert any("\u4e00" <= ch <= "\u9fff" for ch in label)
        last[label] = (done, total)
    assert all(done == total for done, total in last.values())
    assert {"生成村", "生成网格", "生成微网格"} <= set(last)


def test_apportion_hits_the_total_exactly_within_bounds():
    counts = apportion(164, [5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0], 15, 28)
    assert sum(counts) == 164 and all(15 <= c <= 28 for c in counts)
    assert counts[7] == 28 and counts[0] > counts[1]
    with pytest.raises(ValueError):
        apportion(10, [1.0, 1.0], 6, 9)
