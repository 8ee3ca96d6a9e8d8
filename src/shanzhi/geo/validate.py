"""Parsing and validating region GeoJSON before anything is written.

Every problem names the feature (its index in the file, code and name) and says what is wrong
in English and Chinese. All problems are collected, so one import run reports them all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from shanzhi.errors import InvalidInput
from shanzhi.geo.levels import BY_NAME, LEVEL_NAMES, VILLAGE_TYPES, parent_level
from shanzhi.geo.shapes import from_geojson, to_metres

# A child may stick out of its parent, and siblings may overlap, by this much (slivers from
# digitising and rounding): the larger of an absolute area and a share of the smaller polygon.
TOLERANCE_M2 = 1.0
TOLERANCE_SHARE = 1e-4
MAX_NAME = 100
_VILLAGE_TYPE_BY_LABEL = {label: key for key, label in VILLAGE_TYPES.items()}
_COUNT_FIELDS = ("households", "population", "floating_population")


@dataclass
class RegionInput:
    index: int | None  # position in the imported file; None for a node already stored
    level: str
    code: str
    name: str
    parent_code: str | None
    geometry: BaseGeometry
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        where = f"feature {self.index}" if self.index is not None else "stored region"
        return f"{where} ({self.code} {self.name})"

    @property
    def label_zh(self) -> str:
        where = f"第 {self.index} 个要素" if self.index is not None else "已有区域"
        return f"{where}（{self.code} {self.name}）"


@dataclass
class Problem:
    index: int | None
    code: str | None
    reason: str
    reason_zh: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "reason": self.reason, "reason_zh": self.reason_zh}


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, node: RegionInput | None, index: int | None, reason: str, reason_zh: str) -> None:
        if node is not None:
            reason, reason_zh = f"{node.label}: {reason}", f"{node.label_zh}：{reason_zh}"
            index = node.index
        elif index is not None:
            reason, reason_zh = f"feature {index}: {reason}", f"第 {index} 个要素：{reason_zh}"
        self.items.append(Problem(index, node.code if node else None, reason, reason_zh))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        more = len(self.items) - 1
        suffix, suffix_zh = (f" (and {more} more problems)", f"（另有 {more} 个问题）") if more else ("", "")
        raise InvalidInput(
            f"Region import rejected: {first.reason}{suffix}",
            f"区域导入被拒绝：{first.reason_zh}{suffix_zh}",
            code="invalid_regions",
            details=[p.as_dict() for p in self.items[:200]],
        )


def parse_feature_collection(data: Any) -> list[RegionInput]:
    """GeoJSON FeatureCollection → RegionInput list; raises InvalidInput naming each bad feature."""
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise InvalidInput(
            "Expected a GeoJSON FeatureCollection",
            "应为 GeoJSON FeatureCollection（要素集合）",
            code="invalid_geojson",
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise InvalidInput(
            "FeatureCollection has no 'features' list",
            "要素集合缺少 features 列表",
            code="invalid_geojson",
        )
    problems = _Problems()
    nodes = [n for i, f in enumerate(features) if (n := _parse_feature(i, f, problems)) is not None]
    problems.raise_if_any()
    return nodes


def _parse_feature(i: int, feature: Any, problems: _Problems) -> RegionInput | None:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        problems.add(None, i, "is not a GeoJSON Feature", "不是 GeoJSON Feature 要素")
        return None
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        problems.add(None, i, "has no properties", "缺少 properties 属性")
        return None
    level = props.get("level")
    code = props.get("code")
    name = props.get("name")
    if level not in LEVEL_NAMES:
        problems.add(
            None, i,
            f"level {level!r} is not one of {', '.join(LEVEL_NAMES)}",
            f"层级 {level!r} 无效，应为 {', '.join(LEVEL_NAMES)} 之一",
        )
        return None
    want = BY_NAME[level].code_length
    if not isinstance(code, str) or not code.isascii() or not code.isdigit() or len(code) != want:
        problems.add(
            None, i,
            f"code {code!r} must be {want} digits for level {level}",
            f"编码 {code!r} 无效：{level} 层级的编码应为 {want} 位数字",
        )
        return None
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        problems.add(
            None, i,
            f"region {code} needs a name of 1–{MAX_NAME} characters",
            f"区域 {code} 的名称应为 1–{MAX_NAME} 个字符",
        )
        return None
    parent_code = props.get("parent_code")
    up = parent_level(level)
    if up is None:
        parent_code = None
    elif not isinstance(parent_code, str) or parent_code != code[: up.code_length]:
        problems.add(
            None, i,
            f"region {code} {name}: parent_code {parent_code!r} must be the {up.name} code "
            f"{code[: up.code_length]} that its own code starts with",
            f"区域 {code} {name}：上级编码 {parent_code!r} 应为本编码的前 {up.code_length} 位 "
            f"{code[: up.code_length]}",
        )
        return None
    node = RegionInput(i, level, code, name.strip(), parent_code, shapely.Point())
    try:
        geom = from_geojson(feature.get("geometry"))
    except Exception as exc:  # shapely raises several types for malformed coordinates
        problems.add(node, None, f"malformed geometry ({exc})", f"几何图形格式错误（{exc}）")
        return None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        problems.add(
            node, None,
            f"geometry must be a non-empty Polygon or MultiPolygon, not {geom.geom_type}",
            f"几何图形应为非空的 Polygon 或 MultiPolygon，而不是 {geom.geom_type}",
        )
        return None
    minx, miny, maxx, maxy = geom.bounds
    if not all(map(math.isfinite, (minx, miny, maxx, maxy))) or minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        problems.add(
            node, None,
            "coordinates are out of range (lon −180…180, lat −90…90, WGS84)",
            "坐标超出范围（经度 −180…180，纬度 −90…90，WGS84）",
        )
        return None
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        problems.add(
            node, None,
            f"invalid polygon: {reason}",
            f"多边形无效（如自相交）：{reason}",
        )
        return None
    node.geometry = geom
    node.attrs = _parse_attrs(node, props, problems)
    return node


def _parse_attrs(node: RegionInput, props: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    vt = props.get("village_type")
    if vt is not None:
        key = vt if vt in VILLAGE_TYPES else _VILLAGE_TYPE_BY_LABEL.get(vt)
        if node.level != "village" or key is None:
            problems.add(
                node, None,
                f"village_type {vt!r} must be one of {', '.join(VILLAGE_TYPES)} and only on villages",
                f"村庄类型 {vt!r} 无效：应为 城中村/城郊村/山区村 之一，且只用于村级",
            )
        attrs["village_type"] = key
    for name in _COUNT_FIELDS:
        value = props.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.add(
                node, None,
                f"{name} must be a non-negative integer, not {value!r}",
                f"{name} 应为非负整数，而不是 {value!r}",
            )
            continue
        attrs[name] = value
    return attrs


def validate_tree(incoming: list[RegionInput], stored: Mapping[str, RegionInput]) -> None:
    """Check the tree that results from applying `incoming` over `stored` (keyed by code).

    Rejects duplicate codes, unknown parents, children outside their parent and overlapping
    siblings — wherever an incoming node takes part.
    """
    problems = _Problems()
    seen: dict[str, RegionInput] = {}
    for node in incoming:
        if node.code in seen:
            problems.add(
                node, None,
                f"duplicate code {node.code} (also feature {seen[node.code].index})",
                f"编码 {node.code} 重复（与第 {seen[node.code].index} 个要素相同）",
            )
        else:
            seen[node.code] = node
    problems.raise_if_any()

    merged: dict[str, RegionInput] = {**stored, **seen}
    for node in incoming:
        if node.parent_code is not None and node.parent_code not in merged:
            problems.add(
                node, None,
                f"unknown parent {node.parent_code}",
                f"上级区域 {node.parent_code} 不存在",
            )
    problems.raise_if_any()

    changed = set(seen)
    children: dict[str, list[RegionInput]] = defaultdict(list)
    for node in merged.values():
        if node.parent_code is not None:
            children[node.parent_code].append(node)
    lat0 = float(np.mean([n.geometry.centroid.y for n in incoming])) if incoming else 0.0
    projected = _ProjectedCache(lat0)

    # Containment: every child whose own polygon or whose parent's polygon is new.
    pairs = [
        (child, merged[child.parent_code])
        for child in merged.values()
        if child.parent_code is not None and (child.code in changed or child.parent_code in changed)
    ]
    _check_containment(pairs, projected, problems)
    # Overlap: sibling groups with at least one new member.
    groups = [kids for parent, kids in children.items() if any(k.code in changed for k in kids)]
    roots = [n for n in merged.values() if n.parent_code is None]
    if any(r.code in changed for r in roots):
        groups.append(roots)
    _check_overlaps(groups, changed, projected, problems)
    problems.raise_if_any()


class _ProjectedCache:
    def __init__(self, lat0: float) -> None:
        self.lat0 = lat0
        self._cache: dict[str, BaseGeometry] = {}

    def many(self, nodes: Iterable[RegionInput]) -> np.ndarray:
        nodes = list(nodes)
        missing = [n for n in nodes if n.code not in self._cache]
        if missing:
            out = to_metres(np.array([n.geometry for n in missing], dtype=object), self.lat0)
            self._cache.update(zip((n.code for n in missing), out))
        return np.array([self._cache[n.code] for n in nodes], dtype=object)


def _allowed(area: np.ndarray) -> np.ndarray:
    return np.maximum(TOLERANCE_M2, TOLERANCE_SHARE * area)


def _check_containment(
    pairs: list[tuple[RegionInput, RegionInput]], projected: _ProjectedCache, problems: _Problems
) -> None:
    if not pairs:
        return
    kids = projected.many(c for c, _ in pairs)
    parents = projected.many(p for _, p in pairs)
    outside = shapely.area(shapely.difference(kids, parents))
    for k in np.flatnonzero(outside > _allowed(shapely.area(kids))):
        child, parent = pairs[k]
        m2 = float(outside[k])
        problems.add(
            child, None,
            f"lies outside its parent {parent.code} {parent.name} ({_fmt_area(m2)} outside)",
            f"超出上级区域 {parent.code} {parent.name} 的范围（超出 {_fmt_area(m2)}）",
        )


def _check_overlaps(
    groups: list[list[RegionInput]], changed: set[str], projected: _ProjectedCache, problems: _Problems
) -> None:
    for group in groups:
        if len(group) < 2:
            continue
        geoms = projected.many(group)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        if not len(left):
            continue
        overlap = shapely.area(shapely.intersection(geoms[left], geoms[right]))
        smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
        for k in np.flatnonzero(overlap > _allowed(smaller)):
            a, b = group[left[k]], group[right[k]]
            if a.code not in changed:
                a, b = b, a
            m2 = float(overlap[k])
            problems.add(
                a, None,
                f"overlaps its sibling {b.code} {b.name} ({_fmt_area(m2)})",
                f"与同级区域 {b.code} {b.name} 重叠（重叠 {_fmt_area(m2)}）",
            )


def _fmt_area(m2: float) -> str:
    return f"{m2 / 1e6:.3f} km²" if m2 >= 1e5 else f"{m2:.0f} m²"
