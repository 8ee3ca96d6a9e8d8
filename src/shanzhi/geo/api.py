"""Region and locate endpoints: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shanzhi.geo import service
from shanzhi.geo.schemas import LocateOut, RegionDetailOut, RegionPage
from shanzhi.accounts.deps import ApiActor
from shanzhi.http import DbSession

# The region tree is reference data: every signed-in user reads all of it (a grid worker must
# locate a report just across her grid's border). Changes go through `shanzhi regions import`.
router = APIRouter(prefix="/api/v1", tags=["regions"])

@router.get("/regions", response_model=RegionPage, summary="区域列表 List regions")
def list_regions(
    session: DbSession,
    _actor: ApiActor,
    level: Annotated[str | None, Query(description="district|town|village|grid|microgrid")] = None,
    parent: Annotated[str | None, Query(max_length=18, description="parent region code")] = None,
    q: Annotated[str | None, Query(max_length=100, description="name contains / code starts with")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
) -> dict[str, Any]:
    result = service.list_regions(session, level=level, parent=parent, q=q, page=page, size=size)
    return {
        "items": [service.region_properties(r) for r in result.items],
        "total": result.total,
        "page": result.page,
        "size": result.size,
    }


@router.get("/regions/{code}", response_model=RegionDetailOut, summary="区域详情 Region with chain and counts")
def get_region(session: DbSession, _actor: ApiActor, code: str) -> dict[str, Any]:
    return service.region_detail(session, code=code)


@router.get("/regions/{code}/geojson", summary="区域边界 GeoJSON of a region or its children")
def region_geojson(
    session: DbSession,
    _actor: ApiActor,
    code: str,
    children: Annotated[bool, Query(description="the children instead of the region itself")] = False,
    tolerance: Annotated[float, Query(ge=0, le=1, description="simplification, degrees")] = 0.0,
) -> dict[str, Any]:
    return service.region_features(session, code=code, children=children, tolerance=tolerance)


@router.get("/locate", response_model=LocateOut, summary="坐标定位 Locate a point in the region tree")
def locate(
    session: DbSession,
    _actor: ApiActor,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: Annotated[str, Query(max_length=20, description="wgs84 | gcj02 | bd09")] = "wgs84",
) -> dict[str, Any]:
    found = service.locate(session, lon=lon, lat=lat, crs=crs)
    chain = [service.ref_dict(r.code, r.name, r.level) for r in found.chain]
    return {"lon": found.lon, "lat": found.lat, "crs": "wgs84", "region": chain[-1], "chain": chain}
