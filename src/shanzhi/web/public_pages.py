"""The residents' pages, no sign-in needed: report a problem (/report, also reached by a
village's QR code), follow it by its code and secret and rate the result (/track).

Anyone may post here, so every form also carries a quiet challenge (web/challenge.py) and each
client address has limits (web/throttle.py). A refused form comes back with its Chinese message
and status code, keeping what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from shanzhi.accounts.crypto import new_secret
from shanzhi.accounts.deps import PageUser, check_csrf
from shanzhi.errors import InvalidInput, NotFound, ShanzhiError
from shanzhi.events import intake, photos, service
from shanzhi.geo import service as geo
from shanzhi.http import DbSession
from shanzhi.web import challenge, throttle
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
from shanzhi.web.village_qr import village_png

router = APIRouter(include_in_schema=False)

Short = Annotated[str, Form(max_length=64)]

# Where a status sits on the four stages a resident understands (the current one is marked;
# a finished event has passed them all; a refused one stopped at acceptance).
STAGES = ("已上报", "已受理", "处置中", "已办结")
STAGE_OF = {"reported": 0, "accepted": 1, "dispatched": 1, "in_progress": 2, "resolved": 2, "verified": 2,
            "closed": 4, "merged": 4, "rejected": 1}


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


# -- /report -------------------------------------------------------------------------------------


def _village_groups(session: Session) -> list[dict[str, Any]]:
    """Villages under their towns; a town without villages (a street) is a choice itself."""
    towns = geo.list_regions(session, level="town", size=geo.MAX_PAGE_SIZE).items
    villages, page = [], 1
    while True:
        found = geo.list_regions(session, level="village", page=page, size=geo.MAX_PAGE_SIZE)
        villages += found.items
        if page * found.size >= found.total:
            break
        page += 1
    groups = []
    for town in towns:
        own = [{"code": v.code, "name": v.name} for v in villages if v.code.startswith(town.code)]
        groups.append({"label": town.name, "options": own or [{"code": town.code, "name": f"{town.name}（全镇）"}]})
    return groups


def _report_page(
    request: Request, session: Session, *, error: ShanzhiError | None = None, form: dict[str, str] | None = None,
    done: dict[str, Any] | None = None, status_code: int = 200,
) -> HTMLResponse:
    groups = _village_groups(session)
    form = dict(form or {})
    known = {o["code"]: o["name"] for g in groups for o in g["options"]}
    notice = None
    if form.get("preset") and form.get("village") not in known:
        # A QR code whose village is gone: the resident chooses.
        notice, form["village"] = "二维码中的村（社区）已不存在，请重新选择所在位置。", ""
    context = {
        "title": "随手拍 · 问题上报", "categories": category_groups(), "villages": groups, "crs_choices": CRS_CHOICES,
        "preset_name": known.get(form.get("village", "")) if form.get("preset") else None, "form": form,
        "error": error, "done": done, "notice": notice, "challenge": challenge.issue(),
        "challenge_field": challenge.FIELD, "honeypot": challenge.HONEYPOT, "key": new_secret(12),
    }
    response = render(request, "public_report.html", context, status_code=status_code)
    return no_store(response) if done else response


@router.get("/report", response_class=HTMLResponse, name="public_report")
def report_form(
    request: Request, session: DbSession, village: Annotated[str | None, Query(max_length=18)] = None,
) -> HTMLResponse:
    return _report_page(request, session, form={"village": village, "preset": "1"} if village else None)


@router.post("/report", response_class=HTMLResponse)
def submit_report(
    request: Request, session: DbSession, csrf_token: Csrf = "", text: Text = "", category: Code = "",
    village: Code = "", lon: Code = "", lat: Code = "", crs: Code = "wgs84", name: Short = "", phone: Code = "",
    key: Code = "", challenge_token: Annotated[str, Form(alias=challenge.FIELD, max_length=200)] = "",
    honeypot: Annotated[str, Form(alias=challenge.HONEYPOT, max_length=200)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    check_csrf(request, session, csrf_token)
    form = {"text": text, "category": category, "village": village, "lon": lon, "lat": lat, "crs": crs,
            "name": name, "phone": phone}

    def report() -> intake.Submitted:
        challenge.verify(challenge_token, honeypot)
        throttle.take(session, throttle.limit("report"), _address(request))
        x, y, system = parse_point(lon, lat, crs)
        if x is None and not village.strip():
            raise InvalidInput("No position and no village", "请获取当前位置，或选择所在村（社区）",
                               code="location_required")
        picture = read_photo(photo)
        done = intake.submit(session, actor=None, report=intake.Report(
            text=text, channel="resident", category=category or None, lon=x, lat=y, crs=system,
            region=None if x is not None else village.strip(), reporter_name=name.strip() or None,
            reporter_phone=phone.strip() or None, idempotency_key=f"r:{key}" if key else None,
        ))
        if picture is not None and done.created:
            photos.add_reporter_photo(session, code=done.event.code, secret=done.secret or "", data=picture)
        return done

    done, error = attempt(session, report)
    if error is not None:
        return _report_page(request, session, error=error, form=form, status_code=error.status_code)
    assert done is not None
    view = service.event_dict(done.event)
    shown = {"code": view["code"], "secret": done.secret, "status_label": view["status_label"],
             "category": view["category"]["name"] if view["category"] else None}
    return _report_page(request, session, done=shown)


# -- /track --------------------------------------------------------------------------------------


def _tracked_view(tracked: dict[str, Any]) -> dict[str, Any]:
    return {
        **tracked, "stage": STAGE_OF.get(tracked["status"], 0), "created": short_time(tracked["created_at"]),
        "closed": short_time(tracked["closed_at"]), "category_name": (tracked["category"] or {}).get("name"),
        "steps": [{**s, "when": short_time(s["at"])} for s in reversed(tracked["timeline"])],
    }


def _track_page(
    request: Request, *, code: str = "", tracked: dict[str, Any] | None = None, secret: str = "",
    error: ShanzhiError | None = None, notice: str | None = None, status_code: int = 200,
) -> HTMLResponse:
    context = {"title": "进度查询", "code": code, "secret": secret, "error": error, "notice": notice,
               "tracked": _tracked_view(tracked) if tracked else None, "stages": STAGES}
    return no_store(render(request, "public_track.html", context, status_code=status_code))


def _follow(session: Session, request: Request, call: Any) -> tuple[Any, ShanzhiError | None]:
    """Run a look-up by code and secret; a wrong pair counts against the address's limit."""
    address = _address(request)
    try:
        throttle.check(session, throttle.limit("track"), address)
    except ShanzhiError as exc:
        return None, exc
    result, error = attempt(session, call)
    if isinstance(error, NotFound):
        _, refused = attempt(session, lambda: throttle.take(session, throttle.limit("track"), address))
        error = refused or error
    return result, error


