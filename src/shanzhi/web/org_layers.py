"""活地图 layers of the organizations domain, registered on import (see web/layers.py):
组织 (bodies by kind), 联建覆盖 (villages coloured by the alliance covering them), 需求 (open needs by
urgency, the long-unmatched ringed) and 资源 (available resources by kind).

Each layer asks the orgs service that keeps to the actor's reach — the directory (organizations,
resources) is the district's, needs and alliances the actor's subtree — and only shapes the answer
for the map: single points when they are few or the map is close, else clusters on a screen grid
that add up to the total, so nothing is silently dropped. Legends come from the policy as loaded
when the process starts; each answer also carries the legend of what its view shows.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.db import local_time
from shanzhi.geo.levels import BY_NAME
from shanzhi.geo.models import Region
from shanzhi.geo.shapes import simplify, to_geojson
from shanzhi.orgs import alliances, needs, resources
from shanzhi.orgs import service as orgs
from shanzhi.orgs.models import Organization
from shanzhi.orgs.policy import matching_policy, orgs_policy
from shanzhi.web.layers import (
    CLUSTER_PIXELS,
    FEW_EVENTS,
    MAX_FEATURES,
    POINT_ZOOM,
    BBox,
    LegendItem,
    cell_size,
    degrees_per_pixel,
    feature_collection,
    layer,
    point,
)

# Rows one view may read before clustering them; beyond it the answer says `truncated`.
SCAN_LIMIT = 20_000
SPREAD_PIXELS = 8.5  # items sharing one spot are drawn about 15 px apart around it
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))
VILLAGE = BY_NAME["village"].code_length
LEVEL_WORDS = {"district": "区级", "town": "镇(街道)级", "village": "村(社区)级"}
OTHER = ("其他", "#9e9e9e")
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#86bcb6", "#2f4b7c", "#d45087")

Item = dict[str, Any]


# -- shared: points, or clusters when there are many -------------------------------------------


def _spread(items: list[Item], zoom: float) -> list[tuple[float, float, Item]]:
    """Where to draw each item: those sharing one spot (many bodies have no address and stand at
    their region's centre) are laid out around it like sunflower seeds, each still clickable."""
    spots: dict[tuple[float, float], list[Item]] = defaultdict(list)
    for item in items:
        lon, lat = item["position"]
        spots[(round(lon, 6), round(lat, 6))].append(item)
    step = SPREAD_PIXELS * degrees_per_pixel(zoom)
    out = []
    for (lon, lat), group in spots.items():
        if len(group) == 1:
            out.append((lon, lat, group[0]))
            continue
        for i, item in enumerate(group):
            # Equal area per seed: neighbours stay about 1.8 steps apart however many there are.
            radius, angle = step * math.sqrt(i + 0.5), i * GOLDEN_ANGLE
            out.append((lon + radius * math.cos(angle),
                        lat + radius * math.sin(angle) * math.cos(math.radians(lat)), item))
    return out


def _one_by_one(total: int, zoom: float) -> bool:
    """Whether a view draws its items singly (as the events layer does): few, or close enough."""
    return total <= MAX_FEATURES and (zoom >= POINT_ZOOM or total <= FEW_EVENTS)


def _points_or_clusters(
    items: list[Item], *, bbox: BBox, zoom: float, draw: Callable[[Item, float, float], dict[str, Any]],
    cluster: Callable[[list[Item]], tuple[str, str]], noun: str,
) -> dict[str, Any]:
    """Single points when they are few or the map is close; else one numbered bubble per
    screen cell (colour and tooltip from `cluster`), whose counts add up to the total."""
    total, truncated = len(items), len(items) >= SCAN_LIMIT
    more = f"（仅统计前 {SCAN_LIMIT:,} 个）" if truncated else ""
    if _one_by_one(total, zoom):
        features = [draw(item, lon, lat) for lon, lat, item in _spread(items, zoom)]
        return feature_collection(features, total=total, truncated=truncated,
                                  summary=f"视野内 {total:,} {noun}{more}")
    size_lon, size_lat = cell_size(bbox, zoom=zoom, pixels=CLUSTER_PIXELS, max_cells=MAX_FEATURES)
    cells: dict[tuple[int, int], list[Item]] = defaultdict(list)
    for item in items:
        lon, lat = item["position"]
        cells[(math.floor((lon + 180) / size_lon), math.floor((lat + 90) / size_lat))].append(item)
    features = []
    for group in cells.values():
        if len(group) == 1:
            features.append(draw(group[0], *group[0]["position"]))
            continue
        color, tooltip = cluster(group)
        lon = sum(i["position"][0] for i in group) / len(group)
        lat = sum(i["position"][1] for i in group) / len(group)
        features.append(point(lon, lat, count=len(group), color=color, tooltip=f"{tooltip}，点击放大"))
    return feature_collection(features, total=total, clustered=True, truncated=truncated,
                              summary=f"视野内 {total:,} {noun}，已按位置聚合{more}")


def _legend(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"label": label, "color": color} for label, color in items]


