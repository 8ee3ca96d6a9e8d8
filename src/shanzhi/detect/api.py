"""Detection endpoints: category suggestions, duplicates, hotspots, trends, alerts, unit patterns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    require_somewhere,
    scope_prefixes,
)
from shanzhi.accounts.deps import ApiActor
from shanzhi.detect import alerts, classify, duplicates
from shanzhi.detect.hotspots import find_hotspots
from shanzhi.detect.trends import find_trends
from shanzhi.detect.units import unit_patterns
from shanzhi.events.service import get_event
from shanzhi.http import DbSession

router = APIRouter(prefix="/api/v1", tags=["detect"])

Region = Annotated[str | None, Query(max_length=18, pattern=r"^\d+$", description="区域编码，默认为本人管辖范围")]
Category = Annotated[str | None, Query(max_length=4, pattern=r"^\d{2}(\d{2})?$", description="大类或小类编码")]


class ClassifyIn(BaseModel):
    text: str = Field(min_length=1, max_length=classify.MAX_CHARS)
    k: int = Field(default=3, ge=1, le=10)


def _suggestions(text: str, k: int = 3) -> dict[str, Any]:
    found = classify.suggest(text, k)
    return {"items": [s.as_dict() for s in found], "uncertain": found[0].uncertain if found else True}


def _stats_region(session: Session, actor: Actor, region: str | None) -> str:
    """The region asked for, if the actor may see its statistics; else the actor's own scope."""
    if region is None:
        require_somewhere(session, actor, "stats.read")
        prefixes = scope_prefixes(actor, "stats.read")
        if prefixes:
            return prefixes[0]
        region = "".join(g.scope_code for g in actor.grants[:1])
    authorize(session, actor, "stats.read", Target("region", region, (region,), label="区域"))
    return region


@router.post("/detect/classify", summary="事件分类建议 Suggest categories for a text")
def suggest_categories(_actor: ApiActor, body: ClassifyIn) -> dict[str, Any]:
    return _suggestions(body.text, body.k)


@router.get("/events/{code}/suggestions", summary="事件的分类建议 Category suggestions for an event")
def event_suggestions(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    event = get_event(session, actor=actor, code=code)
    return {"current": event.category_code, "source": event.category_source, **_suggestions(event.text)}


@router.get("/events/{code}/duplicates", summary="疑似重复事件 Likely duplicates of an event")
def event_duplicates(
    session: DbSession, actor: ApiActor, code: str, limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    found = duplicates.duplicates_of(session, actor=actor, code=code, limit=limit)
    return {"items": [c.as_dict() for c in found], "total": len(found)}


@router.get("/detect/hotspots", summary="高发点位 Recurring problems at one place")
def hotspots(
    session: DbSession, actor: ApiActor, region: Region = None, category: Category = None,
    days: Annotated[int | None, Query(ge=1, le=730)] = None,
) -> dict[str, Any]:
    scope = _stats_region(session, actor, region)
    found = find_hotspots(session, region=scope, category=category, days=days)
    return {"region": scope, "items": [h.as_dict() for h in found], "total": len(found)}


@router.get("/detect/trends", summary="上升趋势 Categories rising in a grid")
def trends(session: DbSession, actor: ApiActor, region: Region = None, category: Category = None) -> dict[str, Any]:
    scope = _stats_region(session, actor, region)
    found = find_trends(session, region=scope, category=category)
    return {"region": scope, "items": [t.as_dict() for t in found], "total": len(found)}


@router.get("/detect/alerts", summary="预警（高发、趋势、矛盾风险）Alerts for the command center")
def list_alerts(
    session: DbSession, actor: ApiActor,
    kind: Annotated[str | None, Query(pattern="^(hotspot|trend|dispute_risk)$")] = None,
    event: Annotated[str | None, Query(max_length=32)] = None,
    dismissed: bool = False, limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    items = alerts.list_alerts(session, actor=actor, kind=kind, event=event, include_dismissed=dismissed, limit=limit)
    return {"items": items, "total": len(items)}


@router.post("/detect/alerts/{alert_id}/dismiss", summary="处理预警（移出收件箱）Dismiss an alert")
def dismiss_alert(session: DbSession, actor: ApiActor, alert_id: int) -> dict[str, Any]:
    return alerts.dismiss(session, actor=actor, alert_id=alert_id)


@router.get("/detect/units", summary="处置单位表现（按区域、类别）Which units close fastest")
def units(
    session: DbSession, actor: ApiActor, region: Annotated[str, Query(max_length=18, pattern=r"^\d+$")],
    category: Annotated[str, Query(max_length=4, pattern=r"^\d{2}(\d{2})?$")],
    days: Annotated[int, Query(ge=1, le=3650)] = 365,
) -> dict[str, Any]:
    return {"items": unit_patterns(session, actor=actor, region=region, category=category, days=days)}
