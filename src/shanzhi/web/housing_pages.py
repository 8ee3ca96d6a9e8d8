"""The grid workers' housing pages on the phone: find a building by address, by "near me" or from
the map (/m/housing); a building with its units and current tenancies, where a tenancy is
registered, renewed or ended, a tenant's full ID number and phone revealed (with a reason), an
inspection recorded with its photos, a finding re-inspected or turned into an event
(/m/housing/buildings/{id}).

Handlers parse the form, call the housing services and render; the services decide who may do
what, mask every personal field and audit every reveal. A refused form comes back with its
Chinese message next to the field and the service's status code, keeping what was typed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from shanzhi.accounts.authz import Actor, can, require_somewhere
from shanzhi.accounts.deps import PageUser, check_csrf
from shanzhi.accounts.models import User
from shanzhi.errors import Conflict, InvalidInput, ShanzhiError
from shanzhi.housing import inspections, people, registrations, service
from shanzhi.housing.dates import today_local
from shanzhi.housing.inspections import Answer
from shanzhi.housing.models import Finding, Inspection
from shanzhi.housing.people import PersonInput
from shanzhi.housing.policy import checklist, housing_policy
from shanzhi.housing.scope import (
    INSPECT,
    MANAGE,
    READ,
    REVEAL,
    building_target,
    get_building,
)
from shanzhi.http import DbSession
from shanzhi.web.render import attempt, render
from shanzhi.web.report_form import no_store, read_photo, short_time

router = APIRouter(include_in_schema=False)

LIST_SIZE = 30
NEAR_DEGREES = 0.004  # "near me": about 400 m each way around the phone's position
MAX_FIELD = 500  # no form field of these pages needs more (notes are checked by the services)

# What a redirect after a successful POST says; keyed, so no typed text is ever reflected.
NOTICES = {
    "registered": "居住登记已完成。",
    "renewed": "租住已续期，原登记保留在历史中。",
    "ended": "租住已注销，记录仍保留在历史中。",
    "inspected": "检查记录已保存。",
    "rechecked": "复查已记录：问题仍待整改。",
    "resolved": "复查合格，问题已整改销号。",
    "escalated": "已转为事件",
}
# Which form field a service's refusal belongs next to (by error code); others go atop the form.
FIELD_OF_ERROR = {
    "invalid_name": "name", "invalid_id_number": "id_number", "invalid_id_checksum": "id_number",
    "id_number_required": "id_number", "invalid_id_type": "id_type", "invalid_phone": "phone", "invalid_dates": "dates",
    "invalid_start_date": "dates", "invalid_end_date": "dates", "invalid_purposes": "purpose",
    "invalid_unit": "unit_id", "already_registered": "name", "reason_required": "reason",
}
REVEALED = "已显示完整信息，本次查看及原因已记入审计日志。"


def _actor(request: Request) -> Actor:
    return request.state.actor  # set by PageUser


async def posted(request: Request) -> dict[str, str]:
    """The posted form's text fields (the inspection form's fields are named by checklist item)."""
    form = await request.form()
    return {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}


Posted = Annotated[dict[str, str], Depends(posted)]


async def chosen_photos(request: Request) -> list[UploadFile]:
    """The files of the form's photo input; an input left empty still sends one nameless part."""
    form = await request.form()
    return [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]


Photos = Annotated[list[UploadFile], Depends(chosen_photos)]