def _tally(labels: Iterable[str], limit: int = 3) -> str:
    return "，".join(f"{label} {n}" for label, n in Counter(labels).most_common(limit))


def _box(bbox: BBox) -> tuple[float, float, float, float]:
    return bbox.west, bbox.south, bbox.east, bbox.north


def _village_of(region_code: str) -> str | None:
    return region_code[:VILLAGE] if len(region_code) >= VILLAGE else None


def _day(iso: str | None) -> str:
    return local_time(datetime.fromisoformat(iso)).strftime("%Y-%m-%d") if iso else "—"


# -- 组织: bodies by kind ------------------------------------------------------------------------

# Kinds grouped for colour: a map of 40 hues says nothing. Individuals and the handling units
# are told apart by the policy's own flags, so a district's added kinds land in the right group.
ORG_GROUPS = {
    "party": ("党组织", "#c62828"), "agency": ("机关单位", "#1565c0"), "institution": ("事业单位", "#00897b"),
    "enterprise": ("企业", "#ef6c00"), "social": ("社会组织", "#8e24aa"),
    "individual": ("政协委员、人大代表、新乡贤", "#6d4c41"), "handler": ("村委会与处置单位", "#78909c"),
}
KIND_GROUP = {"party_org": "party", "government_agency": "agency", "public_institution": "institution",
              "state_enterprise": "enterprise", "private_enterprise": "enterprise",
              "social_organization": "social"}


def _org_groups() -> Callable[[str], tuple[str, str]]:
    kinds = orgs_policy().kinds()

    def group(kind: str) -> tuple[str, str]:
        spec = kinds.get(kind)
        key = KIND_GROUP.get(kind) or ("handler" if spec and spec.handler else
                                       "individual" if spec and spec.individual else None)
        return ORG_GROUPS[key] if key else OTHER

    return group


def _org_details(session: Session, items: list[Item]) -> dict[str, Item]:
    """Villages served and contacts (phones masked) of the bodies about to be drawn one by one;
    `orgs_in_bbox` has already kept to what the actor reads."""
    codes = [i["code"] for i in items]
    rows = session.execute(select(Organization, Region).join(Region, Region.id == Organization.region_id)
                           .where(Organization.code.in_(codes))).all() if codes else []
    return {d["code"]: d for d in orgs.org_dicts(session, [(o, r) for o, r in rows], detail=True)}


@layer("orgs", "组织", kind="points", action="org.read", legend=tuple(LegendItem(*g) for g in ORG_GROUPS.values()),
       description="机关、企事业单位、社会组织、党组织与个人；无地址的按所在区域中心示意")