@router.get("/track", response_class=HTMLResponse)
def track_form(request: Request, code: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    return _track_page(request, code=code.strip().upper())


@router.post("/track", response_class=HTMLResponse)
def track(request: Request, session: DbSession, csrf_token: Csrf = "", code: Code = "", secret: Code = "") -> HTMLResponse:
    check_csrf(request, session, csrf_token)
    code, secret = code.strip().upper(), secret.strip()
    tracked, error = _follow(session, request, lambda: service.track(session, code=code, secret=secret))
    if error is not None:
        return _track_page(request, code=code, error=error, status_code=error.status_code)
    return _track_page(request, code=code, secret=secret, tracked=tracked)


@router.post("/track/rate", response_class=HTMLResponse)
def rate(
    request: Request, session: DbSession, csrf_token: Csrf = "", code: Code = "", secret: Code = "",
    rating: Annotated[str, Form(max_length=2)] = "", comment: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    check_csrf(request, session, csrf_token)
    code, secret = code.strip().upper(), secret.strip()

    def rate_and_read() -> dict[str, Any]:
        if not rating.isdigit():
            raise InvalidInput("Choose 1 to 5 stars", "请选择 1–5 星评分", code="invalid_rating")
        service.rate(session, code=code, secret=secret, rating=int(rating), comment=comment.strip() or None)
        return service.track(session, code=code, secret=secret)

    tracked, error = _follow(session, request, rate_and_read)
    if error is not None:
        # Still show where the event stands when only the rating was refused.
        current, _ = attempt(session, lambda: service.track(session, code=code, secret=secret))
        return _track_page(request, code=code, secret=secret if current else "", tracked=current, error=error,
                           status_code=error.status_code)
    return _track_page(request, code=code, secret=secret, tracked=tracked, notice="感谢您的评价！")


# -- village QR codes ----------------------------------------------------------------------------


def _village(session: Session, code: str) -> Any:
    region = geo.get_region(session, code=code) if code.isdigit() else None
    if region is None or region.level not in ("village", "town"):
        raise NotFound(f"No village {code}", f"村（社区）{code} 不存在", code="not_found")
    return region


def _report_url(request: Request, code: str) -> str:
    return f"{request.url_for('public_report')}?{urlencode({'village': code})}"


@router.get("/report/qr/{village_code}.png")
def village_qr_png(request: Request, session: DbSession, village_code: str) -> Response:
    region = _village(session, village_code)
    png = village_png(_report_url(request, region.code), caption=f"{region.name} · 扫码反映问题")
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/report/qr/{village_code}", response_class=HTMLResponse)
def village_qr_page(request: Request, session: DbSession, user: PageUser, village_code: str) -> HTMLResponse:
    region = _village(session, village_code)
    chain = geo.region_chain(session, code=region.code)
    context = {"title": f"{region.name}二维码", "region": region, "chain": " · ".join(r.name for r in chain),
               "url": _report_url(request, region.code)}
    return render(request, "public_qr.html", context, user=user)