def _date(raw: str, label: str, code: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{code}: not a date", f"{label}格式不正确，应为 年-月-日", code=code) from None


def _int(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() else None


def _done(building_id: int, notice: str, anchor: str = "", **extra: str) -> RedirectResponse:
    query = urlencode({"done": notice, **extra})
    return RedirectResponse(f"/m/housing/buildings/{building_id}?{query}{anchor}", status_code=303)


# -- /m/housing: find a building -----------------------------------------------------------------


def _near(raw: str) -> tuple[float, float, float, float]:
    try:
        lon, lat = (float(part) for part in raw.split(","))
    except ValueError:
        raise InvalidInput("near must be lon,lat", "定位坐标格式不正确，请重新定位", code="invalid_coordinates") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput("near is out of range", "定位坐标超出范围，请重新定位", code="invalid_coordinates")
    return lon - NEAR_DEGREES, lat - NEAR_DEGREES, lon + NEAR_DEGREES, lat + NEAR_DEGREES


@router.get("/m/housing", response_class=HTMLResponse)
def find(
    request: Request, session: DbSession, user: PageUser,
    q: Annotated[str, Query(max_length=100)] = "", near: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    actor = _actor(request)
    require_somewhere(session, actor, READ)
    query = q.strip()

    def search() -> tuple[list[dict[str, Any]], int]:
        bbox = _near(near) if near.strip() else None
        found, total = service.find_buildings(session, actor=actor, q=query or None, bbox=bbox, size=LIST_SIZE)
        return service.building_summaries(session, found), total

    result, error = attempt(session, search)
    buildings, total = result or ([], 0)
    mode = "near" if near.strip() else "text" if query else "all"
    context = {"title": "房屋查找", "q": query, "near": near, "mode": mode, "buildings": buildings,
               "total": total, "error": error}
    return render(request, "m_housing.html", context, user=user,
                  status_code=error.status_code if error else 200)


# -- /m/housing/buildings/{id}: units, tenancies, inspections ---------------------------------------


def _shown_forms(detail: dict[str, Any], may_manage: bool, may_inspect: bool) -> set[str]:
    """The keys (`error_for`) of the forms and cards the building page shows a refusal next to."""
    tenancies = [t for u in detail["units"] for t in u["tenancies"]]
    return ({"register"} if may_manage else set()) | ({"inspect"} if may_inspect else set()) \
        | {f"{kind}-{t['id']}" for t in tenancies for kind in ("end", "renew")} \
        | {f"reveal-{t['person']['id']}" for t in tenancies} \
        | {f"{kind}-{f['id']}" for f in detail["open_findings"] for kind in ("finding", "recheck")}


def _building_page(
    request: Request, session: Session, user: User, building_id: int, *, error: ShanzhiError | None = None,
    error_for: str = "", form: dict[str, str] | None = None, notice: str | None = None, status_code: int = 200,
    revealed: dict[str, Any] | None = None,
) -> HTMLResponse:
    actor = _actor(request)
    detail = service.building_detail(session, actor=actor, building_id=building_id)
    target = building_target(get_building(session, actor=actor, building_id=building_id))
    field = FIELD_OF_ERROR.get(error.code, "") if error is not None else ""
    policy, items = housing_policy(), checklist().items
    may_manage, may_inspect = can(actor, MANAGE, target), can(actor, INSPECT, target)
    # building_detail has checked the building may be read, so its inspections' photos may be too.
    photos = inspections.photos_of(session, [i["id"] for i in detail["inspections"]])
    if error_for not in _shown_forms(detail, may_manage, may_inspect):
        error_for = ""  # its form is gone (a tenancy just ended) or never shown (a forged post): atop the page
    context = {
        "title": "房屋详情", "b": detail, "notice": notice, "error": error, "error_for": error_for,
        "error_field": field, "form": form or {}, "may_manage": may_manage, "may_inspect": may_inspect,
        # Tenants live where their building stands, so the building's place decides the button;
        # the service checks the person itself on the POST.
        "may_reveal": can(actor, REVEAL, target), "revealed": revealed or {},
        "purposes": policy.purposes, "id_types": {k: t.label for k, t in policy.id_types.items()},
        "today": today_local().isoformat(), "max_photos": inspections.MAX_PHOTOS,
        "checklist": [{"key": i.key, "label": i.label, "hint": i.hint, "places": list(i.applies_to)} for i in items],
        "tenancies": sum(len(u["tenancies"]) for u in detail["units"]),
        "rented": sum(1 for u in detail["units"] if u["rental_status"] == "rented"),
        "inspections": [{**i, "at": short_time(i["inspected_at"]), "photos": photos[i["id"]]}
                        for i in detail["inspections"]],
    }
    response = render(request, "m_housing_building.html", context, user=user, status_code=status_code)
    return no_store(response) if form or revealed else response


def _refused(request: Request, session: Session, user: User, building_id: int, error: ShanzhiError,
             error_for: str, form: dict[str, str] | None = None) -> HTMLResponse:
    """The building page again, the service's message next to the form it refused."""
    return _building_page(request, session, user, building_id, error=error, error_for=error_for, form=form,
                          status_code=error.status_code)


@router.get("/m/housing/buildings/{building_id}", response_class=HTMLResponse)
def building(
    request: Request, session: DbSession, user: PageUser, building_id: int,
    done: Annotated[str, Query(max_length=16)] = "", code: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    notice = NOTICES.get(done)
    if done == "escalated" and code.replace("-", "").isalnum():
        notice = f"{notice} {code}，可在事件列表中跟踪办理。"
    return _building_page(request, session, user, building_id, notice=notice)


@router.post("/m/housing/buildings/{building_id}/tenancies")
def register(request: Request, session: DbSession, user: PageUser, building_id: int, form: Posted) -> Response:
    check_csrf(request, session, form.get("csrf_token"))
    actor = _actor(request)
    unit_id = _int(form.get("unit_id", ""))

    def act() -> None:
        if unit_id is None:
            raise InvalidInput("Choose a unit", "请选择房间", code="invalid_unit")
        start = _date(form.get("start_date", ""), "起始日期", "invalid_start_date")
        if start is None:
            raise InvalidInput("Give the start date", "请填写起始日期", code="invalid_start_date")
        registrations.register(
            session, actor=actor, unit_id=unit_id, start_date=start,
            end_date=_date(form.get("end_date", ""), "到期日期", "invalid_end_date"),
            purpose=form.get("purpose") or "work",
            person=PersonInput(name=form.get("name", ""), id_number=form.get("id_number", "").strip() or None,
                               id_type=form.get("id_type") or None,
                               phone=form.get("phone", "").strip() or None))

    _, error = attempt(session, act)
    if error is not None:
        kept = {k: form.get(k, "") for k in ("unit_id", "name", "id_type", "id_number", "phone", "start_date", "end_date",
                                             "purpose")}
        return _refused(request, session, user, building_id, error, "register", kept)
    return _done(building_id, "registered", f"#unit-{unit_id}")


@router.post("/m/housing/buildings/{building_id}/tenancies/{registration_id}/end")
def end_tenancy(request: Request, session: DbSession, user: PageUser, building_id: int, registration_id: int,
                form: Posted) -> Response:
    check_csrf(request, session, form.get("csrf_token"))
    actor = _actor(request)
    _, error = attempt(session, lambda: registrations.end_registration(
        session, actor=actor, registration_id=registration_id, reason=form.get("reason", ""),
        expected_version=_int(form.get("version", ""))))
    if error is not None:
        return _refused(request, session, user, building_id, error, f"end-{registration_id}",
                        {"reason": form.get("reason", "")})
    return _done(building_id, "ended")


@router.post("/m/housing/buildings/{building_id}/tenancies/{registration_id}/renew")
def renew(request: Request, session: DbSession, user: PageUser, building_id: int, registration_id: int,
          form: Posted) -> Response:
    check_csrf(request, session, form.get("csrf_token"))
    actor = _actor(request)
    renewed, error = attempt(session, lambda: registrations.renew_registration(
        session, actor=actor, registration_id=registration_id,
        end_date=_date(form.get("end_date", ""), "到期日期", "invalid_end_date"),
        expected_version=_int(form.get("version", ""))))
    if error is not None:
        return _refused(request, session, user, building_id, error, f"renew-{registration_id}",
                        {"end_date": form.get("end_date", "")})
    assert renewed is not None
    return _done(building_id, "renewed", f"#reg-{renewed.id}")


@router.get("/m/housing/buildings/{building_id}/people/{person_id}/reveal")
def after_reveal(building_id: int, person_id: int) -> RedirectResponse:
    """The revealed page stays at its POST's address; opened again, it is the building, masked."""
    return RedirectResponse(f"/m/housing/buildings/{building_id}", status_code=303)


@router.post("/m/housing/buildings/{building_id}/people/{person_id}/reveal")
def reveal(request: Request, session: DbSession, user: PageUser, building_id: int, person_id: int,
           form: Posted) -> Response:
    """The full values go into this response only: never a redirect (a URL), never cached."""
    check_csrf(request, session, form.get("csrf_token"))
    actor = _actor(request)
    fields = [f for f in people.REVEALABLE if form.get(f"show_{f}")]
    shown, error = attempt(session, lambda: people.reveal(session, actor=actor, person_id=person_id, fields=fields,
                                                          reason=form.get("reason", "")))
    if error is not None:
        return _refused(request, session, user, building_id, error, f"reveal-{person_id}",
                        {"reason": form.get("reason", "")})
    return _building_page(request, session, user, building_id, notice=REVEALED,
                          revealed={**(shown or {}), "person_id": person_id})


def _answers(form: dict[str, str], place: str) -> dict[str, Answer]:
    """The checklist as answered: 合格 / 不合格 per item that applies to the place; 未查 is left out."""
    answers = {}
    for item in checklist().for_place("unit" if place else "building"):
        verdict = form.get(f"item_{item.key}", "")
        if verdict in ("ok", "fail"):
            answers[item.key] = Answer(verdict == "ok", form.get(f"note_{item.key}", "").strip() or None)
    return answers


def _record(session: Session, actor: Actor, building_id: int, photos: list[UploadFile],
            **inspection: Any) -> tuple[Inspection, list[Finding], list[Finding]]:
    """An inspection and its photos as one: run inside `attempt`, a refused photo undoes the
    inspection too. The refusal names the photo, so the worker knows which one to retake."""
    recorded = inspections.record_inspection(session, actor=actor, building_id=building_id, **inspection)
    for n, upload in enumerate(photos, 1):
        data = read_photo(upload)  # type: ignore[arg-type]  # reads only .filename and .file
        if data is None:
            continue
        try:
            inspections.add_photo(session, actor=actor, inspection_id=recorded[0].id, data=data)
        except ShanzhiError as exc:
            raise type(exc)(exc.message, f"第 {n} 张照片：{exc.message_zh}", code=exc.code) from None
    return recorded


def _kept(form: dict[str, str], photos: list[UploadFile]) -> dict[str, str]:
    """What was typed, and whether photos were chosen (a file input cannot be refilled)."""
    return {**form, "photos_lost": "1" if photos else ""}


@router.post("/m/housing/buildings/{building_id}/inspections")
def inspect(request: Request, session: DbSession, user: PageUser, building_id: int, form: Posted,
            photos: Photos) -> Response:
    check_csrf(request, session, form.get("csrf_token"))
    actor = _actor(request)
    place = form.get("unit_id", "").strip()

    def act() -> None:
        if place and _int(place) is None:
            raise InvalidInput("Unknown unit", "请选择检查对象", code="invalid_unit")
        _record(session, actor, building_id, photos, unit_id=_int(place), answers=_answers(form, place),
                notes=form.get("notes", "").strip() or None)

    _, error = attempt(session, act)
    if error is not None:
        return _refused(request, session, user, building_id, error, "inspect", _kept(form, photos))
    return _done(building_id, "inspected", "#findings")


@router.post("/m/housing/buildings/{building_id}/findings/{finding_id}/recheck")
def recheck(request: Request, session: DbSession, user: PageUser, building_id: int, finding_id: int,
            form: Posted, photos: Photos) -> Response:
    """Re-inspect one open finding: its item, at its place, as a re-inspection of the inspection
    that found it. Passing resolves the finding; failing keeps it (the service never duplicates)."""
    check_csrf(request, session, form.get("csrf_token"))
    actor = _actor(request)
    verdict = form.get("verdict", "")

    def act() -> bool:
        found = inspections.list_findings(session, actor=actor, building_id=building_id)
        finding = next((f for f in found if f.id == finding_id), None)
        if finding is None:
            raise Conflict("This finding is no longer open", "该问题已整改或不在待整改列表中，请刷新页面",
                           code="resolved")
        if verdict not in ("ok", "fail"):
            raise InvalidInput("Choose the re-inspection result", "请选择复查结果", code="invalid_verdict")
        _, _, resolved = _record(session, actor, building_id, photos, unit_id=finding.unit_id,
                                 answers={finding.item: Answer(verdict == "ok", form.get("note", "").strip() or None)},
                                 reinspection_of=finding.inspection_id)
        return finding in resolved

    resolved, error = attempt(session, act)
    if error is not None:
        return _refused(request, session, user, building_id, error, f"recheck-{finding_id}", _kept(form, photos))
    return _done(building_id, "resolved" if resolved else "rechecked", "#findings")


@router.post("/m/housing/buildings/{building_id}/findings/{finding_id}/event")
def escalate(request: Request, session: DbSession, user: PageUser, building_id: int, finding_id: int,
             form: Posted) -> Response:
    check_csrf(request, session, form.get("csrf_token"))
    actor = _actor(request)
    event, error = attempt(session, lambda: inspections.escalate_finding(session, actor=actor, finding_id=finding_id))
    if error is not None:
        return _refused(request, session, user, building_id, error, f"finding-{finding_id}")
    assert event is not None
    return _done(building_id, "escalated", "#findings", code=event.code)