def orgs_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
               params: Mapping[str, str]) -> dict[str, Any]:
    items = orgs.orgs_in_bbox(session, actor=actor, bbox=_box(bbox), limit=SCAN_LIMIT)
    group_of = _org_groups()
    details = _org_details(session, items) if _one_by_one(len(items), zoom) else {}

    def draw(org: Item, lon: float, lat: float) -> dict[str, Any]:
        color = group_of(org["kind"])[1]
        detail = details.get(org["code"], {})
        kind = org["kind_label"] + (f"（{LEVEL_WORDS[org['level']]}）" if org["level"] in LEVEL_WORDS else "")
        served = "、".join(v["name"] for v in detail.get("villages", [])) or "—"
        contacts = "；".join(c["name"] + (f"（{c['title']}）" if c["title"] else "")
                            + (f" {c['phone']}" if c["phone"] else "") for c in detail.get("contacts", [])) or "—"
        return point(lon, lat, code=org["code"], color=color, tooltip=f"{org['name']} · {org['kind_label']}",
                     title=org["name"], popup=[["类型", kind], ["所在区域", org["region"]["name"]],
                                               ["服务村社", served], ["联系人", contacts]])

    def cluster(group: list[Item]) -> tuple[str, str]:
        shades = [group_of(o["kind"]) for o in group]
        top = Counter(shades).most_common(1)[0][0]
        return top[1], f"{len(group):,} 个组织（{_tally(label for label, _ in shades)}）"

    body = _points_or_clusters(items, bbox=bbox, zoom=zoom, draw=draw, cluster=cluster, noun="个组织")
    present = {group_of(o["kind"]) for o in items}
    return body | {"legend": _legend(g for g in (*ORG_GROUPS.values(), OTHER) if g in present)}


# -- 联建覆盖: villages coloured by the alliance covering them -------------------------------------

# An alliance that covers several villages is what a map can show: villages that belong together
# share its colour. One covering a single village (most village-led ones) only says "covered".
# The widest ones in view get a colour and a legend line each; any beyond NAMED_MAX share one.
NAMED_MAX = 10
ALLIANCE_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
                    "#2f4b7c", "#d45087", "#a05195", "#665191")  # no greens: those mean the groups below
SHARED, OWN = ("其他跨村党建联建", "#2e7d32"), ("本村党建联建", "#a5d6a7")
PAIRED_ONLY, UNCOVERED = ("仅有结对", "#c5cae9"), ("未纳入联建", "#e0e0e0")
COVERAGE_GROUPS = (SHARED, OWN, PAIRED_ONLY, UNCOVERED)


def _village_shapes(session: Session, codes: set[str], bbox: BBox, zoom: float) -> list[tuple[str, str, Any]]:
    """(code, name, simplified GeoJSON geometry) of the villages among `codes` that overlap the box."""
    rows = session.execute(
        select(Region.code, Region.name, Region.geometry_wkb)
        .where(Region.level == "village", Region.min_lon <= bbox.east, Region.max_lon >= bbox.west,
               Region.min_lat <= bbox.north, Region.max_lat >= bbox.south)
        .order_by(Region.code)).all()
    rows = [r for r in rows if r.code in codes]
    tolerance = degrees_per_pixel(zoom)  # one screen pixel: invisible, and far fewer vertices
    geoms = shapely.from_wkb([r.geometry_wkb for r in rows]) if rows else []
    return [(r.code, r.name, to_geojson(simplify(g, tolerance), precision=6)) for r, g in zip(rows, geoms)]


@layer("alliances", "联建覆盖", kind="choropleth", action="org.read",
       legend=tuple(LegendItem(*g) for g in COVERAGE_GROUPS),
       description="村社按覆盖它的跨村党建联建着色；点击村社查看其联建、结对、需求与项目")
