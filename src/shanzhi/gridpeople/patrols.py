"""Patrol and visit logs: who went where, when, and what they found.

Logs are append-only — there is no edit and no delete; each one is written with its audit row.
The one later change a log takes is its link to an event: a finding becomes an event in one step
(intake with channel "grid_worker", the grid person as the reporter), once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    require_somewhere,
    scope_prefixes,
)
from shanzhi.audit import service as audit
from shanzhi.db import SHANGHAI, as_utc, utcnow
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.events import intake
from shanzhi.events.catalog import catalog
from shanzhi.events.models import Event
from shanzhi.geo import service as geo
from shanzhi.geo.index import RegionRef
from shanzhi.geo.levels import BY_NAME
from shanzhi.geo.models import Region
from shanzhi.gridpeople import service as people
from shanzhi.gridpeople.models import GridAssignment, GridPerson, PatrolLog
from shanzhi.gridpeople.policy import gridpeople_policy

MIN_TEXT, MAX_TEXT = 2, 2000
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Finding:
    """What a patrol log says, before it is placed and written."""

    text: str
    kind: str = "patrol"
    person_id: int | None = None  # default: the grid person the signed-in account is
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    region: str | None = None
    at: datetime | None = None  # default now; a naive time is read as Asia/Shanghai
    category: str | None = None


def _validate(f: Finding, now: datetime) -> datetime:
    """Checks everything that needs no database; returns when it happened, in UTC."""
    rules = gridpeople_policy().patrols
    if f.kind not in rules.kinds:
        raise InvalidInput(f"Unknown kind {f.kind!r}; use one of {', '.join(rules.kinds)}",
                           f"未知的记录类型 {f.kind!r}，应为 {'、'.join(rules.kinds.values())}", code="unknown_kind")
    if not isinstance(f.text, str) or not MIN_TEXT <= len(f.text.strip()) <= MAX_TEXT:
        raise InvalidInput(f"Say what you found in {MIN_TEXT}–{MAX_TEXT} characters",
                           f"请用 {MIN_TEXT}–{MAX_TEXT} 个字记录巡查情况", code="invalid_text")
    if f.category is not None:
        catalog().category(f.category)  # raises unknown_category
    if (f.lon is None) != (f.lat is None):
        raise InvalidInput("Give both lon and lat", "经度和纬度须同时提供", code="invalid_coordinates")
    if f.lon is None and not f.region:
        raise InvalidInput("Give a location: lon/lat or a region code", "请提供位置：经纬度或区域编码",
                           code="location_required")
    at = now if f.at is None else as_utc(f.at if f.at.tzinfo else f.at.replace(tzinfo=SHANGHAI))
    assert at is not None
    if at > now + timedelta(minutes=rules.future_skew_minutes):
        raise InvalidInput("The patrol time lies in the future", "巡查时间不能晚于当前时间", code="invalid_time")
    if at < now - timedelta(days=rules.max_backdate_days):
        raise InvalidInput(f"Logs may be entered up to {rules.max_backdate_days} days late",
                           f"只能补录 {rules.max_backdate_days} 天内的巡查记录", code="invalid_time")
    return at


def _place(session: Session, f: Finding) -> tuple[float | None, float | None, list[RegionRef]]:
    """The WGS84 point (if given) and the region chain, district first."""
    if f.lon is not None and f.lat is not None:
        try:
            found = geo.locate(session, lon=f.lon, lat=f.lat, crs=f.crs)
        except NotFound as exc:
            raise InvalidInput(exc.message, exc.message_zh, code="outside_jurisdiction") from None
        return found.lon, found.lat, list(found.chain)
    region = geo.get_region(session, code=str(f.region))
    return None, None, geo.region_chain(session, code=region.code)


def _patroller(session: Session, actor: Actor, person_id: int | None) -> GridPerson:
    """Whose log it is: the actor's own grid person, or — for a manager typing up a volunteer's
    paper log — someone the actor manages."""
    own = people.linked_person(session, user_id=actor.user_id)
    if person_id is None:
        if own is None:
            raise InvalidInput("Your account is not linked to a grid person: give person_id",
                               "您的账号未关联网格人员，请指定巡查人员", code="person_required")
        person = own
    elif own is not None and own.id == person_id:
        person = own
    else:
        person = people.get_person(session, actor=actor, person_id=person_id, action="gridpeople.manage")
    serving = session.scalar(select(func.count()).where(GridAssignment.person_id == person.id, people.CURRENT))
    if not serving:
        raise Conflict(f"{person.name} holds no current grid role", f"{person.name}当前没有在任的网格职务",
                       code="not_serving")
    return person


class Logged(NamedTuple):
    log: PatrolLog
    created: bool  # False: a retry, answered with the log its first try wrote


def _earlier(session: Session, key: str, finding: Finding) -> PatrolLog | None:
    """The log this actor already wrote under `key`, if the same finding; a different one is a conflict."""
    log = session.scalar(select(PatrolLog).where(PatrolLog.idempotency_key == key))
    if log is not None and (log.text, log.kind, log.category_code) != (finding.text.strip(), finding.kind,
                                                                        finding.category):
        raise Conflict("This idempotency key was used for a different log", "该幂等键已用于另一条不同的巡查记录",
                       code="idempotency_mismatch")
    return log


def log_patrol(
    session: Session, *, actor: Actor, finding: Finding, report_event: bool = False, urgency: str = "normal",
    address: str | None = None, idempotency_key: str | None = None,
) -> Logged:
    """Write a patrol or visit log; with `report_event`, its finding becomes an event too. A retry
    with the same `idempotency_key` returns the first log (and its event) instead of a second one."""
    key = f"{actor.user_id}:{idempotency_key}" if idempotency_key else None
    if key and (earlier := _earlier(session, key, finding)) is not None:
        return Logged(earlier, created=False)
    now = utcnow()
    at = _validate(finding, now)
    lon, lat, chain = _place(session, finding)
    code = chain[-1].code
    authorize(session, actor, "patrol.log", Target("patrol", None, (code,), label="区域"))
    person = _patroller(session, actor, finding.person_id)
    log = PatrolLog(
        person_id=person.id, kind=finding.kind, at=at, lon=lon, lat=lat, region_code=code,
        town_code=code[: BY_NAME["town"].code_length] if len(code) >= BY_NAME["town"].code_length else None,
        village_code=code[: BY_NAME["village"].code_length] if len(code) >= BY_NAME["village"].code_length else None,
        text=finding.text.strip(), category_code=finding.category, logged_by=actor.user_id, created_at=now,
        idempotency_key=key,
    )
    try:
        with session.begin_nested():  # two retries racing: the loser returns the winner's log
            session.add(log)
            session.flush()
    except IntegrityError:
        if key and (earlier := _earlier(session, key, finding)) is not None:
            return Logged(earlier, created=False)
        raise
    audit.record(session, action="patrol.log", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="patrol_log", target_id=str(log.id), region_code=code,
                 after={"person_id": person.id, "kind": log.kind, "at": at.isoformat(), "category": log.category_code})
    if report_event:
        _raise_event(session, actor, log, person, urgency=urgency, address=address)
    return Logged(log, created=True)


def get_patrol(session: Session, *, actor: Actor, log_id: int, action: str = "gridpeople.read") -> PatrolLog:
    log = session.get(PatrolLog, log_id)
    if log is None:
        raise NotFound("patrol log not found", "巡查记录不存在或不在您的管辖范围内", code="not_found")
    authorize(session, actor, action, Target("patrol_log", str(log.id), (log.region_code,), label="巡查记录"))
    return log


def report_finding(
    session: Session, *, actor: Actor, log_id: int, category: str | None = None, urgency: str = "normal",
    address: str | None = None,
) -> Event:
    """Turn a logged finding into an event, once. `category` overrides the log's for the event."""
    log = get_patrol(session, actor=actor, log_id=log_id, action="patrol.log")
    if log.event_id is not None:
        code = session.scalar(select(Event.code).where(Event.id == log.event_id))
        raise Conflict(f"This finding was reported already as {code}", f"该巡查发现已上报为事件 {code}",
                       code="already_reported", details={"event": code})
    person = session.get(GridPerson, log.person_id)
    assert person is not None
    return _raise_event(session, actor, log, person, urgency=urgency, address=address, category=category)


