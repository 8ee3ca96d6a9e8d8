"""Event rules: scoped reads, the one transition engine, tracking by code and secret.

`transition()` is the only way an event changes state: it takes the step from the workflow
table, checks reach, tier and state, applies the named effects, and writes the timeline, the
audit trail and the outbox in the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from shanzhi.accounts.authz import Actor, Target, authorize, grants_for, scope_prefixes
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import Conflict, Forbidden, InvalidInput, NotFound
from shanzhi.events import deadlines, routing
from shanzhi.events.catalog import catalog
from shanzhi.events.codes import secret_hash
from shanzhi.events.effects import EFFECTS, StepContext
from shanzhi.events.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Event,
    EventStep,
    OutboxMessage,
)
from shanzhi.events.policy import workflow
from shanzhi.policy.loader import permissions

MAX_PAGE_SIZE = 500


def target(event: Event) -> Target:
    return Target("event", event.code, (event.region_code,), org_id=event.assigned_org_id,
                  owner_id=event.reporter_id, label="事件")


def _by_code(session: Session, code: str) -> Event:
    event = session.scalar(select(Event).where(Event.code == code))
    if event is None:
        raise NotFound(f"Event {code} not found", f"事件 {code} 不存在或不在您的管辖范围内", code="not_found")
    return event


def get_event(session: Session, *, actor: Actor, code: str) -> Event:
    event = _by_code(session, code)
    authorize(session, actor, "event.read", target(event))
    return event


def reach_filter(actor: Actor, action: str) -> Any:
    """A WHERE clause for the events the actor reaches for `action` (false when none):
    the same reaches as `can()` — region subtrees, the unit's events, one's own reports."""
    policy = permissions()
    clauses = [Event.region_code.startswith(p) for p in scope_prefixes(actor, action)]
    for g in actor.grants:
        if not policy.grants(g.role, action):
            continue
        reach = policy.roles[g.role].reach
        if "unit" in reach and g.org_id is not None:
            clauses.append(Event.assigned_org_id == g.org_id)
        if "own" in reach and actor.user_id is not None:
            clauses.append(Event.reporter_id == actor.user_id)
    if actor.token_scope is not None and clauses:
        # A token narrows every reach to its own region, as in can().
        return and_(Event.region_code.startswith(actor.token_scope), or_(*clauses))
    return or_(*clauses) if clauses else Event.id.is_(None)


DEADLINE_STATES = {"none": "无时限", "normal": "正常", "yellow": "黄灯预警", "red": "红灯超期"}
# List orders by name: the newest reports first (the default), the oldest, or the nearest deadline.
ORDERS: dict[str, tuple[Any, ...]] = {
    "newest": (Event.id.desc(),),
    "oldest": (Event.id.asc(),),
    # Deadlines tie whenever reports arrive outside working hours (all due when the next
    # working time starts): then the one waiting longest comes first.
    "due": (Event.due_at.is_(None), Event.due_at.asc(), Event.id.asc()),
}


def _deadline_clause(state: str, now: datetime) -> Any:
    """Events whose deadline state is `state` as `event_dict` shows it: open events as of now
    (from their yellow and due marks), finished ones as last marked."""
    if state not in DEADLINE_STATES:
        raise InvalidInput(f"Unknown deadline state {state!r}", f"未知时限状态 {state!r}", code="unknown_deadline")
    live = {
        "none": Event.due_at.is_(None),
        "normal": and_(Event.due_at.is_not(None), Event.yellow_at > now),
        "yellow": and_(Event.yellow_at <= now, Event.due_at >= now),
        "red": Event.due_at < now,
    }[state]
    return or_(and_(Event.status.in_(OPEN_STATUSES), live),
               and_(Event.status.in_(FINAL_STATUSES), Event.deadline_state == state))


def events_query(
    *, actor: Actor, status: str | None = None, category: str | None = None, region: str | None = None,
    channel: str | None = None, q: str | None = None, deadline: str | None = None, sort: str = "newest",
    now: datetime | None = None,
) -> Select[tuple[Event]]:
    """The events in the actor's reach matching the filters, in the named order (lists, exports)."""
    if sort not in ORDERS:
        raise InvalidInput(f"Unknown order {sort!r}", f"未知排序方式 {sort!r}", code="unknown_sort")
    stmt = select(Event).where(reach_filter(actor, "event.read"))
    if status:
        if status not in workflow().statuses:
            raise InvalidInput(f"Unknown status {status!r}", f"未知状态 {status!r}", code="unknown_status")
        stmt = stmt.where(Event.status == status)
    if category:
        stmt = stmt.where(Event.category_code.startswith(category, autoescape=True))
    if region:
        stmt = stmt.where(Event.region_code.startswith(region, autoescape=True))
    if channel:
        stmt = stmt.where(Event.channel == channel)
    if q:
        stmt = stmt.where(or_(Event.text.contains(q, autoescape=True), Event.code == q))
    if deadline:
        stmt = stmt.where(_deadline_clause(deadline, now or utcnow()))
    return stmt.order_by(*ORDERS[sort])


