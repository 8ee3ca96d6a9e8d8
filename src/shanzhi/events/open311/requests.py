"""Service requests: the public fields of events, their updates, and a request posted by a client."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.errors import Forbidden, InvalidInput, NotFound
from shanzhi.events import intake
from shanzhi.events.catalog import TIME_UNITS, Category, catalog
from shanzhi.events.models import FINAL_STATUSES, Event, EventStep
from shanzhi.events.open311.wire import Doc, Open311Error, iso, jurisdiction, key_actor
from shanzhi.events.policy import workflow
from shanzhi.events.service import reach_filter
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

MAX_RESULTS = 1000  # per answer, newest requests (oldest updates) first
MEDIA_NOTE = "附图链接："  # how a media_url is kept in the event's text (a line of its own)
MAX_MEDIA_URL = 500

# shanzhi's statuses as FixMyStreet's update statuses (Open311::GetServiceRequestUpdates).
UPDATE_STATUS = {
    "reported": "OPEN", "accepted": "OPEN", "dispatched": "ACTION_SCHEDULED", "in_progress": "IN_PROGRESS",
    "resolved": "FIXED", "verified": "FIXED", "closed": "CLOSED", "merged": "DUPLICATE",
    "rejected": "NOT_COUNCILS_RESPONSIBILITY",
}


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