def alliances_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
                    params: Mapping[str, str]) -> dict[str, Any]:
    coverage = alliances.alliance_coverage(session, actor=actor)
    # How many of the villages the actor reads each alliance covers (pairings cover one).
    spread = Counter(a["code"] for arrs in coverage.values() for a in arrs if a["kind"] != "pairing")
    shapes = _village_shapes(session, set(coverage), bbox, zoom)
    led = {code: sorted((a for a in coverage[code] if a["kind"] != "pairing"),
                        key=lambda a: (-spread[a["code"]], a["code"])) for code, _, _ in shapes}
    here = Counter(a["code"] for arrs in led.values() for a in arrs if spread[a["code"]] > 1)
    shared = {a["code"]: a for arrs in led.values() for a in arrs if a["code"] in here}
    named = sorted(here, key=lambda c: (-here[c], c))[:NAMED_MAX]  # the widest in view
    colors = {c: ALLIANCE_PALETTE[i % len(ALLIANCE_PALETTE)] for i, c in enumerate(sorted(named))}

    def shade(code: str) -> tuple[str, str]:
        mine = [a["code"] for a in led[code]]
        first = next((c for c in mine if c in colors), None)
        if first is not None:
            return shared[first]["name"], colors[first]
        if any(c in here for c in mine):
            return SHARED
        if mine:
            return OWN
        return PAIRED_ONLY if coverage[code] else UNCOVERED

    features, shown = [], []
    for code, name, geometry in shapes:
        mine, pairs = led[code], [a for a in coverage[code] if a["kind"] == "pairing"]
        label, color = shade(code)
        shown.append((label, color))
        names = "、".join(a["name"] for a in mine)
        popup = [["党建联建", names or "—"],
                 ["牵头组织", "、".join(dict.fromkeys(a["lead"] for a in mine if a["lead"])) or "—"],
                 ["成员单位", f"{sum(a['members_count'] for a in mine):,} 家"],
                 ["结对", f"{len(pairs)} 对" if pairs else "—"]]
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "code": code, "name": name, "color": color, "tooltip": f"{name}：{names or label}", "title": name,
            "popup": popup, "href": f"/villages/{code}", "alliances": [a["code"] for a in mine],
            "pairings": len(pairs)}})
    counts = Counter("led" if led[c] else "paired" if coverage[c] else "none" for c, _, _ in shapes)
    parts = [f"{words} {counts[key]:,} 个" for key, words in (("led", "联建覆盖"), ("paired", "仅有结对"),
                                                             ("none", "未纳入联建")) if counts[key]]
    in_view = {a["code"] for arrs in led.values() for a in arrs}
    order = [(shared[c]["name"], colors[c]) for c in sorted(named)]
    return feature_collection(
        features, legend=_legend(g for g in dict.fromkeys([*order, *COVERAGE_GROUPS]) if g in shown),
        alliances=len(in_view),
        summary=f"视野内 {len(features):,} 个村社" + (f"（{'，'.join(parts)}）" if parts else "")
                + f"，涉及 {len(in_view):,} 个党建联建")


# -- 需求: open needs by urgency, the long-unmatched ringed ---------------------------------------

URGENCY_COLORS = ("#1e88e5", "#fb8c00", "#e53935")  # by the policy's order: 一般, 较急, 紧急
FLAG_STROKE = "#212121"


def _urgencies() -> dict[str, tuple[str, str]]:
    """urgency → (label, colour), mildest first (colours beyond the palette: the last, reddest)."""
    words = orgs_policy().urgencies
    return {k: (label, URGENCY_COLORS[min(i, len(URGENCY_COLORS) - 1)]) for i, (k, label) in enumerate(words.items())}


def _flag_label() -> str:
    return f"黑圈：超过 {matching_policy().unmatched_flag_days} 天未对接"


@layer("needs", "需求", kind="points", action="org.read",
       legend=(*(LegendItem(*u) for u in _urgencies().values()), LegendItem(_flag_label(), FLAG_STROKE)),
       description="待对接的需求，按紧急程度着色；久未对接的加黑圈")
