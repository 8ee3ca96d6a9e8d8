"""活地图 layers of the housing registry: rental buildings (出租房屋) and population density (人口密度).

Both keep to the actor's reach through the housing services (find_buildings, density_points), and
show no personal data: counts only. Registered on import (see the end of web/layers.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.housing import reports, service
from shanzhi.housing.models import Building, Finding
from shanzhi.web.layers import (
    MAX_FEATURES,
    BBox,
    LegendItem,
    cell_size,
    feature_collection,
    layer,
    point,
)

# Worst last: a cluster takes the colour of its worst building.
STATES = (
    # Colours apart from the events layer's (purple, blue, amber, red), which is on by default.
    ("vacant", "无出租", "#78909c"),
    ("rented", "有出租", "#00897b"),
    ("findings", "有待整改问题", "#e65100"),
)
STATE_RANK = {key: rank for rank, (key, _, _) in enumerate(STATES)}
STATE_COLOR = {key: color for key, _, color in STATES}
POINT_ZOOM = 15  # from here on single buildings, when they fit under the cap
FEW_BUILDINGS = 100
CLUSTER_PIXELS = 64
MAX_BUILDINGS = 20_000  # read for clustering at most; a district's scattered housing fits
DENSITY_PIXELS = 14  # as the events heat: about half Leaflet.heat's radius + blur
BUILDING_ZOOM = 17  # from here on one heat point per building


def _open_findings(session: Session, building_ids: Sequence[int]) -> dict[int, int]:
    """Open findings per building (the ids come from find_buildings: already within reach)."""
    if not building_ids:
        return {}
    return dict(session.execute(
        select(Finding.building_id, func.count()).where(Finding.building_id.in_(building_ids),
                                                        Finding.status == "open")
        .group_by(Finding.building_id)).all())


def _buildings_in(session: Session, actor: Actor, bbox: BBox) -> tuple[list[Building], int]:
    box = (bbox.west, bbox.south, bbox.east, bbox.north)
    found, total = service.find_buildings(session, actor=actor, bbox=box, size=service.MAX_PAGE_SIZE)
    page = 1
    while len(found) < min(total, MAX_BUILDINGS):
        page += 1
        more, _ = service.find_buildings(session, actor=actor, bbox=box, page=page, size=service.MAX_PAGE_SIZE)
        if not more:
            break
        found += more
    return found, total


def _state(summary: Mapping[str, Any], findings: int) -> str:
    if findings:
        return "findings"
    return "rented" if summary["rented_units"] else "vacant"


@layer("housing", "出租房屋", kind="points", action="housing.read",
       legend=tuple(LegendItem(label, color) for _, label, color in STATES),
       description="登记在册的零星房屋；缩小时按位置聚合，数字为房屋数")
def housing_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
                  params: Mapping[str, str]) -> dict[str, Any]:
    buildings, total = _buildings_in(session, actor, bbox)
    findings = _open_findings(session, [b.id for b in buildings])
    if total <= MAX_FEATURES and (zoom >= POINT_ZOOM or total <= FEW_BUILDINGS):
        return _building_points(session, buildings, findings, total)
    return _building_clusters(session, buildings, findings, total, bbox, zoom)


def _building_points(session: Session, buildings: list[Building], findings: dict[int, int],
                     total: int) -> dict[str, Any]:
    features = []
    for s in service.building_summaries(session, buildings):
        open_findings = findings.get(s["id"], 0)
        state = _state(s, open_findings)
        features.append(point(
            s["lon"], s["lat"], color=STATE_COLOR[state], title=s["address"], href=f"/m/housing/buildings/{s['id']}",
            tooltip=f"{s['address']} · 出租 {s['rented_units']}/{s['units']} 间",
            popup=[["编号", s["code"]], ["用途", s["use_label"]], ["房间", f"{s['units']} 间"],
                   ["出租", f"{s['rented_units']} 间"], ["登记住户", f"{s['residents']} 人"],
                   ["待整改", f"{open_findings} 项" if open_findings else "无"]]))
    return feature_collection(features, total=total, summary=f"视野内 {total:,} 栋房屋")


def _building_clusters(session: Session, buildings: list[Building], findings: dict[int, int], total: int,
                       bbox: BBox, zoom: float) -> dict[str, Any]:
    size_lon, size_lat = cell_size(bbox, zoom=zoom, pixels=CLUSTER_PIXELS, max_cells=MAX_FEATURES)
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for s in _summaries(session, buildings):
        key = (int((s["lon"] + 180.0) // size_lon), int((s["lat"] + 90.0) // size_lat))
        cell = cells.setdefault(key, {"lon": 0.0, "lat": 0.0, "n": 0, "rank": 0, "residents": 0, "findings": 0})
        open_findings = findings.get(s["id"], 0)
        cell["lon"] += s["lon"]
        cell["lat"] += s["lat"]
        cell["n"] += 1
        cell["residents"] += s["residents"]
        cell["findings"] += open_findings
        cell["rank"] = max(cell["rank"], STATE_RANK[_state(s, open_findings)])
    features = []
    for c in cells.values():
        n = c["n"]
        notes = f"，{c['findings']} 项待整改" if c["findings"] else ""
        features.append(point(c["lon"] / n, c["lat"] / n, count=n, color=STATES[c["rank"]][2],
                              tooltip=f"{n:,} 栋房屋，登记住户 {c['residents']:,} 人{notes}，点击放大"))
    return feature_collection(features, total=total, clustered=True, summary=f"视野内 {total:,} 栋房屋，已按位置聚合")


def _summaries(session: Session, buildings: list[Building]) -> list[dict[str, Any]]:
    # building_summaries takes an IN list: keep each one to a page's size.
    step = service.MAX_PAGE_SIZE
    return [s for i in range(0, len(buildings), step) for s in service.building_summaries(session, buildings[i:i + step])]


DENSITY_GRADIENT = (("少", "#fff5b1"), ("", "#fecc5c"), ("", "#fd8d3c"), ("", "#f03b20"), ("多", "#bd0026"))


@layer("density", "人口密度", kind="heat", action="housing.read",
       legend=tuple(LegendItem(label, color) for label, color in DENSITY_GRADIENT),
       description="居住登记在住人数的分布（按房屋汇总，不含个人信息）",
       options={"radius": 24, "blur": 18, "minOpacity": 0.35,
                "gradient": {"0.2": "#fff5b1", "0.4": "#fecc5c", "0.6": "#fd8d3c", "0.8": "#f03b20",
                             "1.0": "#bd0026"}})
def density_layer(session: Session, *, actor: Actor, bbox: BBox, zoom: float,
                  params: Mapping[str, str]) -> dict[str, Any]:
    cell = None if zoom >= BUILDING_ZOOM else cell_size(bbox, zoom=zoom, pixels=DENSITY_PIXELS, max_cells=40_000)[0]
    points = reports.density_points(session, actor=actor, bbox=(bbox.west, bbox.south, bbox.east, bbox.north),
                                    cell_deg=cell)
    total = int(sum(p[2] for p in points))
    return {"points": points, "total": total, "summary": f"视野内登记在住 {total:,} 人"}
