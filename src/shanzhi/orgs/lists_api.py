"""Resource, need and project endpoints (mounted through `orgs.api.router`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from shanzhi.accounts.deps import ApiActor
from shanzhi.http import DbSession
from shanzhi.orgs import matching, needs, projects, resources
from shanzhi.orgs.common import readable
from shanzhi.orgs.schemas import (
    CompleteBody,
    DoneBody,
    MatchBody,
    MilestoneBody,
    NeedCreate,
    NeedFromEvent,
    NeedUpdate,
    NoteBody,
    RateBody,
    ReasonBody,
    ResourceCreate,
    ResourceUpdate,
    StartBody,
    given,
)

router = APIRouter(tags=["alliances"])  # mounted under /api/v1 by orgs.api
Page = Annotated[int, Query(ge=1)]
Size = Annotated[int, Query(ge=1, le=500)]
Text = Annotated[str | None, Query(max_length=64)]


def _page(items: list[Any], total: int, page: int, size: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "size": size}


# -- resources --------------------------------------------------------------------------------


@router.get("/resources", summary="资源清单 Resources units offer")
def list_resources(
    session: DbSession, actor: ApiActor, q: Text = None, kind: Text = None, org: Text = None, region: Text = None,
    status: Text = None, available_on: date | None = None, page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = resources.list_resources(session, actor=actor, q=q, kind=kind, org=org, region=region,
                                           status=status, available_on=available_on, page=page, size=size)
    return _page(resources.resource_dicts(session, rows), total, page, size)


@router.post("/resources", status_code=201, summary="发布资源 Publish a resource")
def create_resource(session: DbSession, actor: ApiActor, body: ResourceCreate) -> dict[str, Any]:
    row = resources.create_resource(session, actor=actor, **body.model_dump())
    return resources.resource_dicts(session, [resources.find(session, readable("resource", row.id))])[0]


@router.get("/resources/{code}", summary="资源详情 One resource")
def get_resource(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    return resources.resource_dicts(session, [resources.get_resource(session, actor=actor, code=code)])[0]


@router.patch("/resources/{code}", summary="修改资源 Change a resource")
def update_resource(session: DbSession, actor: ApiActor, code: str, body: ResourceUpdate) -> dict[str, Any]:
    resources.update_resource(session, actor=actor, code=code, **given(body))
    return resources.resource_dicts(session, [resources.find(session, code)])[0]


# -- needs ------------------------------------------------------------------------------------


@router.get("/needs", summary="需求清单（按范围）Needs in my scope")
def list_needs(
    session: DbSession, actor: ApiActor, status: Text = None, kind: Text = None, region: Text = None,
    flagged: bool | None = None, q: Text = None, page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = needs.list_needs(session, actor=actor, status=status, kind=kind, region=region, flagged=flagged,
                                   q=q, page=page, size=size)
    return _page(needs.need_dicts(session, rows), total, page, size)


@router.post("/needs", status_code=201, summary="提出需求 Raise a need")
def raise_need(session: DbSession, actor: ApiActor, body: NeedCreate) -> dict[str, Any]:
    row = needs.raise_need(session, actor=actor, **body.model_dump())
    return needs.need_dicts(session, [needs.find(session, readable("need", row.id))])[0]


@router.post("/needs/from-event", status_code=201, summary="由事件转为需求 Raise a need from an event")
def need_from_event(session: DbSession, actor: ApiActor, body: NeedFromEvent) -> dict[str, Any]:
    row = needs.need_from_event(session, actor=actor, event_code=body.event, kind=body.kind, title=body.title,
                                quantity=body.quantity, requester=body.requester, group_name=body.group_name)
    return needs.need_dicts(session, [needs.find(session, readable("need", row.id))])[0]


@router.get("/needs/{code}", summary="需求详情 One need")
def get_need(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    return needs.need_dicts(session, [needs.get_need(session, actor=actor, code=code)])[0]


@router.patch("/needs/{code}", summary="修改需求 Change a need")
def update_need(session: DbSession, actor: ApiActor, code: str, body: NeedUpdate) -> dict[str, Any]:
    needs.update_need(session, actor=actor, code=code, **given(body))
    return needs.need_dicts(session, [needs.find(session, code)])[0]


@router.post("/needs/{code}/close", summary="关闭需求 Withdraw an open need")
def close_need(session: DbSession, actor: ApiActor, code: str, body: ReasonBody) -> dict[str, Any]:
    needs.close_need(session, actor=actor, code=code, reason=body.reason)
    return needs.need_dicts(session, [needs.find(session, code)])[0]


@router.get("/needs/{code}/proposals", summary="推荐资源（含评分说明）Ranked resources, each score explained")
def proposals(session: DbSession, actor: ApiActor, code: str,
              limit: Annotated[int | None, Query(ge=1, le=100)] = None) -> dict[str, Any]:
    _need, found = matching.propose(session, actor=actor, need=code, limit=limit)
    items = [p.as_dict() for p in found]
    return {"need": code, "items": items, "total": len(items)}


@router.post("/needs/{code}/match", status_code=201, summary="确认对接，生成项目 Confirm a match: a project")
def confirm_match(session: DbSession, actor: ApiActor, code: str, body: MatchBody) -> dict[str, Any]:
    project = projects.confirm_match(
        session, actor=actor, need=code, picks=[projects.Pick(p.code, p.quantity) for p in body.resources],
        owner=body.owner, owner_name=body.owner_name, title=body.title, started_on=body.started_on,
        due_on=body.due_on, milestones=[projects.MilestoneIn(m.title, m.due_on) for m in body.milestones])
    return _project(session, readable("project", project.id))


# -- projects ---------------------------------------------------------------------------------


def _project(session: DbSession, code: str) -> dict[str, Any]:
    return projects.project_dicts(session, [projects.find(session, code)], detail=True)[0]


@router.get("/projects", summary="项目清单（按范围）Projects in my scope")
def list_projects(
    session: DbSession, actor: ApiActor, status: Text = None, region: Text = None, org: Text = None,
    need: Text = None, page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = projects.list_projects(session, actor=actor, status=status, region=region, org=org, need=need,
                                         page=page, size=size)
    return _page(projects.project_dicts(session, rows), total, page, size)


@router.get("/projects/{code}", summary="项目详情（节点与进展）One project with milestones and notes")
def get_project(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    projects.get_project(session, actor=actor, code=code)
    return _project(session, code)


@router.post("/projects/{code}/start", summary="开始实施 Start")
def start_project(session: DbSession, actor: ApiActor, code: str, body: StartBody | None = None) -> dict[str, Any]:
    projects.start_project(session, actor=actor, code=code, started_on=body.started_on if body else None)
    return _project(session, code)


@router.post("/projects/{code}/notes", status_code=201, summary="记录进展 Add a progress note")
def add_note(session: DbSession, actor: ApiActor, code: str, body: NoteBody) -> dict[str, Any]:
    projects.add_note(session, actor=actor, code=code, text=body.text, progress=body.progress)
    return _project(session, code)


@router.post("/projects/{code}/milestones", status_code=201, summary="添加节点 Add a milestone")
def add_milestone(session: DbSession, actor: ApiActor, code: str, body: MilestoneBody) -> dict[str, Any]:
    projects.add_milestone(session, actor=actor, code=code, milestone=projects.MilestoneIn(body.title, body.due_on))
    return _project(session, code)


@router.post("/projects/{code}/milestones/{milestone_id}/done", summary="节点完成 A milestone is done")
def milestone_done(session: DbSession, actor: ApiActor, code: str, milestone_id: int,
                   body: DoneBody | None = None) -> dict[str, Any]:
    projects.complete_milestone(session, actor=actor, code=code, milestone_id=milestone_id,
                                done_on=body.done_on if body else None)
    return _project(session, code)


@router.post("/projects/{code}/complete", summary="完成并记录成效 Complete with its outcome")
def complete_project(session: DbSession, actor: ApiActor, code: str, body: CompleteBody) -> dict[str, Any]:
    projects.complete_project(session, actor=actor, code=code, **body.model_dump())
    return _project(session, code)


@router.post("/projects/{code}/rate", summary="评价成效 Rate the outcome")
def rate_project(session: DbSession, actor: ApiActor, code: str, body: RateBody) -> dict[str, Any]:
    projects.rate_project(session, actor=actor, code=code, rating=body.rating)
    return _project(session, code)


@router.post("/projects/{code}/cancel", summary="取消项目 Cancel")
def cancel_project(session: DbSession, actor: ApiActor, code: str, body: ReasonBody) -> dict[str, Any]:
    projects.cancel_project(session, actor=actor, code=code, reason=body.reason)
    return _project(session, code)