def needs_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
                params: Mapping[str, str]) -> dict[str, Any]:
    items = needs.open_needs_in_bbox(session, actor=actor, bbox=_box(bbox), limit=SCAN_LIMIT)
    urgencies = _urgencies()
    rank = {k: i for i, k in enumerate(urgencies)}

    def draw(need: Item, lon: float, lat: float) -> dict[str, Any]:
        label, color = urgencies.get(need["urgency"], OTHER)
        waited = f"{need['days_open']} 天" + ("（已超期未对接）" if need["flagged"] else "")
        requester = need["requester_label"] + (f" · {need['group_name']}" if need["group_name"] else "")
        village = _village_of(need["region"]["code"])
        extra = {"stroke": FLAG_STROKE} if need["flagged"] else {}
        return point(lon, lat, code=need["code"], color=color, **extra,
                     tooltip=f"{need['kind_label']} · {need['title']}" + ("（久未对接）" if need["flagged"] else ""),
                     title=need["title"],
                     popup=[["编号", need["code"]], ["类型", need["kind_label"]], ["紧急程度", label],
                            ["需求方", requester], ["所在区域", need["region"]["name"]],
                            ["提出日期", _day(need["raised_at"])], ["已等待", waited],
                            ["数量", str(need["quantity"]) if need["quantity"] else "—"]],
                     href=f"/villages/{village}#{need['code']}" if village else None)

    def cluster(group: list[Item]) -> tuple[str, str]:
        # A bubble takes the colour of its most urgent need and counts all but the mildest.
        by_urgency = Counter(n["urgency"] for n in group)
        worst = max(by_urgency, key=lambda k: rank.get(k, len(rank)))
        notes = [f"{urgencies[k][0]} {by_urgency[k]}" for k in reversed(urgencies) if rank[k] and by_urgency[k]]
        flagged = sum(n["flagged"] for n in group)
        notes += [f"久未对接 {flagged}"] if flagged else []
        return (urgencies.get(worst, OTHER)[1],
                f"{len(group):,} 项待对接需求" + (f"（{'，'.join(notes)}）" if notes else ""))

    body = _points_or_clusters(items, bbox=bbox, zoom=zoom, draw=draw, cluster=cluster, noun="项待对接需求")
    flagged = sum(n["flagged"] for n in items)
    present = {n["urgency"] for n in items}
    legend = [urgencies[k] for k in urgencies if k in present] + ([(_flag_label(), FLAG_STROKE)] if flagged else [])
    summary = body["summary"] + (f"，其中 {flagged:,} 项久未对接" if flagged else "")
    return body | {"legend": _legend(legend), "flagged": flagged, "summary": summary}


# -- 资源: what units offer, by kind ------------------------------------------------------------


def _resource_kinds() -> dict[str, tuple[str, str]]:
    """resource kind → (label, colour), in the policy's order."""
    return {k: (label, PALETTE[i % len(PALETTE)]) for i, (k, label) in enumerate(orgs_policy().resource_kinds.items())}


@layer("resources", "资源", kind="points", action="org.read",
       legend=tuple(LegendItem(*k) for k in _resource_kinds().values()),
       description="联建单位发布的、当前可对接的资源，按类型着色")
def resources_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
                    params: Mapping[str, str]) -> dict[str, Any]:
    items = resources.resources_in_bbox(session, actor=actor, bbox=_box(bbox), limit=SCAN_LIMIT)
    kinds = _resource_kinds()

    def draw(res: Item, lon: float, lat: float) -> dict[str, Any]:
        start, end = res["available_from"], res["available_until"]
        period = f"{start} 至 {end}" if start and end else f"至 {end}" if end else f"{start} 起" if start else "长期"
        return point(lon, lat, code=res["code"], color=kinds.get(res["kind"], OTHER)[1],
                     tooltip=f"{res['kind_label']} · {res['title']}（{res['org']['name']}）", title=res["title"],
                     popup=[["编号", res["code"]], ["类型", res["kind_label"]], ["提供单位", res["org"]["name"]],
                            ["剩余", f"{res['remaining']:,} / {res['capacity']:,} {res['unit']}"],
                            ["提供期", period], ["所在区域", res["region"]["name"]]])

    def cluster(group: list[Item]) -> tuple[str, str]:
        top = Counter(r["kind"] for r in group).most_common(1)[0][0]
        return kinds.get(top, OTHER)[1], f"{len(group):,} 项可对接资源（{_tally(r['kind_label'] for r in group)}）"

    body = _points_or_clusters(items, bbox=bbox, zoom=zoom, draw=draw, cluster=cluster, noun="项可对接资源")
    present = {r["kind"] for r in items}
    return body | {"legend": _legend(v for k, v in kinds.items() if k in present)}
