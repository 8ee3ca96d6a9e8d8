"""Event pages: the filtered list with its XLSX export (/events), one event with its map, photos,
timeline, detection hints and the workflow steps the user may take (/events/{code}).

Handlers parse, call the events services and render; `events.actions` decides which steps to
offer and `service.transition` decides again on submit, so a forged form is refused there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from itertools import groupby
from math import ceil
from typing import IO, Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, require_somewhere, scope_prefixes
from shanzhi.accounts.deps import PageUser, check_csrf
from shanzhi.accounts.models import User
from shanzhi.db import utcnow
from shanzhi.detect import classify, duplicates
from shanzhi.errors import InvalidInput, ShanzhiError
from shanzhi.events import actions, export, photos, service
from shanzhi.events.catalog import TIME_UNITS, catalog
from shanzhi.events.intake import CHANNELS
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.policy import workflow
from shanzhi.geo import service as geo
from shanzhi.geo.index import RegionRef
from shanzhi.geo.levels import BY_NAME
from shanzhi.http import DbSession
from shanzhi.web.forms import Code, Csrf, Text
from shanzhi.web.render import render

router = APIRouter(include_in_schema=False)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50
MAX_PAGE = 100_000
REGION_OPTIONS = 500  # a filter select stays usable; deeper regions still work typed into the URL

Short = Annotated[str, Form(max_length=12)]

# How each input of a workflow step is asked for (the step's `inputs` come from the policy).
INPUT_LABELS = {"reason": "原因", "result": "处置结果", "unit": "处置单位", "into": "合并到事件编号",
                "amount": "延期时长", "category": "事件类别", "rating": "评分"}
# Steps that send an event back or away look different from those that move it forward.
CAUTION_STEPS = {"reject", "return", "reopen", "escalate", "merge"}
PHOTO_KINDS = {"report": "上报照片", "result": "处置照片"}
# Timeline steps without a signed-in actor: an anonymous resident's, else the system's.
RESIDENT_STEPS = {"report", "rate"}


def local(at: datetime | str | None) -> str:
    """Times are stored in UTC and shown in Asia/Shanghai (ISO text from the views, too)."""
    moment = export.local(datetime.fromisoformat(at) if isinstance(at, str) else at)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


# -- /events -----------------------------------------------------------------------------------

def _filters(
    status: Annotated[str, Query(max_length=16)] = "",
    category: Annotated[str, Query(max_length=4)] = "",
    region: Annotated[str, Query(max_length=18)] = "",
    channel: Annotated[str, Query(max_length=16)] = "",
    deadline: Annotated[str, Query(max_length=8)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Annotated[str, Query(max_length=8)] = "newest",
) -> dict[str, str]:
    """The list's filters from the query string (the list, its paging and its export share them)."""
    return {"status": status, "category": category, "region": region.strip(), "channel": channel,
            "deadline": deadline, "q": q.strip(), "sort": sort or "newest"}


Filters = Annotated[dict[str, str], Depends(_filters)]


def _url(path: str, filters: dict[str, str], page: int = 1) -> str:
    """A bookmarkable URL of the list (or its export): only the filters that narrow it."""
    params: dict[str, Any] = {k: v for k, v in filters.items() if v and not (k == "sort" and v == "newest")}
    if page > 1:
        params["page"] = page
    return f"{path}?{urlencode(params)}" if params else path


def _category_options() -> list[dict[str, Any]]:
    cat = catalog()
    return [{"code": m.code, "name": m.name,
             "minors": [{"code": c.code, "name": c.name} for c in cat.categories_of(m.code)]}
            for m in cat.majors()]


