"""Grid people, patrol logs and coverage over HTTP: parse, call the service, shape the answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from shanzhi.accounts.deps import ApiActor
from shanzhi.events.service import event_dict
from shanzhi.gridpeople import coverage as cover
from shanzhi.gridpeople import patrols, service
from shanzhi.gridpeople.models import GridPerson, PatrolLog
from shanzhi.gridpeople.schemas import (
    AssignmentEndIn,
    AssignmentIn,
    HandOverIn,
    PatrolEventIn,
    PatrolIn,
    PersonIn,
    PersonPatch,
    RevealIn,
)
from shanzhi.http import DbSession

router = APIRouter(prefix="/api/v1", tags=["grid people"])
Page = Annotated[int, Query(ge=1)]
Size = Annotated[int, Query(ge=1, le=500)]
RegionQuery = Annotated[str, Query(min_length=6, max_length=18, pattern=r"^\d+$")]


def _person(session: DbSession, person_id: int, *, history: bool = True) -> dict[str, Any]:
    return service.view(session, session.get(GridPerson, person_id)).as_dict(history=history)


def _patrol(session: DbSession, log: PatrolLog) -> dict[str, Any]:
    return patrols.patrol_dicts(session, [log])[0]


@router.get("/grid-people", summary="网格人员列表 Grid people who live or serve in an area")
def list_people(
    session: DbSession, actor: ApiActor,
    region: Annotated[str | None, Query(min_length=6, max_length=18, pattern=r"^\d+$")] = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    include_former: bool = False,
    page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = service.list_people(session, actor=actor, region=region, role=role, q=q,
                                      include_former=include_former, page=page, size=size)
    return {"items": [v.as_dict(history=include_former) for v in service.views(session, rows)],
            "total": total, "page": page, "size": size}


@router.post("/grid-people", status_code=201, summary="登记网格人员 Record a grid person")
def create_person(session: DbSession, actor: ApiActor, body: PersonIn) -> dict[str, Any]:
    person = service.create_person(session, actor=actor, **body.model_dump())
    return _person(session, person.id)


@router.get("/grid-people/roster", summary="区域网格人员花名册 Who serves a region, by role")
def roster(session: DbSession, actor: ApiActor, region: RegionQuery, include_above: bool = True) -> dict[str, Any]:
    return service.roster(session, actor=actor, region=region, include_above=include_above)


@router.get("/grid-people/{person_id}", summary="网格人员详情与任职历史 A person with their assignment history")
def get_person(session: DbSession, actor: ApiActor, person_id: int) -> dict[str, Any]:
    person = service.get_person(session, actor=actor, person_id=person_id)
    return service.view(session, person).as_dict(history=True)


@router.patch("/grid-people/{person_id}", summary="修改网格人员 Change a person's details")
def update_person(session: DbSession, actor: ApiActor, person_id: int, body: PersonPatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    service.update_person(session, actor=actor, person_id=person_id, changes=changes, version=body.version)
    return _person(session, person_id)


@router.post("/grid-people/{person_id}/reveal-phone", summary="查看完整电话（须说明原因，留痕）Reveal a phone")
def reveal_phone(session: DbSession, actor: ApiActor, person_id: int, body: RevealIn) -> dict[str, Any]:
    return {"phone": service.reveal_phone(session, actor=actor, person_id=person_id, reason=body.reason)}


@router.post("/grid-people/{person_id}/assignments", status_code=201, summary="任命职务 Assign a role at a region")
def assign(
    session: DbSession, actor: ApiActor, person_id: int, body: AssignmentIn, response: Response,
) -> dict[str, Any]:
    _, created = service.assign(session, actor=actor, person_id=person_id, **body.model_dump())
    if not created:
        response.status_code = 200
    return _person(session, person_id)


@router.post("/grid-people/{person_id}/assignments/{assignment_id}/end",
             summary="结束任职（保留历史）End an assignment, keeping the history")
def end_assignment(
    session: DbSession, actor: ApiActor, person_id: int, assignment_id: int, body: AssignmentEndIn,
) -> dict[str, Any]:
    service.end_assignment(session, actor=actor, person_id=person_id, assignment_id=assignment_id,
                           **body.model_dump())
    return _person(session, person_id)


@router.post("/grid-assignments/{assignment_id}/hand-over", status_code=201,
             summary="职务交接（一步完成离任与接任）Hand a role over to a successor")
def hand_over(session: DbSession, actor: ApiActor, assignment_id: int, body: HandOverIn) -> dict[str, Any]:
    service.hand_over(session, actor=actor, assignment_id=assignment_id, **body.model_dump())
    return _person(session, body.successor_id)


@router.get("/patrols", summary="巡查走访记录 Patrol and visit logs in my reach")
def list_patrols(
    session: DbSession, actor: ApiActor,
    region: Annotated[str | None, Query(min_length=6, max_length=18, pattern=r"^\d+$")] = None,
    person: int | None = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    reported: bool | None = None,
    start: date | None = None, end: date | None = None,
    page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = patrols.list_patrols(session, actor=actor, region=region, person_id=person, kind=kind,
                                       reported=reported, start=start, end=end, page=page, size=size)
    return {"items": patrols.patrol_dicts(session, rows), "total": total, "page": page, "size": size}


@router.post("/patrols", status_code=201, summary="记录巡查走访（可一步上报事件）Log a patrol or visit")
def log_patrol(
    session: DbSession, actor: ApiActor, body: PatrolIn, response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=80)] = None,
) -> dict[str, Any]:
    fields = body.model_dump(exclude={"report_event", "urgency", "address", "idempotency_key"})
    log, created = patrols.log_patrol(session, actor=actor, finding=patrols.Finding(**fields), report_event=body.report_event,
                             urgency=body.urgency, address=body.address,
                             idempotency_key=body.idempotency_key or idempotency_key)
    if not created:
        response.status_code = 200  # a retry: the log written the first time
    return _patrol(session, log)


@router.get("/patrols/{log_id}", summary="巡查记录详情 One patrol log")
def get_patrol(session: DbSession, actor: ApiActor, log_id: int) -> dict[str, Any]:
    return _patrol(session, patrols.get_patrol(session, actor=actor, log_id=log_id))


@router.post("/patrols/{log_id}/event", status_code=201, summary="巡查发现转为事件 Report a finding as an event")
def report_finding(session: DbSession, actor: ApiActor, log_id: int, body: PatrolEventIn) -> dict[str, Any]:
    event = patrols.report_finding(session, actor=actor, log_id=log_id, **body.model_dump())
    return {"patrol": _patrol(session, session.get(PatrolLog, log_id)), "event": event_dict(event)}


@router.get("/coverage", summary="网格人员覆盖情况 Coverage of a region by its grid people")
def coverage(session: DbSession, actor: ApiActor, region: RegionQuery) -> dict[str, Any]:
    return cover.coverage(session, actor=actor, region=region)