def list_events(
    session: Session, *, actor: Actor, status: str | None = None, category: str | None = None,
    region: str | None = None, channel: str | None = None, q: str | None = None, page: int = 1, size: int = 50,
    deadline: str | None = None, sort: str = "newest",
) -> tuple[list[Event], int]:
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and size 1–{MAX_PAGE_SIZE}",
                           f"页码应 ≥ 1，每页条数应为 1–{MAX_PAGE_SIZE}", code="invalid_paging")
    stmt = events_query(actor=actor, status=status, category=category, region=region, channel=channel, q=q,
                        deadline=deadline, sort=sort)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.offset((page - 1) * size).limit(size)).all()
    return list(rows), total


# -- the transition engine -------------------------------------------------------------------


def _tier_of(session: Session, event: Event) -> str:
    """The event's tier, or before acceptance the one routing would give it."""
    return event.tier or routing.propose(session, category=catalog().category(event.category_code)
                                         if event.category_code else None, region_code=event.region_code).tier


def within_tier(session: Session, actor: Actor, event: Event, action: str) -> bool:
    """Whether one of the actor's assignments for `action` sits at or above the event's tier:
    a village cadre cannot dispatch a town matter, even inside her village."""
    limit = routing.tier_code_length(_tier_of(session, event))
    return any(len(g.scope_code) <= limit for g in grants_for(actor, action, target(event)))


def _check_tier(session: Session, actor: Actor, event: Event, action: str) -> None:
    if within_tier(session, actor, event, action):
        return
    tier = _tier_of(session, event)
    audit.record_durably(session, action=action, actor_id=actor.user_id, actor_name=actor.name,
                         target_type="event", target_id=event.code, region_code=event.region_code,
                         outcome="denied", detail={"reason": "above_tier", "tier": tier})
    tier_name = next(t.name for t in catalog().tiers if t.code == tier)
    raise Forbidden(
        f"This is a {tier}-tier event, beyond your scope",
        f"该事件属{tier_name}事项，超出您的处置层级",
        code="above_tier",
    )


def transition(
    session: Session, *, actor: Actor, code: str, name: str, version: int | None = None,
    now: datetime | None = None, **inputs: Any,
) -> Event:
    steps = workflow().transitions
    if name not in steps:
        raise InvalidInput(f"Unknown step {name!r}", f"未知操作 {name!r}", code="unknown_transition")
    step = steps[name]
    event = _by_code(session, code)
    authorize(session, actor, step.action, target(event))
    if version is not None and version != event.version:
        raise Conflict("The event was changed by someone else; reload it",
                       "事件已被他人更新，请刷新后重试", code="stale_version")
    statuses = workflow().statuses
    if event.status not in step.from_:
        raise Conflict(
            f"Cannot {name} an event that is {event.status}",
            f"事件当前为「{statuses[event.status]}」，不能执行「{step.label}」",
            code="invalid_transition",
        )
    if step.at_tier:
        _check_tier(session, actor, event, step.action)
    missing = [n for n in step.needs if inputs.get(n) in (None, "")]
    if missing:
        raise InvalidInput(f"{name} needs: {', '.join(missing)}",
                           f"「{step.label}」需要填写：{'、'.join(missing)}", code="missing_input")
    for text_field in ("reason", "result"):
        if len(str(inputs.get(text_field) or "")) > 2000:
            raise InvalidInput(f"{text_field} is too long (max 2000)", "内容过长（最多 2000 字）", code="too_long")
    now = now or utcnow()
    ctx = StepContext(session, actor, event, inputs, now, step=name)
    for name_of_effect in step.effects:
        EFFECTS[name_of_effect](ctx)
    before = event.status
    if step.to != "*":
        event.status = step.to
    if name == "accept":
        event.accepted_at = now
    note = inputs.get("reason") or inputs.get("result")
    record_step(session, event, actor=actor, action=name, before=before, note=note, data=ctx.data, at=now)
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("The event was changed by someone else; reload it",
                       "事件已被他人更新，请刷新后重试", code="stale_version") from None
    return event


def record_step(
    session: Session, event: Event, *, actor: Actor | None, action: str, before: str | None,
    note: str | None = None, data: dict[str, Any] | None = None, at: datetime | None = None, public: bool = True,
) -> EventStep:
    """The timeline step, its audit row and its outbox message, together."""
    at = at or utcnow()
    payload = json.dumps(data or {}, ensure_ascii=False, default=str, sort_keys=True)
    step = EventStep(event_id=event.id, at=at, actor_id=actor.user_id if actor else None,
                     actor_name=actor.name if actor else None, action=action, from_status=before,
                     to_status=event.status, note=note, data=payload, public=public)
    session.add(step)
    audit.record(session, action=f"event.{action}", actor_id=actor.user_id if actor else None,
                 actor_name=actor.name if actor else None, target_type="event", target_id=event.code,
                 region_code=event.region_code, before={"status": before},
                 after={"status": event.status, **(data or {})})
    session.flush()
    session.add(OutboxMessage(
        topic=f"event.{action}", dedupe_key=f"event-step:{step.id}",
        payload=json.dumps({"code": event.code, "action": action, "status": event.status,
                            "at": at.isoformat()}, ensure_ascii=False),
    ))
    return step


