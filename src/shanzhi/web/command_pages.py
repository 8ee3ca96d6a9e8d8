"""指挥中心 /command, and the JSON and event-stream endpoints its page draws from.

The page is a shell; the map, the panels and the live feed come from the endpoints below,
which call the same services any other client would: `events.dashboard`, `events.clusters`,
`events.stream` and `geo.tiles`.

Mount this router before the events API: `/api/v1/events/clusters` would otherwise be taken
for an event code by `GET /api/v1/events/{code}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from shanzhi.accounts.authz import require_somewhere, widest_scope
from shanzhi.accounts.deps import ApiActor, PageUser
from shanzhi.events import clusters, dashboard, stream
from shanzhi.geo import service as geo
from shanzhi.geo import tiles
from shanzhi.geo.levels import LEVELS
from shanzhi.http import DbSession
from shanzhi.web.render import render

router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["command"])


@router.get("/command", response_class=HTMLResponse, include_in_schema=False)
def command_page(request: Request, session: DbSession, user: PageUser) -> HTMLResponse:
    actor = request.state.actor
    require_somewhere(session, actor, dashboard.ACTION)  # others get the 403 page
    scope = widest_scope(actor)
    settings = request.app.state.settings
    config = {
        # The map opens on the user's own patch, drawn at once without a round trip.
        "scope": geo.region_properties(geo.get_region(session, code=scope)) if scope else None,
        "levels": {lv.name: lv.label_zh for lv in LEVELS},
        "tileUrl": settings.tile_url,
        "tileAttribution": settings.tile_attribution,
        "pointZoom": clusters.POINT_ZOOM,
    }
    return render(request, "command.html", {"title": "指挥中心", "config": config}, user=user)


@api.get("/command/dashboard", summary="指挥中心看板数据 Command-center panels")
def command_dashboard(session: DbSession, actor: ApiActor) -> dict[str, Any]:
    return dashboard.dashboard(session, actor=actor)


@api.get("/events/clusters", summary="在办事件聚合（按缩放与视野）Open events clustered for a map view")
def event_clusters(
    session: DbSession, actor: ApiActor,
    bbox: Annotated[str, Query(max_length=100, description="minlon,minlat,maxlon,maxlat（WGS84）")],
    zoom: Annotated[float, Query(ge=0, le=clusters.MAX_ZOOM, description="地图缩放级别")],
) -> dict[str, Any]:
    return clusters.clusters(session, actor=actor, bbox=clusters.parse_bbox(bbox), zoom=zoom)


@api.get("/regions/{code}/layer", summary="按缩放级别的区域边界（简化、缓存）Region outlines for a zoom")
def region_layer(
    session: DbSession, _actor: ApiActor, code: str,
    zoom: Annotated[float, Query(ge=0, le=clusters.MAX_ZOOM)],
    level: Annotated[str | None, Query(max_length=10, description="town|village|grid|microgrid；默认按缩放")] = None,
    bbox: Annotated[str | None, Query(max_length=100, description="只要与此范围相交的区域")] = None,
) -> Response:
    box = clusters.parse_bbox(bbox) if bbox else None
    text = tiles.region_layer(session, root=code, zoom=zoom, level=level,
                              bbox=(box.west, box.south, box.east, box.north) if box else None)
    return Response(text, media_type="application/json", headers={"Cache-Control": "private, max-age=300"})


@api.get("/stream/recent", summary="实时动态首屏 The live feed's latest entries and cursor")
def stream_recent(
    session: DbSession, actor: ApiActor, limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    require_somewhere(session, actor, "event.read")
    return stream.recent(session, actor=actor, limit=limit)


def _stop_when(request: Request) -> Callable[[], Awaitable[bool]]:
    """When the feed should end: the client went away, or the server is shutting down.

    uvicorn starts a graceful shutdown by setting `keep_alive = False` on the cycle of every
    response still in flight, then waits for those responses to finish: a feed that never
    finishes would hold the server up, so the feed ends when it sees the mark. (Elsewhere the
    feed's lifetime bounds the wait.)
    """
    cycle = getattr(request.receive, "__self__", None)
    watch = getattr(cycle, "keep_alive", None) is True

    async def stop() -> bool:
        if watch and cycle.keep_alive is False:  # type: ignore[union-attr]
            return True
        return await request.is_disconnected()

    return stop


@api.get("/stream/events", summary="实时动态（Server-Sent Events）New reports and status changes, live")
def stream_events(
    request: Request, session: DbSession, actor: ApiActor,
    after: Annotated[int | None, Query(ge=0, description="从此时间线编号之后开始（见 /stream/recent）")] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    require_somewhere(session, actor, "event.read")
    # A reconnecting browser says where it stopped; that wins over the page's first cursor.
    resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    body = stream.sse(request.app.state.session_factory, actor=actor, after=resume, stop=_stop_when(request))
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


router.include_router(api)
