"""The grid workers' phone pages: report from the spot (/m/report), my tasks with on-the-spot
closure and results (/m/tasks), and my grid on a map with its open events (/m/grid).

Handlers parse the form, call the events services and render; the services decide who may do
what. A refused form comes back with its Chinese message and status code, keeping what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    grants_for,
    holds,
    require_somewhere,
    scope_prefixes,
    widest_scope,
)
from shanzhi.accounts.crypto import new_secret
from shanzhi.accounts.deps import PageUser, check_csrf
from shanzhi.accounts.models import User
from shanzhi.db import as_utc
from shanzhi.errors import InvalidInput, ShanzhiError
from shanzhi.events import actions, intake, photos, service
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.policy import workflow
from shanzhi.geo import service as geo
from shanzhi.geo.levels import BY_NAME
from shanzhi.http import DbSession
from shanzhi.web.forms import Code, Csrf, Text
from shanzhi.web.render import attempt, render
from shanzhi.web.report_form import (
    CRS_CHOICES,
    category_groups,
    no_store,
    parse_point,
    read_photo,
    short_time,
)

router = APIRouter(include_in_schema=False)

Short = Annotated[str, Form(max_length=200)]

# Category suggestions while typing come from the detection API (session cookie + CSRF header).
CLASSIFY_API = "/api/v1/detect/classify"
# The steps a phone offers: close a small matter on the spot, report the result of one's task,
# or verify on the spot that a handled problem is gone.
TASK_STEPS = ("on_the_spot", "resolve", "verify")
TASK_NOTICES = {"on_the_spot": "已现场办结", "resolve": "处置结果已提交，等待核查", "verify": "已核查通过，等待结案"}
EVENT_CODE = re.compile(r"^[A-Z0-9-]{1,32}$")
# A phone lists the hundred nearest deadlines; the full list is the desktop's /events.
LIST_SIZE = 100
# Region choices below the user's scope: deep enough for a grid, short enough for a phone.
MAX_REGION_CHOICES = 300
DEADLINE_LABELS = {"red": "已超期", "yellow": "临近期限", "normal": "期限内", "none": "未计时"}


def _actor(request: Request) -> Actor:
    return request.state.actor  # set by PageUser


# -- helpers shared by the three pages -----------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    events: list[Event]
    truncated: bool  # more matched than one page holds


def _open_events(session: Session, actor: Actor, statuses: list[str], region: str | None = None) -> Listed:
    """Events in these statuses within the actor's reach (and `region`), nearest deadline first."""
    found: list[Event] = []
    truncated = False
    for status in statuses:
        rows, total = service.list_events(session, actor=actor, status=status, region=region, sort="due",
                                          size=LIST_SIZE)
        found += rows
        truncated = truncated or total > len(rows)
    # No deadline yet (not accepted) sorts after every running clock, oldest report first.
    found.sort(key=lambda e: (e.due_at is None, as_utc(e.due_at or e.created_at)))
    return Listed(found[:LIST_SIZE], truncated or len(found) > LIST_SIZE)


def _region_names(session: Session, codes: set[str]) -> dict[str, str]:
    """The deepest two names of each region ("2号网格 › 1号微网格"), for cards on a phone."""
    names = {}
    for code in codes:
        chain = geo.region_chain(session, code=code)
        names[code] = " › ".join(r.name for r in chain[-2:])
    return names


def _deadline(view: dict[str, Any]) -> dict[str, str]:
    state = view["deadline_state"] if view["due_at"] else "none"
    due = short_time(view["due_at"])
    text = {"red": f"已超期 · 截止 {due}", "yellow": f"临近期限 · 截止 {due}", "normal": f"截止 {due}",
            "none": "尚未受理，未开始计时"}.get(state, "")
    return {"state": state, "label": DEADLINE_LABELS.get(state, ""), "text": text}


def _card(view: dict[str, Any], region_name: str) -> dict[str, Any]:
    return {
        "code": view["code"], "text": view["text"], "status": view["status"], "status_label": view["status_label"],
        "category": view["category"]["name"] if view["category"] else "未分类",
        "urgent": view["urgency"] == "urgent", "region": region_name, "address": view["address"],
        "reported_at": short_time(view["created_at"]), "deadline": _deadline(view), "version": view["version"],
        "lon": view["lon"], "lat": view["lat"], "result": view.get("result"),
    }


# -- /m/report -----------------------------------------------------------------------------------