# -- views -----------------------------------------------------------------------------------


def deadline_state(event: Event, now: datetime) -> str:
    """none / normal / yellow / red: as of now while open; a finished event keeps its last mark."""
    return deadlines.state_at(event, now) if event.status in OPEN_STATUSES else event.deadline_state


def event_dict(event: Event, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    cat = catalog().category(event.category_code) if event.category_code else None

    def iso(at: datetime | None) -> str | None:
        return as_utc(at).isoformat() if at else None

    return {
        "code": event.code, "text": event.text, "status": event.status,
        "status_label": workflow().statuses[event.status],
        "category": {"code": cat.code, "name": cat.name} if cat else None,
        "category_source": event.category_source, "urgency": event.urgency, "channel": event.channel,
        "lon": event.lon, "lat": event.lat, "address": event.address, "region_code": event.region_code,
        "tier": event.tier, "proposed_tier": event.proposed_tier, "assigned_org_id": event.assigned_org_id,
        "proposed_org_id": event.proposed_org_id, "routing_overridden": event.routing_overridden,
        "policy_version": event.policy_version, "due_at": iso(event.due_at), "yellow_at": iso(event.yellow_at),
        "deadline_state": deadline_state(event, now),
        "escalations": event.escalations, "reworks": event.reworks, "pending_extension": event.pending_extension,
        "result": event.result_text, "rating": event.rating, "version": event.version,
        "created_at": iso(event.created_at), "accepted_at": iso(event.accepted_at),
        "closed_at": iso(event.closed_at), "closed_on_time": event.closed_on_time,
    }


def timeline(session: Session, event: Event, *, public_only: bool = False) -> list[dict[str, Any]]:
    stmt = select(EventStep).where(EventStep.event_id == event.id).order_by(EventStep.id)
    if public_only:
        stmt = stmt.where(EventStep.public.is_(True))
    labels = {name: t.label for name, t in workflow().transitions.items()} | {
        "report": "上报", "rate": "评价", "photo": "上传照片", "deadline_yellow": "黄灯预警",
        "deadline_red": "红灯超期", "share_result": "同步主事件办理结果", "raise_need": "转为需求"}
    out = []
    for s in session.scalars(stmt):
        item = {"at": as_utc(s.at).isoformat(), "action": s.action, "label": labels.get(s.action, s.action),
                "to_status": s.to_status, "note": s.note}
        if not public_only:
            item |= {"actor": s.actor_name, "from_status": s.from_status, "data": json.loads(s.data or "{}")}
        out.append(item)
    return out


# -- residents: follow by code and secret, rate after closure ---------------------------------


def _tracked(session: Session, code: str, secret: str) -> Event:
    event = session.scalar(select(Event).where(Event.code == code))
    # The same answer for a wrong code and a wrong secret: codes are guessable, secrets not.
    if event is None or event.tracking_hash != secret_hash(code, secret or ""):
        raise NotFound("No event with that code and secret", "事件编号或查询码不正确", code="not_found")
    return event


def track(session: Session, *, code: str, secret: str) -> dict[str, Any]:
    event = _tracked(session, code, secret)
    view = event_dict(event)
    public = {k: view[k] for k in ("code", "status", "status_label", "category", "created_at", "closed_at",
                                   "result", "rating")}
    if event.merged_into_id is not None:  # a duplicate: the reporter follows the event it joined
        public["merged_into"] = session.scalar(select(Event.code).where(Event.id == event.merged_into_id))
    return {**public, "timeline": timeline(session, event, public_only=True)}


def rate(session: Session, *, code: str, secret: str, rating: int, comment: str | None = None) -> Event:
    event = _tracked(session, code, secret)
    if event.status != "closed":
        raise Conflict("Only a closed event can be rated", "事件办结后才能评价", code="not_closed")
    if event.rating is not None:
        raise Conflict("This event was already rated", "该事件已评价", code="already_rated")
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidInput("rating must be 1–5", "评分应为 1–5 分", code="invalid_rating")
    if comment is not None and len(comment) > 500:
        raise InvalidInput("comment is too long (max 500)", "评价内容过长（最多 500 字）", code="too_long")
    event.rating, event.rating_comment = rating, comment
    record_step(session, event, actor=None, action="rate", before=event.status,
                data={"rating": rating}, note=comment)
    return event
