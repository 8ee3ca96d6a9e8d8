"""Open311 GeoReport v2 at /open311/v2/, so existing Open311 clients and FixMyStreet work unchanged.

Every endpoint answers in the format its suffix names (`.json` or `.xml`), errors included: an
Open311 client reads `[{"code", "description"}]` or `<errors><error>…`, never shanzhi's own error
form, so this router catches domain errors itself and rolls the request's work back.

Who sees what:
- POST requests needs an `api_key`: a shanzhi personal API token. The event is reported by the
  token's user through intake, channel "open311", so the user's reach and the token's region
  decide where the key may report.
- GET requests / servicerequestupdates / tokens without a key answer the public list of the
  jurisdiction, as Open311 servers (and FixMyStreet) do: the public fields only. Reporter names,
  phones and e-mails are never in any answer; e-mail, device_id and account_id are not stored.
- With a key the same public fields are narrowed to the key's reach (`reach_filter` for
  `event.read`): a FixMyStreet body configured with a town's key fetches that town's requests
  and updates. A key never widens what is shown.
- Only public timeline steps become updates or status notes; the report step itself is the
  request, not an update of it.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts import tokens
from shanzhi.accounts.authz import Actor
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import Forbidden, InvalidInput, NotFound, ShanzhiError
from shanzhi.events import intake
from shanzhi.events.catalog import TIME_UNITS, Category, catalog
from shanzhi.events.models import FINAL_STATUSES, Event, EventStep
from shanzhi.events.policy import workflow
from shanzhi.events.service import reach_filter
from shanzhi.geo.models import Region
from shanzhi.http import DbSession
from shanzhi.orgs.models import Organization

router = APIRouter(prefix="/open311/v2", include_in_schema=True, tags=["open311"])

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-01T00:00:00+08:00"  # bump when this endpoint's behaviour changes
FORMATS = {"json": "application/json", "xml": "text/xml"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_WINDOW = timedelta(days=90)  # the spec's limit on a start_date–end_date range, and the default
MAX_RESULTS = 1000  # per answer, newest requests (oldest updates) first
MEDIA_NOTE = "附图链接："  # how a media_url is kept in the event's text (a line of its own)
MAX_MEDIA_URL = 500

# shanzhi's statuses as FixMyStreet's update statuses (Open311::GetServiceRequestUpdates).
UPDATE_STATUS = {
    "reported": "OPEN", "accepted": "OPEN", "dispatched": "ACTION_SCHEDULED", "in_progress": "IN_PROGRESS",
    "resolved": "FIXED", "verified": "FIXED", "closed": "CLOSED", "merged": "DUPLICATE",
    "rejected": "NOT_COUNCILS_RESPONSIBILITY",
}


class Open311Error(Exception):
    """An answer in the Open311 error form: the HTTP status is also the error's code."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Doc:
    """An answer: a top-level JSON array (or object) and its XML root with one element per item."""

    root: str
    body: list[dict[str, Any]] | dict[str, Any]
    item: str | None = None
    status: int = 200


# -- rendering ---------------------------------------------------------------------------------

# XML names of the items of a list field (the JSON keeps the list).
_LIST_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        child = ET.SubElement(element, key)
        if isinstance(value, dict):
            _fill(child, value)
        elif isinstance(value, list):
            for item in value:
                sub = ET.SubElement(child, _LIST_ITEMS.get(key, "item"))
                if isinstance(item, dict):
                    _fill(sub, item)
                else:
                    sub.text = _text(item)
        else:
            child.text = _text(value)


def render(doc: Doc, fmt: str) -> Response:
    if fmt == "json":
        content = json.dumps(doc.body, ensure_ascii=False).encode()
        return Response(content, status_code=doc.status, media_type=FORMATS["json"])
    root = ET.Element(doc.root)
    if isinstance(doc.body, dict):
        _fill(root, doc.body)
    else:
        for item in doc.body:
            _fill(ET.SubElement(root, doc.item or "item"), item)
    # ElementTree escapes text; Starlette adds "; charset=utf-8" to the text/xml type.
    content = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(content, status_code=doc.status, media_type=FORMATS["xml"])


def error_doc(status: int, description: str) -> Doc:
    return Doc("errors", [{"code": status, "description": description}], item="error", status=status)