def _region_choices(session: Session, actor: Actor) -> list[dict[str, str]]:
    """Where the user may report, for when the phone gives no position: each scope and the
    levels below it, as far as a phone's list stays short."""
    choices: list[dict[str, str]] = []
    for prefix in scope_prefixes(actor, "event.report"):
        top = geo.get_region(session, code=prefix)
        level = [top]
        choices.append({"code": top.code, "label": top.name})
        while level and len(choices) < MAX_REGION_CHOICES:
            below = []
            for parent in level:
                page = geo.list_regions(session, parent=parent.code, size=geo.MAX_PAGE_SIZE)
                below += page.items
            if len(choices) + len(below) > MAX_REGION_CHOICES:
                break
            depth = BY_NAME[below[0].level].depth - BY_NAME[top.level].depth if below else 0
            choices += [{"code": r.code, "label": "\u3000" * depth + r.name} for r in below]
            level = below
    # Keep each child under its parent: codes are prefixes of their descendants'.
    return sorted(choices, key=lambda c: c["code"])


def _report_page(
    request: Request, session: Session, user: User, *, error: ShanzhiError | None = None,
    form: dict[str, str] | None = None, reported: dict[str, Any] | None = None, status_code: int = 200,
) -> HTMLResponse:
    actor = _actor(request)
    regions = _region_choices(session, actor)
    form = form or {}
    if not form.get("region") and len(regions) == 1:
        form["region"] = regions[0]["code"]  # one place to choose: choose it
    context = {
        "title": "事件上报", "categories": category_groups(), "regions": regions, "crs_choices": CRS_CHOICES,
        "classify_url": CLASSIFY_API, "form": form, "error": error, "reported": reported,
        # A fresh key per served form: a double tap or a retried upload makes one event.
        "key": new_secret(12),
    }
    return render(request, "m_report.html", context, user=user, status_code=status_code)


@router.get("/m/report", response_class=HTMLResponse)
def report_form(request: Request, session: DbSession, user: PageUser) -> Response:
    actor = _actor(request)
    require_somewhere(session, actor, "event.report")
    if not scope_prefixes(actor, "event.report"):
        # A signed-in resident reports for herself, like every resident: the public form.
        return RedirectResponse("/report", status_code=303)
    return _report_page(request, session, user)


