"""Projects: a coordinator confirms a match (a need with one or more resources), which creates a
project; its owner records milestones and progress notes; it ends with an outcome and the
number of people it helped (the need is then met), or is cancelled (the need is open again).

Status moves are compare-and-set updates, so two coordinators confirming the same need, or
two people finishing the same project, cannot both succeed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    require_somewhere,
    scope_prefixes,
)
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, for_update, utcnow
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.geo.models import Region
from shanzhi.orgs import needs as needs_service
from shanzhi.orgs import resources as resources_service
from shanzhi.orgs.common import (
    check_paging,
    check_period,
    check_text,
    iso,
    prefix_clause,
    readable,
    row_id,
    today,
    unit_orgs,
)
from shanzhi.orgs.list_models import (
    Need,
    Project,
    ProjectMilestone,
    ProjectNote,
    ProjectResource,
    Resource,
)
from shanzhi.orgs.models import Organization
from shanzhi.orgs.policy import check_word, orgs_policy
from shanzhi.orgs.service import find as find_org

LIVE = ("planned", "in_progress")
MAX_COUNT = 10_000_000


@dataclass(frozen=True)
class Pick:
    resource: str  # resource code
    quantity: int = 1


@dataclass(frozen=True)
class MilestoneIn:
    title: str
    due_on: date | None = None


def target(project: Project, region_code: str) -> Target:
    return Target("project", readable("project", project.id), (region_code,), org_id=project.owner_org_id,
                  label="项目")


def find(session: Session, code: str) -> tuple[Project, Need, Region]:
    pid = row_id("project", code)
    row = session.execute(select(Project, Need, Region).join(Need, Need.id == Project.need_id)
                          .join(Region, Region.id == Need.region_id).where(Project.id == pid)).first() \
        if pid is not None else None
    if row is None:
        raise NotFound(f"Project {code} not found", f"项目 {code} 不存在或不在您的管辖范围内", code="not_found")
    return row[0], row[1], row[2]


def get_project(session: Session, *, actor: Actor, code: str, action: str = "org.read") -> tuple[Project, Need, Region]:
    project, need, region = find(session, code)
    authorize(session, actor, action, target(project, region.code))
    return project, need, region


def _record(session: Session, actor: Actor, action: str, project: Project, region: Region, **changes: Any) -> None:
    audit.record(session, action=action, actor_id=actor.user_id, actor_name=actor.name, target_type="project",
                 target_id=readable("project", project.id), region_code=region.code, **changes)


def _move(session: Session, project: Project, to: str, *, allowed: tuple[str, ...], **values: Any) -> str:
    """Compare-and-set the status; the loser of a race gets a 409 instead of a silent overwrite."""
    before = project.status
    if before not in allowed:
        labels = orgs_policy().project_statuses
        raise Conflict(f"A {before} project cannot become {to}",
                       f"项目当前为“{labels.get(before, before)}”，不能改为“{labels.get(to, to)}”",
                       code="invalid_status")
    done = session.execute(update(Project).where(Project.id == project.id, Project.version == project.version)
                           .values(status=to, version=project.version + 1, **values)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict("This project was changed by someone else; reload and try again",
                       "该项目已被他人修改，请刷新后重试", code="stale_version")
    session.refresh(project)
    return before


def _check_quantity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("quantity must be a whole number ≥ 1", "对接数量应为不小于 1 的整数",
                           code="invalid_quantity")
    return value


def confirm_match(
    session: Session, *, actor: Actor, need: str, picks: list[Pick], owner: str | None = None,
    owner_name: str | None = None, title: str | None = None, started_on: date | None = None,
    due_on: date | None = None, milestones: list[MilestoneIn] = (),  # type: ignore[assignment]
) -> Project:
    """A coordinator confirms that these resources will answer the need: a project is created
    (owned by the first resource's unit unless `owner` says otherwise) and the need is matched."""
    need_row, region = needs_service.get_need(session, actor=actor, code=need, action="match.confirm")
    if not picks:
        raise InvalidInput("Pick at least one resource", "请至少选择一项资源", code="no_resources")
    codes = [p.resource.strip().upper() for p in picks]
    if len(set(codes)) != len(codes):
        raise InvalidInput("A resource is picked twice", "同一资源选择了两次", code="duplicate_resource")
    check_period(started_on, due_on, "项目")
    day = today()
    ids = [resources_service.find(session, c)[0].id for c in codes]
    # Lock the resources so two matches cannot both take the last of a capacity (PostgreSQL).
    locked = {r.id: r for r in session.scalars(for_update(select(Resource).where(Resource.id.in_(ids)), session))}
    used = resources_service.allocated(session, ids)
    for pick, rid in zip(picks, ids):
        resource, quantity = locked[rid], _check_quantity(pick.quantity)
        if not resources_service.available(resource, day):
            raise Conflict(f"Resource {readable('resource', rid)} is not available now",
                           f"资源“{resource.title}”当前不可对接（已暂停、撤回或不在提供期内）",
                           code="resource_unavailable")
        if quantity > resource.capacity - used.get(rid, 0):
            raise Conflict(f"Resource {readable('resource', rid)} has only {resource.capacity - used.get(rid, 0)} left",
                           f"资源“{resource.title}”仅剩 {resource.capacity - used.get(rid, 0)}{resource.unit}",
                           code="capacity_exceeded")
    owner_org = find_org(session, owner)[0] if owner else session.get(Organization, locked[ids[0]].org_id)
    assert owner_org is not None
    now = utcnow()
    taken = session.execute(update(Need).where(Need.id == need_row.id, Need.status == "open")
                            .values(status="matched", matched_at=now).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise Conflict("This need is not waiting for a match", "该需求已对接或已关闭", code="need_not_open")
    session.refresh(need_row)
    project = Project(need_id=need_row.id, title=check_text(title or need_row.title, "title", "项目名称", limit=120),
                      owner_org_id=owner_org.id,
                      owner_name=check_text(owner_name, "owner name", "负责人", limit=64, required=False),
                      status="planned", confirmed_by=actor.user_id, confirmed_at=now, started_on=started_on,
                      due_on=due_on)
    session.add(project)
    session.flush()
    session.add_all(ProjectResource(project_id=project.id, resource_id=rid, quantity=p.quantity)
                    for p, rid in zip(picks, ids))
    session.add_all(ProjectMilestone(project_id=project.id, due_on=m.due_on,
                                     title=check_text(m.title, "milestone", "节点名称", limit=120))
                    for m in milestones)
    session.flush()
    _record(session, actor, "match.confirm", project, region,
            after={"need": readable("need", need_row.id), "owner": owner_org.code, "title": project.title,
                   "resources": [{"code": c, "quantity": p.quantity} for c, p in zip(codes, picks)]})
    return project


def start_project(session: Session, *, actor: Actor, code: str, started_on: date | None = None) -> Project:
    project, _, region = get_project(session, actor=actor, code=code, action="project.manage")
    _move(session, project, "in_progress", allowed=("planned",), started_on=started_on or project.started_on or today())
    _record(session, actor, "project.start", project, region, after={"status": "in_progress",
                                                                     "started_on": iso(project.started_on)})
    return project


def add_note(session: Session, *, actor: Actor, code: str, text: str, progress: int | None = None) -> ProjectNote:
    project, _, region = get_project(session, actor=actor, code=code, action="project.manage")
    if project.status == "cancelled":
        raise Conflict("The project was cancelled", "项目已取消", code="invalid_status")
    bad = isinstance(progress, bool) or not isinstance(progress, int) or not 0 <= progress <= 100
    if progress is not None and bad:
        raise InvalidInput("progress is a percentage 0–100", "进度应为 0–100 的百分数", code="invalid_progress")
    note = ProjectNote(project_id=project.id, author_id=actor.user_id, author_name=actor.name, at=utcnow(),
                       text=check_text(text, "note", "进展说明", limit=2000), progress=progress)
    session.add(note)
    session.flush()
    _record(session, actor, "project.note", project, region, after={"note_id": note.id, "progress": progress})
    return note


def add_milestone(session: Session, *, actor: Actor, code: str, milestone: MilestoneIn) -> ProjectMilestone:
    project, _, region = get_project(session, actor=actor, code=code, action="project.manage")
    if project.status not in LIVE:
        raise Conflict("The project is finished", "项目已结束，不能再加节点", code="invalid_status")
    row = ProjectMilestone(project_id=project.id, title=check_text(milestone.title, "milestone", "节点名称", limit=120),
                           due_on=milestone.due_on)
    session.add(row)
    session.flush()
    _record(session, actor, "project.milestone", project, region,
            after={"milestone_id": row.id, "title": row.title, "due_on": iso(row.due_on)})
    return row


def complete_milestone(session: Session, *, actor: Actor, code: str, milestone_id: int,
                       done_on: date | None = None) -> ProjectMilestone:
    project, _, region = get_project(session, actor=actor, code=code, action="project.manage")
    row = session.get(ProjectMilestone, milestone_id)
    if row is None or row.project_id != project.id:
        raise NotFound("milestone not found", "项目节点不存在", code="not_found")
    if row.done_on is not None:
        raise Conflict("This milestone is done already", "该节点已完成", code="already_done")
    row.done_on = done_on or today()
    session.flush()
    _record(session, actor, "project.milestone_done", project, region,
            after={"milestone_id": row.id, "done_on": iso(row.done_on)})
    return row


def _rating(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5):
        raise InvalidInput("rating must be 1–5", "评价应为 1–5 分", code="invalid_rating")
    return value


def _need_after(session: Session, need: Need) -> None:
    """The need follows its projects: met once one is completed and none is still running,
    open again once every project was cancelled."""
    statuses = set(session.scalars(select(Project.status).where(Project.need_id == need.id)))
    now = utcnow()
    if statuses & set(LIVE):
        return
    if "completed" in statuses:
        need.status, need.met_at = "met", need.met_at or now
    elif need.status == "matched":
        need.status, need.matched_at = "open", None
    session.flush()


def complete_project(
    session: Session, *, actor: Actor, code: str, outcome: str, beneficiaries: int | None = None,
    beneficiaries_note: str | None = None, rating: int | None = None,
) -> Project:
    project, need, region = get_project(session, actor=actor, code=code, action="project.manage")
    outcome = check_text(outcome, "outcome", "成效", limit=4000)  # type: ignore[assignment]
    if beneficiaries is not None and (isinstance(beneficiaries, bool) or not isinstance(beneficiaries, int)
                                      or not 0 <= beneficiaries <= MAX_COUNT):
        raise InvalidInput(f"beneficiaries is a count 0–{MAX_COUNT}", f"受益人数应为 0–{MAX_COUNT} 的整数",
                           code="invalid_beneficiaries")
    before = _move(session, project, "completed", allowed=LIVE, finished_at=utcnow(), outcome=outcome,
                   beneficiaries=beneficiaries, rating=_rating(rating),
                   beneficiaries_note=check_text(beneficiaries_note, "beneficiaries note", "受益对象", limit=200,
                                                 required=False))
    _need_after(session, need)
    _record(session, actor, "project.complete", project, region, before={"status": before},
            after={"status": "completed", "beneficiaries": beneficiaries, "rating": rating,
                   "need_status": need.status})
    return project


def rate_project(session: Session, *, actor: Actor, code: str, rating: int) -> Project:
    """The village's verdict on a completed project (it counts in later matching)."""
    project, _, region = get_project(session, actor=actor, code=code, action="project.manage")
    if project.status != "completed":
        raise Conflict("Only a completed project is rated", "项目完成后才能评价", code="invalid_status")
    before = project.rating
    project.rating = _rating(rating)
    project.version += 1
    session.flush()
    _record(session, actor, "project.rate", project, region, before={"rating": before}, after={"rating": rating})
    return project


def cancel_project(session: Session, *, actor: Actor, code: str, reason: str) -> Project:
    project, need, region = get_project(session, actor=actor, code=code, action="project.manage")
    reason = check_text(reason, "reason", "取消原因", limit=200)  # type: ignore[assignment]
    before = _move(session, project, "cancelled", allowed=LIVE, finished_at=utcnow())
    _need_after(session, need)
    _record(session, actor, "project.cancel", project, region, before={"status": before},
            after={"status": "cancelled", "need_status": need.status}, detail={"reason": reason})
    return project


# -- reading --------------------------------------------------------------------------------


def reach_clause(actor: Actor, action: str) -> Any:
    """Projects the actor reaches: their need's place in its subtrees, or owned by its unit (Region joined)."""
    clauses = [prefix_clause(Region.code, scope_prefixes(actor, action))]
    units = unit_orgs(actor, action)
    if units:
        clauses.append(Project.owner_org_id.in_(units))
    return or_(*clauses)


def list_projects(
    session: Session, *, actor: Actor, status: str | None = None, region: str | None = None, org: str | None = None,
    need: str | None = None, page: int = 1, size: int = 50,
) -> tuple[list[tuple[Project, Need, Region]], int]:
    require_somewhere(session, actor, "org.read")
    check_paging(page, size)
    stmt = (select(Project, Need, Region).join(Need, Need.id == Project.need_id)
            .join(Region, Region.id == Need.region_id).where(reach_clause(actor, "org.read")))
    if actor.token_scope is not None:
        stmt = stmt.where(Region.code.startswith(actor.token_scope))
    if status:
        stmt = stmt.where(Project.status == check_word(orgs_policy().project_statuses, status, "status", "状态"))
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    if org:
        stmt = stmt.where(Project.owner_org_id == find_org(session, org)[0].id)
    if need:
        stmt = stmt.where(Project.need_id == row_id("need", need))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Project.id.desc()).offset((page - 1) * size).limit(size)).all()
    return [(p, n, r) for p, n, r in rows], total


