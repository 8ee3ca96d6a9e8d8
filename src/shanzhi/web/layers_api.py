"""The map layer endpoints: one list and one data endpoint for every layer (web/layers.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from shanzhi.accounts.deps import ApiActor
from shanzhi.http import DbSession
from shanzhi.web import layers

router = APIRouter(prefix="/api/v1/map", tags=["map"])


@router.get("/layers", summary="活地图图层 Map layers I may see")
def list_layers(actor: ApiActor) -> dict[str, Any]:
    items = [entry.as_dict() for entry in layers.visible_layers(actor)]
    return {"items": items, "total": len(items)}


@router.get("/layers/{key}", summary="图层数据 A layer's features (or heat cells) in a box")
def layer_data(
    request: Request,
    session: DbSession,
    actor: ApiActor,
    key: str,
    bbox: Annotated[str, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat (WGS84)")],
    zoom: Annotated[float, Query(ge=0, le=24, description="the map's zoom level")],
) -> dict[str, Any]:
    # Anything else in the query string is the layer's own (e.g. heat's `days`).
    params = {k: v for k, v in request.query_params.items() if k not in ("bbox", "zoom")}
    return layers.serve(session, actor=actor, key=key, bbox=layers.parse_bbox(bbox), zoom=zoom, params=params)