@router.post("/m/report")
def submit_report(
    request: Request, session: DbSession, user: PageUser, csrf_token: Csrf = "", text: Text = "",
    category: Code = "", urgency: Code = "", lon: Code = "", lat: Code = "", crs: Code = "wgs84",
    region: Code = "", address: Short = "", key: Code = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    check_csrf(request, session, csrf_token)
    actor = _actor(request)
    require_somewhere(session, actor, "event.report")
    form = {"text": text, "category": category, "urgency": urgency, "lon": lon, "lat": lat, "crs": crs,
            "region": region, "address": address}

    def report() -> intake.Submitted:
        x, y, system = parse_point(lon, lat, crs)
        if x is None and not region.strip():
            raise InvalidInput("No position and no region", "未获取到定位，请选择所在区域后再提交",
                               code="location_required")
        picture = read_photo(photo)
        done = intake.submit(session, actor=actor, report=intake.Report(
            text=text, channel="grid_worker", category=category or None,
            urgency="urgent" if urgency == "urgent" else "normal", lon=x, lat=y, crs=system,
            region=None if x is not None else region.strip(), address=address.strip() or None,
            idempotency_key=f"m:{user.id}:{key}" if key else None,
        ))
        if picture is not None and done.created:
            photos.add_photo(session, actor=actor, code=done.event.code, data=picture, kind="report")
        return done

    done, error = attempt(session, report)
    if error is not None:
        return _report_page(request, session, user, error=error, form=form, status_code=error.status_code)
    assert done is not None
    # Shown here rather than after a redirect: the secret is known only now (a replayed tap gets
    # none) and is shown once, as on the residents' form, for the worker to pass on.
    reported = {**_card(service.event_dict(done.event), ""), "secret": done.secret}
    return no_store(_report_page(request, session, user, reported=reported))


# -- /m/tasks ------------------------------------------------------------------------------------


def _offered(session: Session, actor: Actor, event: Event) -> list[str]:
    """The phone's steps to offer on this event: those the workflow would let the actor take now
    (events.actions, the service's own rules), on the actor's own tasks only. Through a unit's
    assignment that means events assigned to that unit (a handler sees its unit's events, not its
    whole town's); through a region assignment, anything in the region."""
    allowed = {s.name for s in actions.available_steps(session, actor, event)}
    steps = workflow().transitions
    return [name for name in TASK_STEPS if name in allowed and any(
        g.org_id is None or g.org_id == event.assigned_org_id
        for g in grants_for(actor, steps[name].action, service.target(event)))]


def _task_statuses(actor: Actor) -> list[str]:
    steps = workflow().transitions
    wanted = {s for name in TASK_STEPS if holds(actor, steps[name].action) for s in steps[name].from_}
    return [s for s in workflow().statuses if s in wanted]


def _tasks_page(
    request: Request, session: Session, user: User, *, error: ShanzhiError | None = None,
    error_code: str | None = None, form: dict[str, str] | None = None, notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    actor = _actor(request)
    if not any(holds(actor, workflow().transitions[s].action) for s in TASK_STEPS):
        require_somewhere(session, actor, "event.handle")  # 403 with the usual message
    listed = _open_events(session, actor, _task_statuses(actor))
    tasks = []
    for event in listed.events:
        steps = _offered(session, actor, event)
        if steps:
            tasks.append((event, steps))
    names = _region_names(session, {e.region_code for e, _ in tasks})
    cards = [{**_card(service.event_dict(e), names[e.region_code]), "steps": steps} for e, steps in tasks]
    counts = {state: sum(1 for c in cards if c["deadline"]["state"] == state) for state in ("red", "yellow")}
    context = {
        "title": "我的任务", "tasks": cards, "counts": counts, "truncated": listed.truncated, "limit": LIST_SIZE,
        "step_labels": {s: workflow().transitions[s].label for s in TASK_STEPS},
        "result_steps": [s for s in TASK_STEPS if "result" in workflow().transitions[s].needs],
        "error": error, "error_code": error_code, "form": form or {}, "notice": notice,
    }
    return render(request, "m_tasks.html", context, user=user, status_code=status_code)


@router.get("/m/tasks", response_class=HTMLResponse)
def tasks(
    request: Request, session: DbSession, user: PageUser,
    done: Annotated[str | None, Query(max_length=16)] = None,
    code: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    notice = TASK_NOTICES.get(done or "")
    if notice and code and EVENT_CODE.match(code):
        notice = f"{code}：{notice}"
    return _tasks_page(request, session, user, notice=notice)


@router.post("/m/tasks/{code}/{step}")
def take_step(
    request: Request, session: DbSession, user: PageUser, code: str, step: str, csrf_token: Csrf = "",
    version: Annotated[str, Form(max_length=12)] = "", result: Text = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    check_csrf(request, session, csrf_token)
    actor = _actor(request)

    def act() -> None:
        if step not in TASK_STEPS:
            raise InvalidInput(f"Unknown step {step!r}", "手机端不支持该操作", code="unknown_transition")
        picture = read_photo(photo)
        needs_result = "result" in workflow().transitions[step].needs
        service.transition(session, actor=actor, code=code, name=step,
                           version=int(version) if version.strip().isdigit() else None,
                           **({"result": result.strip()} if needs_result else {}))
        if picture is not None:
            photos.add_photo(session, actor=actor, code=code, data=picture, kind="result")

    _, error = attempt(session, act)
    if error is not None:
        return _tasks_page(request, session, user, error=error, error_code=code, form={"result": result},
                           status_code=error.status_code)
    return RedirectResponse("/m/tasks?" + urlencode({"done": step, "code": code}), status_code=303)


# -- /m/grid -------------------------------------------------------------------------------------


@router.get("/m/grid", response_class=HTMLResponse)
def grid(request: Request, session: DbSession, user: PageUser) -> HTMLResponse:
    actor = _actor(request)
    require_somewhere(session, actor, "event.read")
    scope = widest_scope(actor)
    assert scope is not None  # whoever may read events holds an assignment somewhere
    # A micro-grid worker looks after it within its grid: show the grid, hers highlighted.
    microgrid = BY_NAME["microgrid"].code_length
    shown = scope[: BY_NAME["grid"].code_length] if len(scope) == microgrid else scope
    region = geo.region_detail(session, code=shown)
    listed = _open_events(session, actor, list(OPEN_STATUSES), region=shown)
    names = _region_names(session, {e.region_code for e in listed.events})
    cards = [_card(service.event_dict(e), names[e.region_code]) for e in listed.events]
    mine = {e.code for e in listed.events if _offered(session, actor, e)}
    config = {
        "region": shown, "name": region["name"], "highlight": scope if scope != shown else None,
        "bbox": region["bbox"],
        "tileUrl": request.app.state.settings.tile_url,
        "events": [{"code": c["code"], "lon": c["lon"], "lat": c["lat"], "state": c["deadline"]["state"],
                    "label": f"{c['code']} {c['category']} · {c['status_label']}"}
                   for c in cards if c["lon"] is not None],
    }
    context = {"title": "我的网格", "region": region, "events": cards, "mine": mine,
               "truncated": listed.truncated, "limit": LIST_SIZE, "config": config}
    return render(request, "m_grid.html", context, user=user)