def _raise_event(
    session: Session, actor: Actor, log: PatrolLog, person: GridPerson, *, urgency: str, address: str | None,
    category: str | None = None,
) -> Event:
    # The stored point is WGS84 already; without one the event is placed at the log's region.
    report = intake.Report(
        text=log.text, channel="grid_worker", category=category or log.category_code, urgency=urgency,
        lon=log.lon, lat=log.lat, region=None if log.lon is not None else log.region_code, address=address,
        reporter_name=person.name,
    )
    event = intake.submit(session, actor=actor, report=report).event
    log.event_id = event.id
    session.flush()
    audit.record(session, action="patrol.to_event", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="patrol_log", target_id=str(log.id), region_code=log.region_code,
                 after={"event": event.code})
    return event


def _day_start(day: date) -> datetime:
    return as_utc(datetime.combine(day, time(), tzinfo=SHANGHAI))  # type: ignore[return-value]


def list_patrols(
    session: Session, *, actor: Actor, region: str | None = None, person_id: int | None = None,
    kind: str | None = None, reported: bool | None = None, start: date | None = None, end: date | None = None,
    page: int = 1, size: int = 50,
) -> tuple[list[PatrolLog], int]:
    """Logs in the actor's reach (or `region` inside it), newest first; `start`/`end` are local
    dates, `end` excluded; `reported` keeps only logs that did (or did not) become events."""
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and size 1–{MAX_PAGE_SIZE}",
                           f"页码应 ≥ 1，每页条数应为 1–{MAX_PAGE_SIZE}", code="invalid_paging")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end must come after start", "结束日期应晚于开始日期", code="invalid_range")
    require_somewhere(session, actor, "gridpeople.read")
    if region:
        geo.get_region(session, code=region)
        authorize(session, actor, "gridpeople.read", Target("region", region, (region,), label="区域"))
        prefixes = [region]
    else:
        prefixes = scope_prefixes(actor, "gridpeople.read")
    where: list[ColumnElement[bool]] = [
        or_(*(PatrolLog.region_code.startswith(p) for p in prefixes)) if prefixes else false()
    ]
    if person_id is not None:
        where.append(PatrolLog.person_id == person_id)
    if kind is not None:
        where.append(PatrolLog.kind == kind)
    if reported is not None:
        where.append(PatrolLog.event_id.is_not(None) if reported else PatrolLog.event_id.is_(None))
    if start is not None:
        where.append(PatrolLog.at >= _day_start(start))
    if end is not None:
        where.append(PatrolLog.at < _day_start(end))
    total = session.scalar(select(func.count()).select_from(PatrolLog).where(*where)) or 0
    rows = session.scalars(
        select(PatrolLog).where(*where).order_by(PatrolLog.at.desc(), PatrolLog.id.desc())
        .offset((page - 1) * size).limit(size)
    ).all()
    return list(rows), total