def _region_options(session: Session, actor: Actor, chosen: str) -> list[dict[str, Any]]:
    """The regions the actor reads events in, from each scope down to its villages."""
    out: list[dict[str, Any]] = []
    for prefix in scope_prefixes(actor, "event.read"):
        out.append({"code": prefix, "name": geo.get_region(session, code=prefix).name, "depth": 0})
        for level in ("town", "village"):
            length = BY_NAME[level].code_length
            if length <= len(prefix) or len(out) >= REGION_OPTIONS:
                continue
            found = geo.list_regions(session, level=level, q=prefix, size=REGION_OPTIONS)
            out += [{"code": r.code, "name": r.name, "depth": (length - len(prefix)) // 3}
                    for r in found.items if r.code.startswith(prefix)]
    out.sort(key=lambda r: r["code"])
    if chosen and all(r["code"] != chosen for r in out):
        out.append({"code": chosen, "name": f"区域 {chosen}", "depth": 0})
    return out[:REGION_OPTIONS + 1]


def _list_row(event: Event, names: export.Names, now: datetime) -> dict[str, Any]:
    cat = catalog().category(event.category_code) if event.category_code else None
    state = service.deadline_state(event, now)
    return {
        "code": event.code, "text": event.text, "status": event.status,
        "status_label": workflow().statuses[event.status],
        "category": cat.name if cat else "未分类", "major": catalog().major(cat.major).name if cat else "",
        "place": " · ".join(n for n in (names.region(event.town_code), names.region(event.village_code)) if n),
        "unit": names.unit(event.assigned_org_id), "deadline": state,
        "deadline_label": service.DEADLINE_STATES[state], "due": local(event.due_at),
        "created": local(event.created_at), "channel": CHANNELS.get(event.channel, event.channel),
        "urgent": event.urgency == "urgent",
    }


@router.get("/events", response_class=HTMLResponse)
def events_list(
    request: Request, session: DbSession, user: PageUser, filters: Filters,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    actor: Actor = request.state.actor
    require_somewhere(session, actor, "event.read")
    error: ShanzhiError | None = None
    try:
        rows, total = service.list_events(session, actor=actor, page=page, size=PAGE_SIZE,
                                          **{k: v or None for k, v in filters.items()})
    except ShanzhiError as exc:  # an unknown filter value from a hand-edited URL
        rows, total, error = [], 0, exc
    now = utcnow()
    names = export.Names.of(session, rows)
    pages = max(1, ceil(total / PAGE_SIZE))

    def link(to: int) -> str | None:
        return _url("/events", filters, to) if 1 <= to <= pages and to != page else None

    context = {
        "title": "事件",
        "rows": [_list_row(e, names, now) for e in rows],
        "total": total, "page": page, "pages": pages,
        "first_url": link(1), "prev_url": link(page - 1), "next_url": link(page + 1), "last_url": link(pages),
        "export_url": _url("/events/export", filters),
        "export_cap": export.EXPORT_CAP,
        "filters": filters,
        "statuses": workflow().statuses,
        "categories": _category_options(),
        "regions": _region_options(session, actor, filters["region"]),
        "channels": CHANNELS,
        "deadlines": service.DEADLINE_STATES,
        "orders": export.ORDER_LABELS,
        "error": error,
    }
    response = render(request, "events.html", context, user=user, status_code=error.status_code if error else 200)
    if request.headers.get("hx-request"):
        # htmx pushes this instead of the form's every field, blanks included: a clean bookmark.
        response.headers["HX-Push-Url"] = _url("/events", filters, page)
    return response


def _file_chunks(f: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := f.read(64 * 1024):
            yield chunk
    finally:
        f.close()


@router.get("/events/export")
def events_export(
    request: Request, session: DbSession, user: PageUser, filters: Filters,
) -> Response:
    actor: Actor = request.state.actor
    require_somewhere(session, actor, "event.read")
    # Spooled: small exports stay in memory, big ones go to a temporary file. It outlives this
    # function: the response streams it and closes it.
    out = tempfile.SpooledTemporaryFile(max_size=16 * 2**20)  # noqa: SIM115
    try:
        export.write_xlsx(session, out, actor=actor, **{k: v or None for k, v in filters.items()})
    except BaseException:
        out.close()
        raise
    out.seek(0)
    stamp = utcnow().astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    name = f"事件列表-{stamp}.xlsx"
    return StreamingResponse(
        _file_chunks(out),  # type: ignore[arg-type]
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=\"events-{stamp}.xlsx\"; "
                                        f"filename*=UTF-8''{quote(name)}",
                 "Cache-Control": "no-store"},
    )


# -- /events/{code} ----------------------------------------------------------------------------


def _facts(data: dict[str, Any], units: dict[int, str], unit_label: str) -> list[str]:
    """A timeline step's recorded data, in words."""
    tiers = {t.code: t.name for t in catalog().tiers}
    out = []
    if "unit_id" in data:
        out.append(f"处置单位：{units.get(data['unit_id'], data['unit_id'])}"
                   + ("（未采用建议单位）" if data.get("overridden") else ""))
    if data.get("to_tier"):
        out.append(f"上报至{tiers.get(data['to_tier'], data['to_tier'])}")
    elif data.get("tier"):
        out.append(f"处置层级：{tiers.get(data['tier'], data['tier'])}")
    if data.get("amount"):
        out.append(f"延期 {data['amount']:g} {unit_label}")
    if data.get("due_at"):
        out.append(f"时限至 {local(data['due_at'])}")
    if data.get("into"):
        out.append(f"并入 {data['into']}")
    if data.get("from"):
        out.append(f"来自主事件 {data['from']}")
    if data.get("rating"):
        out.append(f"评分 {data['rating']} 分")
    return out


def _step_view(step: actions.Step, form: dict[str, str] | None) -> dict[str, Any]:
    return {"name": step.name, "label": step.label, "caution": step.name in CAUTION_STEPS,
            "fields": [{"name": f, "label": INPUT_LABELS.get(f, f), "required": step.requires(f),
                        "value": (form or {}).get(f, "")} for f in step.inputs]}


def _suggestions(text: str) -> list[dict[str, Any]]:
    try:
        found = classify.suggest(text, k=3)
    except ShanzhiError:  # a text the classifier cannot read: no hints, the page still works
        return []
    return [{"code": s.code, "name": s.name, "percent": round(s.probability * 100), "uncertain": s.uncertain}
            for s in found]


def _patterns_area(actor: Actor, event: Event, chain: list[RegionRef]) -> dict[str, str] | None:
    """What the department patterns panel asks about, for those who dispatch this event: its
    category in its town, or in the narrower area the dispatcher holds (a village cadre's village)."""
    scopes = [len(p) for p in scope_prefixes(actor, "event.dispatch") if event.region_code.startswith(p)]
    if not event.category_code or not scopes:
        return None
    length = max(min(scopes), BY_NAME["town"].code_length)
    area = next((r for r in chain if len(r.code) == length), None)
    return {"region": area.code, "area": area.name, "category": event.category_code} if area else None


def _event_page(
    request: Request, session: Session, user: User, code: str, *, notice: str | None = None,
    error: ShanzhiError | None = None, error_step: str | None = None, form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    actor: Actor = request.state.actor
    event = service.get_event(session, actor=actor, code=code)  # 404 outside the actor's reach
    now = utcnow()
    view = service.event_dict(event, now=now)
    cat = catalog()
    category = cat.category(event.category_code) if event.category_code else None
    timeline = service.timeline(session, event)
    unit_ids = [event.assigned_org_id, event.proposed_org_id,
                *(s["data"].get(k) for s in timeline for k in ("unit_id", "proposed_org_id"))]
    units = export.unit_names(session, unit_ids)
    unit_label = TIME_UNITS.get(event.limit_unit or "", "")
    steps = actions.available_steps(session, actor, event)
    by_name = {s.name: s for s in steps}
    suggestions = _suggestions(event.text)
    takes_unit = any("unit" in s.inputs for s in steps)
    candidates = (duplicates.duplicates_of(session, actor=actor, code=code)
                  if event.status in OPEN_STATUSES else [])
    statuses = workflow().statuses
    chain = geo.region_chain(session, code=event.region_code)
    context = {
        "title": f"事件 {event.code}",
        "ev": view,
        "major": cat.major(category.major).name if category else None,
        "category": category,
        "deadline_label": service.DEADLINE_STATES[view["deadline_state"]],
        "tier": next((t.name for t in cat.tiers if t.code == event.tier), None),
        "channel": CHANNELS.get(event.channel, event.channel),
        "chain": chain,
        "assigned": units.get(event.assigned_org_id) if event.assigned_org_id else None,
        "proposed": units.get(event.proposed_org_id) if event.proposed_org_id else None,
        "times": {k: local(view[k]) for k in ("created_at", "accepted_at", "due_at", "closed_at")},
        "limit": f"{event.limit_amount:g} {unit_label}" if event.limit_amount else None,
        "pending_extension": f"{event.pending_extension:g} {unit_label}" if event.pending_extension else None,
        "photos": [{"kind": PHOTO_KINDS.get(p.kind, p.kind), "url": f"/api/v1/events/{quote(event.code)}/photos/{p.id}"}
                   for p in photos.list_photos(session, actor=actor, code=code)],
        "timeline": [{**s, "at": local(s["at"]), "to_label": statuses.get(s["to_status"], s["to_status"]),
                      "actor": s["actor"] or s["data"].get("actor") or ("居民" if s["action"] in RESIDENT_STEPS
                                                                        else "系统"),
                      "facts": _facts(s["data"], units, unit_label)} for s in timeline],
        "duplicates": [{**c.as_dict(), "status_label": statuses[c.event.status],
                        "percent": round(c.score * 100),
                        "distance": None if c.distance_m is None else round(c.distance_m)} for c in candidates],
        "may_merge": "merge" in by_name,
        "takes_category": any("category" in s.inputs for s in steps),
        "suggestions": suggestions,
        "steps": [_step_view(s, form if s.name == error_step else None) for s in steps],
        "version": event.version,
        # Units by where they sit (village, town, district), nearest first.
        "unit_groups": [(level, list(group)) for level, group in
                        groupby(actions.dispatch_units(session, event) if takes_unit else [], key=lambda u: u.level)],
        "proposed_org_id": event.proposed_org_id,
        "categories": _category_options(),
        "default_category": event.category_code or (suggestions[0]["code"] if suggestions else ""),
        "time_unit": unit_label or "天",
        "notice": notice, "error": error, "error_step": error_step,
        "config": {
            "code": event.code, "region": event.region_code,
            # Context around the event's region: its siblings, and its village's outline.
            "siblings": event.region_code[:-3] if len(event.region_code) > BY_NAME["district"].code_length else None,
            "outline": event.region_code[:BY_NAME["village"].code_length]
            if len(event.region_code) > BY_NAME["village"].code_length else None,
            "point": [event.lon, event.lat] if event.lon is not None and event.lat is not None else None,
            "units": _patterns_area(actor, event, chain),
        },
    }
    return render(request, "event.html", context, user=user, status_code=status_code)


@router.get("/events/{code}", response_class=HTMLResponse)
def event_page(request: Request, session: DbSession, user: PageUser, code: str,
               done: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    step = workflow().transitions.get(done)
    # Notices are chosen by the step's name, so nothing typed in a URL is echoed back.
    notice = f"已完成「{step.label}」。" if step else None
    return _event_page(request, session, user, code, notice=notice)


def _amount(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput("amount must be a number", "延期时长应为数字", code="invalid_amount") from None


@router.post("/events/{code}/steps/{name}")
def take_step(
    request: Request, session: DbSession, user: PageUser, code: str, name: str, csrf_token: Csrf = "",
    version: Short = "", reason: Text = "", result: Text = "", unit: Code = "", into: Code = "",
    amount: Short = "", category: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    check_csrf(request, session, csrf_token)
    actor: Actor = request.state.actor
    form = {"reason": reason, "result": result, "unit": unit, "into": into, "amount": amount, "category": category}
    inputs: dict[str, Any] = {k: v.strip() for k, v in form.items() if v.strip()}
    try:
        # A savepoint: a refused step leaves nothing half done, while the request still commits
        # the denials queued for the audit trail.
        with session.begin_nested():
            if "amount" in inputs:
                inputs["amount"] = _amount(inputs["amount"])
            service.transition(session, actor=actor, code=code, name=name,
                               version=int(version) if version.strip().isdigit() else None, **inputs)
    except ShanzhiError as exc:
        return _event_page(request, session, user, code, error=exc, error_step=name, form=form,
                           status_code=exc.status_code)
    return RedirectResponse(f"/events/{quote(code)}?{urlencode({'done': name})}", status_code=303)
