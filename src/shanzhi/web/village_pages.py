"""The village page (/villages/{code}): its 1+X alliances and their lead party organizations, the
units paired with it, its open needs with the resources proposed for each (every score explained)
and — for coordinators — the form that confirms a match into a project, its projects and their
progress, the people of its grids and their coverage, and its numbers.

Handlers parse, call the orgs and gridpeople services and render; the services decide again on
submit, so a forged form is refused there. The live map's 联建覆盖 layer links here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, can, holds
from shanzhi.accounts.deps import PageUser, check_csrf
from shanzhi.accounts.models import User
from shanzhi.db import local_time
from shanzhi.errors import InvalidInput, NotFound, ShanzhiError
from shanzhi.geo import service as geo
from shanzhi.gridpeople import coverage as grid_coverage
from shanzhi.gridpeople import service as gridpeople
from shanzhi.http import DbSession
from shanzhi.orgs import matching, needs, numbers, projects
from shanzhi.orgs.common import readable
from shanzhi.orgs.policy import matching_policy, orgs_policy
from shanzhi.web.render import attempt, render

router = APIRouter(include_in_schema=False)

PROPOSALS = 3  # the best few resources shown under each open need
PROPOSED_NEEDS = 20  # needs that get proposals computed on one page view (the most pressing first)
MAX_PROJECTS = 100

Csrf = Annotated[str, Form(max_length=200)]
Short = Annotated[str, Form(max_length=64)]

# Notices after a redirect are chosen by key, so nothing typed in a URL is echoed.
NOTICES = {"matched": "已确认对接，项目已立项。资源单位将按项目推进，进展记录在下方项目列表中。"}


def _day(iso: str | None) -> str:
    return local_time(datetime.fromisoformat(iso)).strftime("%Y-%m-%d") if iso else ""


def _village_target(code: str, label: str = "村(社区)") -> Target:
    return Target("region", code, (code,), label=label)


# -- what the page shows -----------------------------------------------------------------------


def _need_order(need: dict[str, Any]) -> tuple[Any, ...]:
    """Long-unmatched first, then the most urgent, then the oldest."""
    urgency = list(orgs_policy().urgencies)
    return (not need["flagged"], -urgency.index(need["urgency"]) if need["urgency"] in urgency else 0,
            need["raised_at"])


def _proposal_view(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "factors": [{**f, "percent": round(100 * f["points"] / f["weight"]) if f["weight"] else 0}
                             for f in p["factors"]]}


def _needs_view(session: Session, actor: Actor, open_needs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, need in enumerate(sorted(open_needs, key=_need_order)):
        proposed = None
        if i < PROPOSED_NEEDS:
            _, found = matching.propose(session, actor=actor, need=need["code"], limit=PROPOSALS)
            proposed = [_proposal_view(p.as_dict()) for p in found]
        # The form offers what the need asks for, as far as the best proposal has left.
        wanted = need["quantity"] or 1
        quantity = min(wanted, proposed[0]["resource"]["remaining"]) if proposed else wanted
        out.append({**need, "raised_day": _day(need["raised_at"]), "proposals": proposed,
                    "default_quantity": quantity})
    return out


def _project_view(p: dict[str, Any]) -> dict[str, Any]:
    reported = [n["progress"] for n in p["notes"] if n["progress"] is not None]
    progress = 100 if p["status"] == "completed" else reported[-1] if reported else 0
    done = sum(1 for m in p["milestones"] if m["done_on"])
    return {**p, "progress": progress, "milestones_done": done, "last_note": p["notes"][-1] if p["notes"] else None,
            "confirmed_day": _day(p["confirmed_at"]), "finished_day": _day(p["finished_at"])}


def _projects(session: Session, actor: Actor, village: str) -> list[dict[str, Any]]:
    rows, _ = projects.list_projects(session, actor=actor, region=village, size=MAX_PROJECTS)
    return [_project_view(p) for p in projects.project_dicts(session, rows, detail=True) if p["status"] != "cancelled"]


def _grid(session: Session, actor: Actor, village: str) -> dict[str, Any] | None:
    """The village's grid people (phones masked) and their coverage, for those who may read them."""
    if not can(actor, "gridpeople.read", _village_target(village)):
        return None
    roster = gridpeople.roster(session, actor=actor, region=village)
    report = grid_coverage.coverage(session, actor=actor, region=village)
    return {"roles": [r for r in roster["roles"] if r["people"]], "coverage": report,
            "people": sum(len(r["people"]) for r in roster["roles"])}