def patrol_dicts(session: Session, logs: list[PatrolLog]) -> list[dict[str, Any]]:
    """Logs as shown, with the person's name, the region's name and the event's code (three queries)."""
    if not logs:
        return []
    names = dict(session.execute(
        select(GridPerson.id, GridPerson.name).where(GridPerson.id.in_({g.person_id for g in logs}))).tuples().all())
    regions = {r.code: r for r in session.execute(
        select(Region.code, Region.name, Region.level).where(Region.code.in_({g.region_code for g in logs})))}
    event_ids = {g.event_id for g in logs if g.event_id}
    events = {e.id: e for e in session.execute(
        select(Event.id, Event.code, Event.status).where(Event.id.in_(event_ids)))} if event_ids else {}
    kinds = gridpeople_policy().patrols.kinds
    out = []
    for g in logs:
        r, e = regions[g.region_code], events.get(g.event_id or 0)
        cat = catalog().category(g.category_code) if g.category_code else None
        out.append({
            "id": g.id,
            "person": {"id": g.person_id, "name": names[g.person_id]},
            "kind": g.kind,
            "kind_label": kinds.get(g.kind, g.kind),
            "at": as_utc(g.at).isoformat(),  # type: ignore[union-attr]
            "lon": g.lon,
            "lat": g.lat,
            "region": geo.ref_dict(r.code, r.name, r.level),
            "text": g.text,
            "category": {"code": cat.code, "name": cat.name} if cat else None,
            "event": {"code": e.code, "status": e.status} if e else None,
            "logged_by": g.logged_by,
        })
    return out