def _status_of(exc: ShanzhiError) -> int:
    # Open311 knows 400 (bad input), 403 (api_key) and 404; keep others (409, 429) as they are.
    return {422: 400, 401: 403}.get(exc.status_code, exc.status_code)


def answer(session: Session, fmt: str, work: Callable[[], Doc]) -> Response:
    """Run `work` and render its answer; any error is an Open311 error and writes nothing."""
    if fmt not in FORMATS:
        return render(error_doc(404, f"unknown format {fmt!r}: use .json or .xml"), "json")
    try:
        return render(work(), fmt)
    except Open311Error as exc:
        session.rollback()  # audit rows queued with record_durably are still written after it
        return render(error_doc(exc.status, exc.description), fmt)
    except ShanzhiError as exc:
        session.rollback()
        return render(error_doc(_status_of(exc), str(exc)), fmt)


# -- parameters --------------------------------------------------------------------------------


def jurisdiction(session: Session, jurisdiction_id: str | None) -> str | None:
    """The district code a request names (None: every district this server holds)."""
    if not jurisdiction_id:
        return None
    code = session.scalar(select(Region.code).where(Region.code == jurisdiction_id.strip(),
                                                    Region.level == "district"))
    if code is None:
        raise Open311Error(404, f"未知的 jurisdiction_id：{jurisdiction_id} (unknown jurisdiction_id)")
    return code


def key_actor(session: Session, api_key: str | None, *, required: bool, path: str) -> Actor | None:
    """The actor an api_key stands for; 403 when it is missing (and required) or not valid."""
    if not api_key or not api_key.strip():
        if required:
            raise Open311Error(403, "缺少 api_key (api_key is required)")
        return None
    actor = tokens.actor_for_token(session, raw=api_key.strip())
    if actor is None:
        audit.record_durably(session, action="auth.token", outcome="denied",
                             detail={"reason": "invalid_token", "path": path})
        raise Open311Error(403, "api_key 无效、已过期或已撤销 (invalid, expired or revoked api_key)")
    return actor


def reader(session: Session, request: Request, api_key: str | None,
           jurisdiction_id: str | None) -> tuple[Actor | None, str | None]:
    """Who reads (None: the public) and in which district."""
    actor = key_actor(session, api_key, required=False, path=request.url.path)
    return actor, jurisdiction(session, jurisdiction_id)