def project_dicts(
    session: Session, rows: list[tuple[Project, Need, Region]], *, detail: bool = False,
) -> list[dict[str, Any]]:
    policy = orgs_policy()
    ids = [p.id for p, _, _ in rows]
    orgs = dict(session.execute(select(Organization.id, Organization).where(
        Organization.id.in_({p.owner_org_id for p, _, _ in rows}))).tuples().all()) if rows else {}
    picks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    milestones: dict[int, list[dict[str, Any]]] = defaultdict(list)
    notes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for pid, rid, quantity, title, unit, org_name in session.execute(
                select(ProjectResource.project_id, Resource.id, ProjectResource.quantity, Resource.title, Resource.unit,
                       Organization.name)
                .join(Resource, Resource.id == ProjectResource.resource_id)
                .join(Organization, Organization.id == Resource.org_id)
                .where(ProjectResource.project_id.in_(ids)).order_by(Resource.id)):
            picks[pid].append({"code": readable("resource", rid), "title": title, "quantity": quantity, "unit": unit,
                               "org": org_name})
    if ids and detail:
        for m in session.scalars(select(ProjectMilestone).where(ProjectMilestone.project_id.in_(ids))
                                 .order_by(ProjectMilestone.due_on, ProjectMilestone.id)):
            milestones[m.project_id].append({"id": m.id, "title": m.title, "due_on": iso(m.due_on),
                                             "done_on": iso(m.done_on)})
        for n in session.scalars(select(ProjectNote).where(ProjectNote.project_id.in_(ids)).order_by(ProjectNote.at)):
            notes[n.project_id].append({"id": n.id, "at": iso(as_utc(n.at)), "author": n.author_name, "text": n.text,
                                        "progress": n.progress})
    out = []
    for p, need, region in rows:
        owner = orgs[p.owner_org_id]
        item: dict[str, Any] = {
            "code": readable("project", p.id), "title": p.title,
            "need": {"code": readable("need", need.id), "title": need.title, "kind": need.kind, "status": need.status},
            "region": {"code": region.code, "name": region.name},
            "owner": {"code": owner.code, "name": owner.name}, "owner_name": p.owner_name,
            "status": p.status, "status_label": policy.project_statuses.get(p.status, p.status),
            "resources": picks[p.id], "confirmed_at": iso(as_utc(p.confirmed_at)), "started_on": iso(p.started_on),
            "due_on": iso(p.due_on), "finished_at": iso(as_utc(p.finished_at)), "outcome": p.outcome,
            "beneficiaries": p.beneficiaries, "beneficiaries_note": p.beneficiaries_note, "rating": p.rating,
            "version": p.version,
        }
        if detail:
            item |= {"milestones": milestones[p.id], "notes": notes[p.id]}
        out.append(item)
    return out
