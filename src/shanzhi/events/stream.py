"""The command center's live feed: new reports and status changes, as Server-Sent Events.

Every change of an event writes one timeline row (event_steps) in the same transaction as the
change, so "timeline rows with an id above the last one sent" is the whole protocol: it works
across processes and servers with no broker, and a reconnecting browser resumes from its
Last-Event-ID. Each poll is a short read transaction of its own, closed before the sleep, so
open feeds hold no connection, snapshot or lock between polls.

On PostgreSQL a transaction that drew its step id earlier can commit after one that drew a
later id; ids skipped over are asked for again for GAP_SECONDS, so such a step is still sent
(the id of a rolled-back step simply expires).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.db import as_utc, transaction, utcnow
from shanzhi.events.catalog import category_name
from shanzhi.events.clusters import deadline_state_sql, position_sql
from shanzhi.events.models import OPEN_STATUSES, Event, EventStep
from shanzhi.events.policy import workflow
from shanzhi.events.service import reach_filter
from shanzhi.geo.models import Region

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
# One response lasts at most this long; the browser reconnects at once and resumes from its
# Last-Event-ID, so no proxy idles it out and a draining server is never held for long.
LIFETIME_SECONDS = 600.0
GAP_SECONDS = 10.0
MAX_GAPS = 1000
BATCH = 100
RECENT_WINDOW = 20_000  # the feed's first page looks back over this many timeline rows at most


@dataclass
class Cursor:
    """The last step id sent, and the ids below it not seen yet (see the module's note)."""

    last: int
    gaps: dict[int, float] = field(default_factory=dict)  # id -> when it was first missed

    def advance(self, ids: list[int], now: float) -> None:
        for i in ids:
            self.gaps.pop(i, None)
        newer = sorted(i for i in ids if i > self.last)
        if newer:
            seen = set(newer)
            missing = [i for i in range(self.last + 1, newer[-1]) if i not in seen]
            for i in missing[:MAX_GAPS]:
                self.gaps[i] = now
            self.last = newer[-1]
        for i, since in list(self.gaps.items()):
            if now - since > GAP_SECONDS:
                del self.gaps[i]


def _labels() -> dict[str, str]:
    return {name: t.label for name, t in workflow().transitions.items()} | {
        "report": "上报", "rate": "评价", "photo": "上传照片"}


def _items(session: Session, rows: list[Any]) -> list[dict[str, Any]]:
    """Feed entries, oldest first, each naming its town and village."""
    codes = {c for r in rows for c in (r.town_code, r.village_code) if c}
    names: dict[str, str] = {}
    if codes:
        names = dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).tuples().all())
    labels, statuses = _labels(), workflow().statuses
    return [{
        "id": r.step_id, "at": as_utc(r.at).isoformat(), "action": r.action, "label": labels.get(r.action, r.action),
        "code": r.code, "status": r.status, "status_label": statuses.get(r.status, r.status),
        "deadline_state": r.deadline_state, "urgency": r.urgency,
        "category": category_name(r.category_code) if r.category_code else None,
        "text": r.text if len(r.text) <= 60 else r.text[:60] + "…",
        "lon": round(r.lon, 6) if r.lon is not None else None, "lat": round(r.lat, 6) if r.lat is not None else None,
        "region_code": r.region_code,
        "place": "·".join(names[c] for c in (r.town_code, r.village_code) if c in names),
    } for r in sorted(rows, key=lambda r: r.step_id)]


def _step_query(actor: Actor, now: datetime) -> Any:
    lon, lat = position_sql()
    state = case((Event.status.in_(OPEN_STATUSES), deadline_state_sql(now)), else_=Event.deadline_state)
    return (select(EventStep.id.label("step_id"), EventStep.at, EventStep.action, Event.code, Event.status,
                   state.label("deadline_state"), Event.urgency, Event.category_code, Event.text, lon, lat,
                   Event.region_code, Event.town_code, Event.village_code,
                   case((reach_filter(actor, "event.read"), True), else_=False).label("reached"))
            .join(Event, Event.id == EventStep.event_id).outerjoin(Region, Region.code == Event.region_code))


def recent(session: Session, *, actor: Actor, limit: int = 20) -> dict[str, Any]:
    """The feed's first page (newest last) and the cursor to follow it from."""
    last = session.scalar(select(func.max(EventStep.id))) or 0
    rows = session.execute(
        _step_query(actor, utcnow()).where(EventStep.id > last - RECENT_WINDOW, reach_filter(actor, "event.read"))
        .order_by(EventStep.id.desc()).limit(limit)).all()
    return {"items": _items(session, rows), "cursor": last}


def poll(session: Session, *, actor: Actor, cursor: Cursor) -> list[dict[str, Any]]:
    """The steps after the cursor within reach (oldest first), and the cursor moved past them all."""
    stmt = _step_query(actor, utcnow()).where(
        or_(EventStep.id > cursor.last, EventStep.id.in_(list(cursor.gaps))) if cursor.gaps
        else EventStep.id > cursor.last)
    rows = session.execute(stmt.order_by(EventStep.id).limit(BATCH)).all()
    cursor.advance([r.step_id for r in rows], time.monotonic())
    return _items(session, [r for r in rows if r.reached])


def message(item: dict[str, Any]) -> str:
    data = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    return f"id: {item['id']}\nevent: step\ndata: {data}\n\n"


async def sse(
    sessions: Callable[[], Session], *, actor: Actor, after: int | None,
    stop: Callable[[], Awaitable[bool]], poll_seconds: float = POLL_SECONDS,
) -> AsyncIterator[str]:
    """The feed as SSE text until `stop()` says so (client gone, server closing) or the lifetime ends."""

    def once(cursor: Cursor | None) -> tuple[Cursor, list[dict[str, Any]]]:
        # A transaction per poll, on a worker thread: nothing stays open while the loop sleeps.
        with transaction(sessions, write=False) as session:
            if cursor is None:
                return Cursor(session.scalar(select(func.max(EventStep.id))) or 0), []
            return cursor, poll(session, actor=actor, cursor=cursor)

    yield f"retry: {int(poll_seconds * 1000)}\n\n"
    cursor = Cursor(after) if after is not None else None
    started = beat = time.monotonic()
    while not await stop():
        cursor, items = await anyio.to_thread.run_sync(once, cursor)
        for item in items:
            yield message(item)
        now = time.monotonic()
        if now - started > LIFETIME_SECONDS:
            return
        if items:
            beat = now
        elif now - beat > HEARTBEAT_SECONDS:
            beat = now
            # Keeps proxies from idling the connection out; the id (a message without data is not
            # dispatched) moves the browser's Last-Event-ID past steps it was not sent.
            yield f": ping\nid: {cursor.last}\n\n"
        await anyio.sleep(poll_seconds)
