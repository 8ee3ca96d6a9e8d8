"""Intake: every channel's report becomes an event the same way.

Validated, located (a point in any CRS, or a region code), checked against the reporter's
reach, given a readable code and a tracking secret, and written with its first timeline step.
A client-supplied idempotency key makes a retried submission return the first event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.accounts.crypto import encrypt_text
from shanzhi.db import utcnow
from shanzhi.detect import on_intake
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.events.catalog import catalog
from shanzhi.events.codes import new_secret, next_code, secret_hash
from shanzhi.events.models import Event
from shanzhi.events.service import record_step
from shanzhi.geo import service as geo
from shanzhi.geo.index import RegionRef
from shanzhi.geo.levels import BY_NAME

CHANNELS = {
    "resident": "居民上报", "grid_worker": "网格巡查", "hotline": "12345热线", "department": "部门转办",
    "api": "接口", "open311": "Open311", "import": "批量导入",
}
URGENCIES = ("normal", "urgent")
MIN_TEXT, MAX_TEXT = 5, 2000


@dataclass(frozen=True)
class Report:
    text: str
    channel: str
    category: str | None = None
    urgency: str = "normal"
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    region: str | None = None
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    idempotency_key: str | None = None

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Submitted:
    event: Event
    secret: str | None  # only for a new event: shown once to the reporter
    created: bool


def _validate(report: Report) -> None:
    if not isinstance(report.text, str) or not MIN_TEXT <= len(report.text.strip()) <= MAX_TEXT:
        raise InvalidInput(f"Describe the problem in {MIN_TEXT}–{MAX_TEXT} characters",
                           f"请用 {MIN_TEXT}–{MAX_TEXT} 个字描述问题", code="invalid_text")
    if report.channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel {report.channel!r}", f"未知来源渠道 {report.channel!r}",
                           code="unknown_channel")
    if report.urgency not in URGENCIES:
        raise InvalidInput("urgency must be normal or urgent", "紧急程度应为 normal 或 urgent", code="invalid_urgency")
    if report.category is not None:
        catalog().category(report.category)  # raises unknown_category
    if (report.lon is None) != (report.lat is None):
        raise InvalidInput("Give both lon and lat", "经度和纬度须同时提供", code="invalid_coordinates")
    if report.lon is None and not report.region:
        raise InvalidInput("Give a location: lon/lat or a region code", "请提供位置：经纬度或区域编码",
                           code="location_required")
    for label, value, limit in (("address", report.address, 200), ("reporter_name", report.reporter_name, 64),
                                ("reporter_phone", report.reporter_phone, 20),
                                ("idempotency_key", report.idempotency_key, 80)):
        if value is not None and len(value) > limit:
            raise InvalidInput(f"{label} is too long (max {limit})", f"{label} 过长（最多 {limit} 字符）",
                               code="too_long")


def _locate(session: Session, report: Report) -> tuple[float | None, float | None, list[RegionRef]]:
    """The WGS84 point (if any) and the region chain, district first."""
    if report.lon is not None and report.lat is not None:
        try:
            found = geo.locate(session, lon=report.lon, lat=report.lat, crs=report.crs)
        except NotFound as exc:
            raise InvalidInput(exc.message, exc.message_zh, code="outside_jurisdiction") from None
        return found.lon, found.lat, list(found.chain)
    chain = geo.region_chain(session, code=str(report.region))
    if not chain or chain[-1].code != report.region:
        geo.get_region(session, code=str(report.region))  # raises the usual 404
    return None, None, chain


def submit(session: Session, *, actor: Actor | None, report: Report) -> Submitted:
    """Create the event (or return the one a retried key made). `actor=None`: an anonymous resident."""
    _validate(report)
    if report.idempotency_key:
        earlier = session.scalar(select(Event).where(Event.idempotency_key == report.idempotency_key))
        if earlier is not None:
            if earlier.request_hash != report.digest():
                raise Conflict("This idempotency key was used for a different report",
                               "该幂等键已用于另一份不同的上报", code="idempotency_mismatch")
            return Submitted(earlier, None, False)
    lon, lat, chain = _locate(session, report)
    region_code = chain[-1].code
    if actor is None:
        if report.channel != "resident":
            raise InvalidInput("Anonymous reports come from the resident channel", "匿名上报只能来自居民渠道",
                               code="unknown_channel")
    else:
        authorize(session, actor, "event.report", Target("event", None, (region_code,), label="区域"))
    now = utcnow()
    town = region_code[: BY_NAME["town"].code_length] if len(region_code) >= BY_NAME["town"].code_length else None
    names = {r.code: r.name for r in chain}
    code = next_code(session, district=(region_code[:6], names[region_code[:6]]),
                     town=(town, names[town]) if town else None, at=now)
    secret = new_secret()
    category, source, suggested = report.category, "chosen" if report.category else "unknown", []
    if category is None:
        category, suggested = on_intake.suggest_category(report.text)
        source = "suggested" if category else "unknown"
    event = Event(
        code=code, tracking_hash=secret_hash(code, secret), text=report.text.strip(),
        category_code=category, category_source=source,
        urgency=report.urgency, channel=report.channel, lon=lon, lat=lat, address=report.address,
        region_code=region_code, town_code=town,
        village_code=region_code[:12] if len(region_code) >= 12 else None,
        reporter_id=actor.user_id if actor else None, reporter_name=report.reporter_name,
        reporter_phone_encrypted=encrypt_text(report.reporter_phone) if report.reporter_phone else None,
        status="reported", idempotency_key=report.idempotency_key,
        request_hash=report.digest() if report.idempotency_key else None, created_at=now,
    )
    session.add(event)
    session.flush()
    record_step(session, event, actor=actor, action="report", before=None,
                data={"channel": report.channel, "category": category, **({"suggested": suggested} if suggested else {})},
                at=now)
    on_intake.after_intake(session, event)
    return Submitted(event, secret, True)