def _village_page(
    request: Request, session: Session, user: User, code: str, *, notice: str | None = None,
    error: ShanzhiError | None = None, error_need: str | None = None, form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    actor: Actor = request.state.actor
    summary = numbers.village_summary(session, actor=actor, village=code)  # 404 outside the actor's reach
    detail = geo.region_detail(session, code=code)
    policy = orgs_policy()
    open_needs = _needs_view(session, actor, summary["open_needs"])
    if error_need not in {n["code"] for n in open_needs}:
        error_need = None  # a need not on this page: the error shows at the top
    context = {
        "title": summary["village"]["name"],
        "village": summary["village"],
        "detail": detail,
        "alliances": summary["alliances"],
        "pairings": summary["pairings"],
        "serving": summary["serving_units"],
        "needs": open_needs,
        "projects": _projects(session, actor, code),
        "numbers": summary["numbers"],
        "grid": _grid(session, actor, code),
        "may_confirm": can(actor, "match.confirm", _village_target(code, "需求")),
        "may_read_events": holds(actor, "event.read"),
        "flag_days": matching_policy().unmatched_flag_days,
        "kind_labels": {k: v.label for k, v in policy.kinds().items()},
        "need_statuses": policy.need_statuses,
        "project_statuses": policy.project_statuses,
        "proposed_needs": PROPOSED_NEEDS,
        "notice": notice, "error": error, "error_need": error_need, "form": form or {},
    }
    return render(request, "village.html", context, user=user, status_code=status_code)


@router.get("/villages/{code}", response_class=HTMLResponse)
def village_page(request: Request, session: DbSession, user: PageUser, code: str,
                 done: Annotated[str, Query(max_length=16)] = "") -> HTMLResponse:
    return _village_page(request, session, user, code, notice=NOTICES.get(done))


def _quantity(raw: str) -> int:
    if not raw.strip().isdigit() or int(raw) < 1:
        raise InvalidInput("quantity must be a whole number ≥ 1", "对接数量应为不小于 1 的整数",
                           code="invalid_quantity")
    return int(raw)


@router.post("/villages/{code}/needs/{need}/match")
def confirm_match(
    request: Request, session: DbSession, user: PageUser, code: str, need: str, csrf_token: Csrf = "",
    resource: Short = "", quantity: Short = "", owner_name: Short = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    actor: Actor = request.state.actor
    form = {"resource": resource, "quantity": quantity, "owner_name": owner_name}

    def confirm() -> str:
        _, where = needs.get_need(session, actor=actor, code=need)
        if not where.code.startswith(code):  # a form posted under another village's page
            raise NotFound(f"Need {need} is not in {code}", f"需求 {need} 不属于该村(社区)", code="not_found")
        if not resource.strip():
            raise InvalidInput("Pick a resource", "请选择一项推荐资源", code="no_resources")
        project = projects.confirm_match(session, actor=actor, need=need,
                                         picks=[projects.Pick(resource.strip(), _quantity(quantity))],
                                         owner_name=owner_name.strip() or None)
        return readable("project", project.id)

    made, error = attempt(session, confirm)
    if error is not None:
        return _village_page(request, session, user, code, error=error, error_need=need, form=form,
                             status_code=error.status_code)
    return RedirectResponse(f"/villages/{quote(code)}?done=matched#{made}", status_code=303)
