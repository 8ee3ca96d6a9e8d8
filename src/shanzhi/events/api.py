"""Event endpoints: report, list, read, take a workflow step, follow by code and secret."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query, Response, UploadFile

from shanzhi.accounts.deps import ApiActor
from shanzhi.events import intake, photos, service
from shanzhi.events.schemas import RatingIn, ReportIn, StepIn
from shanzhi.http import DbSession

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.post("/events", status_code=201, summary="上报事件 Report an event")
def report(
    session: DbSession, actor: ApiActor, body: ReportIn, response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=80)] = None,
) -> dict[str, Any]:
    fields = body.model_dump()
    fields["idempotency_key"] = fields["idempotency_key"] or idempotency_key
    done = intake.submit(session, actor=actor, report=intake.Report(**fields))
    if not done.created:
        response.status_code = 200
    out = service.event_dict(done.event)
    if done.secret:
        out["secret"] = done.secret  # shown once: the reporter follows the event with it
    return out


@router.get("/events", summary="事件列表（按范围）Events in my reach")
def list_events(
    session: DbSession, actor: ApiActor,
    status: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=4)] = None,
    region: Annotated[str | None, Query(max_length=18)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    deadline: Annotated[str | None, Query(max_length=8, description="none|normal|yellow|red")] = None,
    sort: Annotated[str, Query(max_length=8, description="newest|oldest|due")] = "newest",
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    rows, total = service.list_events(session, actor=actor, status=status, category=category, region=region,
                                      channel=channel, q=q, deadline=deadline, sort=sort, page=page, size=size)
    return {"items": [service.event_dict(e) for e in rows], "total": total, "page": page, "size": size}


@router.get("/events/{code}", summary="事件详情与时间线 An event with its timeline")
def get_event(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    event = service.get_event(session, actor=actor, code=code)
    return {**service.event_dict(event), "timeline": service.timeline(session, event)}


@router.post("/events/{code}/steps/{name}", summary="流转操作 Take a workflow step")
def take_step(session: DbSession, actor: ApiActor, code: str, name: str, body: StepIn) -> dict[str, Any]:
    inputs = body.model_dump(exclude={"version"}, exclude_none=True)
    event = service.transition(session, actor=actor, code=code, name=name, version=body.version, **inputs)
    return service.event_dict(event)


@router.get("/track/{code}", summary="凭编号和查询码查询进度 Follow an event (no login)")
def track(session: DbSession, code: str, secret: Annotated[str, Query(min_length=1, max_length=16)]) -> dict[str, Any]:
    return service.track(session, code=code, secret=secret)


@router.post("/track/{code}/rating", summary="办结后评价 Rate a closed event (no login)")
def rate(session: DbSession, code: str, body: RatingIn) -> dict[str, Any]:
    service.rate(session, code=code, secret=body.secret, rating=body.rating, comment=body.comment)
    return service.track(session, code=code, secret=body.secret)


@router.post("/events/{code}/photos", status_code=201, summary="上传照片 Attach a photo")
async def upload_photo(
    session: DbSession, actor: ApiActor, code: str, file: UploadFile,
    kind: Annotated[str, Form(max_length=8)] = "report",
) -> dict[str, Any]:
    # Read at most one byte past the limit: a huge upload is refused without buffering it all.
    data = await file.read(photos.MAX_BYTES + 1)
    photo = photos.add_photo(session, actor=actor, code=code, data=data, kind=kind)
    return {"id": photo.id, "kind": photo.kind, "width": photo.width, "height": photo.height,
            "url": f"/api/v1/events/{code}/photos/{photo.id}"}


@router.get("/events/{code}/photos/{photo_id}", summary="照片 A photo (thumb=true for the thumbnail)")
def photo(session: DbSession, actor: ApiActor, code: str, photo_id: int, thumb: bool = False) -> Response:
    found = photos.get_photo(session, actor=actor, code=code, photo_id=photo_id)
    return Response(found.thumbnail if thumb else found.content, media_type=found.mime,
                    headers={"Cache-Control": "private, max-age=86400"})