def _when(value: str, name: str) -> datetime:
    raw = value.strip()
    if "T" in raw:
        raw = raw.replace(" ", "+")  # an unencoded "+08:00" arrives as " 08:00"
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise Open311Error(400, f"{name} 应为 ISO 8601 时间 ({name} must be an ISO 8601 datetime)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=SHANGHAI)  # local time of the jurisdiction
    return at.astimezone(UTC)


def window(start_date: str | None, end_date: str | None) -> tuple[datetime, datetime]:
    """The spec's date range: at most 90 days; without dates, the last 90 days."""
    start = _when(start_date, "start_date") if start_date else None
    end = _when(end_date, "end_date") if end_date else None
    if start is None:
        end = end or utcnow()
        start = end - MAX_WINDOW
    elif end is None:
        end = start + MAX_WINDOW
    if start > end:
        raise Open311Error(400, "start_date 晚于 end_date (start_date is after end_date)")
    if end - start > MAX_WINDOW:
        raise Open311Error(400, "日期范围不能超过 90 天 (the date range may not span more than 90 days)")
    return start, end


def _comma_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def iso(at: datetime | None) -> str | None:
    return as_utc(at).astimezone(SHANGHAI).isoformat(timespec="seconds") if at else None


# -- reads -------------------------------------------------------------------------------------


def _visible(stmt: Any, *, actor: Actor | None, district: str | None) -> Any:
    if actor is not None:
        stmt = stmt.where(reach_filter(actor, "event.read"))
    else:
        # The public sees no dispute, security or population reports (catalog: public = false).
        hidden = [m.code for m in catalog().majors() if not m.public]
        if hidden:
            stmt = stmt.where(or_(Event.category_code.is_(None),
                                  ~or_(*(Event.category_code.startswith(m) for m in hidden))))
    if district:
        stmt = stmt.where(Event.region_code.startswith(district, autoescape=True))
    return stmt


def split_media(text: str) -> tuple[str, list[str]]:
    """The description as reported and the media URLs kept as note lines after it."""
    lines = text.split("\n")
    urls: list[str] = []
    while lines and lines[-1].startswith(MEDIA_NOTE):
        urls.insert(0, lines.pop()[len(MEDIA_NOTE):].strip())
    return "\n".join(lines).rstrip("\n"), urls


def service_notice(category: Category | None) -> str | None:
    if category is None:
        return None
    limit = category.time_limit
    return f"受理后 {limit.amount} {TIME_UNITS[limit.unit]}内处置"


def request_dicts(session: Session, events: list[Event]) -> list[dict[str, Any]]:
    """The public Open311 fields of events (no reporter data, ever)."""
    ids = [e.id for e in events]
    notes: dict[int, str] = {}
    if ids:
        rows = session.execute(
            select(EventStep.event_id, EventStep.note)
            .where(EventStep.event_id.in_(ids), EventStep.public.is_(True), EventStep.note.is_not(None))
            .order_by(EventStep.id)
        ).all()
        notes = {event_id: note for event_id, note in rows}  # the latest wins
    org_ids = {e.assigned_org_id for e in events if e.assigned_org_id is not None}
    orgs = dict(session.execute(select(Organization.id, Organization.name)
                                .where(Organization.id.in_(org_ids))).all()) if org_ids else {}
    cat = catalog()
    out = []
    for e in events:
        category = cat.category(e.category_code) if e.category_code else None
        description, media = split_media(e.text)
        out.append({
            "service_request_id": e.code,
            "status": "closed" if e.status in FINAL_STATUSES else "open",
            "status_notes": notes.get(e.id),
            "service_name": category.name if category else None,
            "service_code": e.category_code,
            "description": description,
            "agency_responsible": orgs.get(e.assigned_org_id) if e.assigned_org_id else None,
            "service_notice": service_notice(category),
            "requested_datetime": iso(e.created_at),
            "updated_datetime": iso(e.updated_at),
            "expected_datetime": iso(e.due_at),
            "address": e.address,
            "address_id": None,
            "zipcode": None,
            "lat": e.lat,
            "long": e.lon,
            "media_url": media[0] if media else None,
        })
    return out


def find_requests(
    session: Session, *, actor: Actor | None, district: str | None, ids: list[str], service_codes: list[str],
    start: datetime, end: datetime, statuses: list[str],
) -> list[Event]:
    stmt = _visible(select(Event), actor=actor, district=district)
    if ids:
        # The spec: service_request_id overrides every other argument.
        stmt = stmt.where(Event.code.in_(ids))
    else:
        stmt = stmt.where(Event.created_at >= start, Event.created_at <= end)
        if service_codes:
            stmt = stmt.where(Event.category_code.in_(service_codes))
        if statuses == ["open"]:
            stmt = stmt.where(Event.status.not_in(FINAL_STATUSES))
        elif statuses == ["closed"]:
            stmt = stmt.where(Event.status.in_(FINAL_STATUSES))
    stmt = stmt.order_by(Event.created_at.desc(), Event.id.desc()).limit(MAX_RESULTS)
    return list(session.scalars(stmt).all())


def one_request(session: Session, *, actor: Actor | None, district: str | None, code: str) -> Event:
    event = session.scalar(_visible(select(Event), actor=actor, district=district).where(Event.code == code))
    if event is None:
        raise Open311Error(404, f"没有编号为 {code} 的诉求 (service request {code} not found)")
    return event


def find_updates(
    session: Session, *, actor: Actor | None, district: str | None, start: datetime, end: datetime,
) -> list[dict[str, Any]]:
    stmt = _visible(
        select(EventStep, Event.code).join(Event, Event.id == EventStep.event_id)
        .where(EventStep.public.is_(True), EventStep.action != "report",
               EventStep.at >= start, EventStep.at <= end),
        actor=actor, district=district,
    ).order_by(EventStep.at, EventStep.id).limit(MAX_RESULTS)
    labels = {name: t.label for name, t in workflow().transitions.items()} | {"rate": "评价"}
    out = []
    for step, code in session.execute(stmt).all():
        out.append({
            "update_id": str(step.id),
            "service_request_id": code,
            "status": UPDATE_STATUS.get(step.to_status, "OPEN"),
            "external_status_code": step.to_status,
            "updated_datetime": iso(step.at),
            "description": step.note or labels.get(step.action, step.action),
            "media_url": None,
        })
    return out


# -- creating a request ------------------------------------------------------------------------


def _float(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{name} 应为数字 ({name} must be a number)") from None
    if not math.isfinite(number):
        raise Open311Error(400, f"{name} 应为数字 ({name} must be a number)")
    return number


def _reporter_name(first: str, last: str) -> str | None:
    if re.search(r"[\u4e00-\u9fff]", first + last):
        return (last + first).strip() or None  # Chinese names: family name first, no space
    return " ".join(p for p in (first, last) if p) or None


def _media_urls(values: Iterable[str]) -> list[str]:
    urls = [v.strip() for v in values if v and v.strip()]
    for url in urls:
        if not re.fullmatch(r"https?://\S+", url) or len(url) > MAX_MEDIA_URL:
            raise Open311Error(400, f"media_url 应为 http(s) 链接，最长 {MAX_MEDIA_URL} 字符 "
                                    f"(media_url must be an http(s) URL of at most {MAX_MEDIA_URL} characters)")
    return urls


def _fallback_region(session: Session, actor: Actor, district: str | None) -> str:
    """Where an address-only request is placed: the narrower of the key's region and the
    jurisdiction (a dispatcher places it precisely later)."""
    candidates = [c for c in (actor.token_scope, district) if c]
    if not candidates:
        districts = session.scalars(select(Region.code).where(Region.level == "district")).all()
        if len(districts) != 1:
            raise Open311Error(400, "请提供 lat/long 或 jurisdiction_id (give lat/long or a jurisdiction_id)")
        candidates = list(districts)
    narrow = max(candidates, key=len)
    if not all(narrow.startswith(c) for c in candidates):
        raise Open311Error(403, "该 api_key 无权在此辖区上报 (this api_key may not report in this jurisdiction)")
    return narrow


def create_request(session: Session, *, fields: dict[str, str], media: list[str], path: str) -> Doc:
    actor = key_actor(session, fields.get("api_key"), required=True, path=path)
    if actor is None:  # key_actor raised already; this narrows the type
        raise Open311Error(403, "缺少 api_key (api_key is required)")
    district = jurisdiction(session, fields.get("jurisdiction_id"))
    service_code = (fields.get("service_code") or "").strip()
    if not service_code:
        raise Open311Error(400, "缺少 service_code (service_code is required)")
    category = catalog().category(service_code)  # unknown: InvalidInput → 400
    lat, lon = _float(fields.get("lat"), "lat"), _float(fields.get("long"), "long")
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat 和 long 须同时提供 (give both lat and long)")
    address = (fields.get("address_string") or "").strip() or None
    if lat is None and not address:
        raise Open311Error(400, "请提供 lat/long 或 address_string (give lat/long or an address_string)")
    description = (fields.get("description") or "").strip()
    if not description:
        raise Open311Error(400, "缺少 description (description is required)")
    text = "\n".join([description, *(MEDIA_NOTE + url for url in _media_urls(media))])
    report = intake.Report(
        channel="open311", text=text, category=category.code, lon=lon, lat=lat,
        region=_fallback_region(session, actor, district) if lat is None else None, address=address,
        reporter_name=_reporter_name((fields.get("first_name") or "").strip(), (fields.get("last_name") or "").strip()),
        reporter_phone=(fields.get("phone") or "").strip() or None,
    )
    try:
        event = intake.submit(session, actor=actor, report=report).event
    except (NotFound, Forbidden):
        raise Open311Error(403, "该 api_key 无权在此位置上报 (this api_key may not report at this location)") from None
    if district and not event.region_code.startswith(district):
        raise InvalidInput(f"The location lies outside jurisdiction {district}",
                           f"该位置不在辖区 {district} 内", code="outside_jurisdiction")
    notice = f"已收到，诉求编号 {event.code}；{service_notice(category)}"
    return Doc("service_requests", [{"service_request_id": event.code, "service_notice": notice,
                                     "account_id": None}], item="request")


# -- endpoints ---------------------------------------------------------------------------------

Jurisdiction = Annotated[str | None, Query(description="区划代码，如 330203 (the district code)")]
ApiKey = Annotated[str | None, Query(description="shanzhi 个人 API 令牌 (a personal API token)")]


async def form_fields(request: Request) -> tuple[dict[str, str], list[str]]:
    """Every posted field (FixMyStreet adds `attribute[…]` ones, which are ignored) and the media URLs."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    media = [v for v in form.getlist("media_url") if isinstance(v, str)]
    return fields, media


@router.get("/discovery.{fmt}", summary="服务发现 Discovery")
def discovery(request: Request, fmt: str) -> Response:
    if fmt not in FORMATS:
        return render(error_doc(404, f"unknown format {fmt!r}: use .json or .xml"), "json")
    url = str(request.base_url).rstrip("/") + router.prefix
    body = {
        "changeset": CHANGESET,
        "contact": "请联系区社会治理指挥中心 (the district command center)",
        "key_service": "登录后在「我的账户 › 接口令牌」创建个人 API 令牌，作为 api_key 使用 "
                       "(create a personal API token under /account and send it as api_key)",
        "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }
    return render(Doc("discovery", body), fmt)


@router.get("/services.{fmt}", summary="服务（事件小类）列表 Service list")
def services(session: DbSession, fmt: str, jurisdiction_id: Jurisdiction = None) -> Response:
    def work() -> Doc:
        jurisdiction(session, jurisdiction_id)
        cat = catalog()
        majors = {m.code: m.name for m in cat.majors()}
        items = [{"service_code": c.code, "service_name": c.name, "description": c.accept_standard,
                  "metadata": False, "type": "realtime", "keywords": ",".join(c.keywords),
                  "group": majors[c.major]} for c in cat.categories]
        return Doc("services", items, item="service")

    return answer(session, fmt, work)


@router.get("/services/{service_code}.{fmt}", summary="服务定义 Service definition")
def service_definition(session: DbSession, service_code: str, fmt: str,
                       jurisdiction_id: Jurisdiction = None) -> Response:
    def work() -> Doc:
        jurisdiction(session, jurisdiction_id)
        try:
            category = catalog().category(service_code)
        except InvalidInput:
            raise Open311Error(404, f"未知的 service_code：{service_code} (unknown service_code)") from None
        return Doc("service_definition", {"service_code": category.code, "attributes": []})

    return answer(session, fmt, work)


@router.post("/requests.{fmt}", summary="提交诉求 Create a service request (api_key required)")
def post_request(
    request: Request, session: DbSession, fmt: str,
    form: Annotated[tuple[dict[str, str], list[str]], Depends(form_fields)],
) -> Response:
    fields, media = form
    return answer(session, fmt, lambda: create_request(session, fields=fields, media=media, path=request.url.path))


@router.get("/requests.{fmt}", summary="诉求列表 Service requests (public fields)")
def get_requests(
    request: Request, session: DbSession, fmt: str, jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
    service_request_id: str | None = None, service_code: str | None = None,
    start_date: str | None = None, end_date: str | None = None, status: str | None = None,
) -> Response:
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        statuses = sorted(set(_comma_list(status)))
        if any(s not in ("open", "closed") for s in statuses):
            raise Open311Error(400, "status 应为 open 或 closed (status must be open or closed)")
        start, end = window(start_date, end_date)
        events = find_requests(session, actor=actor, district=district, ids=_comma_list(service_request_id),
                               service_codes=_comma_list(service_code), start=start, end=end,
                               statuses=statuses)
        return Doc("service_requests", request_dicts(session, events), item="request")

    return answer(session, fmt, work)


@router.get("/requests/{service_request_id}.{fmt}", summary="单个诉求 One service request")
def get_request(
    request: Request, session: DbSession, service_request_id: str, fmt: str,
    jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
) -> Response:
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        event = one_request(session, actor=actor, district=district, code=service_request_id)
        return Doc("service_requests", request_dicts(session, [event]), item="request")

    return answer(session, fmt, work)


@router.get("/tokens/{token}.{fmt}", summary="凭 token 查询诉求编号 Request id from a token")
def get_token(
    request: Request, session: DbSession, token: str, fmt: str,
    jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
) -> Response:
    # Requests are created synchronously, so the token handed out is the request id itself.
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        event = one_request(session, actor=actor, district=district, code=token)
        return Doc("service_requests", [{"service_request_id": event.code, "token": token}], item="request")

    return answer(session, fmt, work)


@router.get("/servicerequestupdates.{fmt}", summary="诉求进展（FixMyStreet 扩展）Service request updates")
def get_updates(
    request: Request, session: DbSession, fmt: str, jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
    start_date: str | None = None, end_date: str | None = None,
) -> Response:
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        start, end = window(start_date, end_date)
        updates = find_updates(session, actor=actor, district=district, start=start, end=end)
        return Doc("service_request_updates", updates, item="request_update")

    return answer(session, fmt, work)
