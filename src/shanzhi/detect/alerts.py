"""Alerts for the command center's inbox: hotspots, rising trends and dispute risks.

Each finding is one row keyed by what it is about (see DetectAlert), so repeating a scan or a
check updates the row's figures and reason instead of piling up copies. A dismissed alert stays
dismissed while the same finding persists; a dispute risk raised again by a new report or a
reopening comes back to the inbox, because that is new information.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, require_somewhere, scope_prefixes
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, for_update, transaction, utcnow
from shanzhi.detect.hotspots import find_hotspots
from shanzhi.detect.models import DetectAlert
from shanzhi.detect.trends import find_trends
from shanzhi.errors import NotFound
from shanzhi.events.catalog import category_name
from shanzhi.events.models import Event
from shanzhi.geo.models import Region

KINDS = {"hotspot": "高发点位", "trend": "上升趋势", "dispute_risk": "矛盾风险"}
READ_ACTION = "stats.read"


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    region_code: str
    title: str
    reason: str
    score: float
    category_code: str | None = None
    event_id: int | None = None
    data: dict[str, Any] | None = None


def raise_alert(session: Session, finding: Finding, *, now: datetime | None = None, reopen: bool = False) -> DetectAlert:
    """Insert the finding's alert or refresh the existing one (audited either way)."""
    now = now or utcnow()
    alert = session.scalar(for_update(select(DetectAlert).where(DetectAlert.key == finding.key), session))
    created = alert is None
    if alert is None:
        alert = DetectAlert(kind=finding.kind, key=finding.key, created_at=now)
        session.add(alert)
    alert.region_code, alert.category_code, alert.event_id = finding.region_code, finding.category_code, finding.event_id
    alert.title, alert.reason, alert.score = finding.title, finding.reason, finding.score
    alert.data = json.dumps(finding.data or {}, ensure_ascii=False, default=str, sort_keys=True)
    alert.updated_at = now
    if reopen:
        alert.dismissed_at = alert.dismissed_by = None
    session.flush()
    audit.record(session, action="detect.alert", target_type="alert", target_id=finding.key,
                 region_code=finding.region_code, after={"kind": finding.kind, "created": created,
                                                         "score": round(finding.score, 3)})
    return alert


def _hotspot_finding(h: Any) -> Finding:
    name = category_name(h.category_code)
    return Finding(
        kind="hotspot", key=h.key, region_code=h.region_code, category_code=h.category_code, score=h.score,
        title=f"高发点位：{name}",
        reason=f"{h.weeks} 个不同的周内同一地点（半径约 {max(h.radius_m, 1):.0f} 米）发生 {h.count} 起{name}，"
               f"远超该类事件的平均密度（p={h.p_value:.1g}）。",
        data=h.as_dict(),
    )


def _trend_finding(t: Any) -> Finding:
    name = category_name(t.category_code)
    return Finding(
        kind="trend", key=t.key, region_code=t.region_code, category_code=t.category_code, score=t.score,
        title=f"上升趋势：{name}",
        reason=f"近 {t.recent_days} 天 {t.recent} 起，按此前 {t.baseline_days} 天的水平预期约 {t.expected:.1f} 起，"
               f"为预期的 {t.ratio:.1f} 倍（p={t.p_value:.1g}）。",
        data=t.as_dict(),
    )


def findings(session: Session, *, now: datetime | None = None) -> list[Finding]:
    """Hotspots and trends over every district (reads only)."""
    now = now or utcnow()
    roots = session.scalars(select(Region.code).where(Region.parent_id.is_(None))).all()
    out: list[Finding] = []
    for root in roots:
        out += [_hotspot_finding(h) for h in find_hotspots(session, region=root, now=now)]
        out += [_trend_finding(t) for t in find_trends(session, region=root, now=now)]
    return out


def scan(factory: Callable[[], Session], *, now: datetime | None = None) -> dict[str, int]:
    """Find hotspots and trends and raise their alerts. The search runs in a read transaction
    and the writes in a short one, so SQLite's writers never wait on the clustering."""
    now = now or utcnow()
    with transaction(factory, write=False) as session:
        found = findings(session, now=now)
    with transaction(factory) as session:
        for finding in found:
            raise_alert(session, finding, now=now)
    counts = {kind: 0 for kind in ("hotspot", "trend")}
    for finding in found:
        counts[finding.kind] += 1
    return counts


def alert_dict(alert: DetectAlert, event_code: str | None = None) -> dict[str, Any]:
    return {
        "id": alert.id, "kind": alert.kind, "kind_label": KINDS.get(alert.kind, alert.kind), "title": alert.title,
        "reason": alert.reason, "region_code": alert.region_code, "category_code": alert.category_code,
        "event_code": event_code, "score": round(alert.score, 3), "data": json.loads(alert.data or "{}"),
        "created_at": as_utc(alert.created_at).isoformat(),  # type: ignore[union-attr]
        "updated_at": as_utc(alert.updated_at).isoformat(),  # type: ignore[union-attr]
        "dismissed": alert.dismissed_at is not None,
    }


def _in_reach(actor: Actor) -> Any:
    prefixes = scope_prefixes(actor, READ_ACTION)
    return or_(*(DetectAlert.region_code.startswith(p, autoescape=True) for p in prefixes)) if prefixes else False


def list_alerts(
    session: Session, *, actor: Actor, kind: str | None = None, event: str | None = None,
    include_dismissed: bool = False, limit: int = 20,
) -> list[dict[str, Any]]:
    """The newest alerts in the actor's reach."""
    require_somewhere(session, actor, READ_ACTION)
    stmt = (select(DetectAlert, Event.code).outerjoin(Event, Event.id == DetectAlert.event_id)
            .where(_in_reach(actor)).order_by(DetectAlert.updated_at.desc(), DetectAlert.id.desc()).limit(limit))
    if kind:
        stmt = stmt.where(DetectAlert.kind == kind)
    if event:
        stmt = stmt.where(Event.code == event)
    if not include_dismissed:
        stmt = stmt.where(DetectAlert.dismissed_at.is_(None))
    return [alert_dict(a, code) for a, code in session.execute(stmt)]


def dismiss(session: Session, *, actor: Actor, alert_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Take an alert out of the inbox (it stays on record)."""
    require_somewhere(session, actor, READ_ACTION)
    alert = session.scalar(select(DetectAlert).where(DetectAlert.id == alert_id, _in_reach(actor)))
    if alert is None:
        raise NotFound("Alert not found", "预警不存在或不在您的管辖范围内", code="not_found")
    if alert.dismissed_at is None:
        alert.dismissed_at, alert.dismissed_by = now or utcnow(), actor.user_id
        audit.record(session, action="detect.dismiss", actor_id=actor.user_id, actor_name=actor.name,
                     target_type="alert", target_id=alert.key, region_code=alert.region_code)
    code = session.scalar(select(Event.code).where(Event.id == alert.event_id)) if alert.event_id else None
    return alert_dict(alert, code)


