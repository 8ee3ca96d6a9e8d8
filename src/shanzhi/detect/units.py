"""Department patterns: per place and category, which units close fastest and which send work back.

Shown to a dispatcher choosing a unit. Figures come from the events of the last `days` in the
region subtree: how many each unit resolved and in how many hours (dispatch to resolution; the
median, so one case left open over a holiday does not make a quick unit look slow, with the mean
beside it), and its return rate (dispatches it handed back, over all dispatched to it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from statistics import fmean, median
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.db import hours_between, utcnow
from shanzhi.events.models import Event, EventStep
from shanzhi.orgs.models import Organization

DEFAULT_DAYS = 365


def unit_patterns(
    session: Session, *, actor: Actor, region: str, category: str, days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Units that handled `category` (a minor, or a major as its two digits) in `region`, fastest
    (by median) first."""
    authorize(session, actor, "event.dispatch", Target("region", region, (region,), label="区域"))
    now = now or utcnow()
    scope = (Event.region_code.startswith(region, autoescape=True),
             Event.category_code.startswith(category, autoescape=True),
             Event.created_at >= now - timedelta(days=days))
    hours: dict[int, list[float]] = defaultdict(list)
    for org, h in session.execute(
            select(Event.assigned_org_id, hours_between(Event.dispatched_at, Event.resolved_at))
            .where(*scope, Event.assigned_org_id.is_not(None), Event.resolved_at.is_not(None),
                   Event.dispatched_at.is_not(None))):
        hours[org].append(float(h))
    # Events now with a unit count once for it; each return counts one more dispatch for the
    # unit that returned it (the step records which unit that was).
    dispatched: dict[int, int] = dict(session.execute(
        select(Event.assigned_org_id, func.count()).where(*scope, Event.assigned_org_id.is_not(None))
        .group_by(Event.assigned_org_id)).tuples().all())
    returned: dict[int, int] = {}
    for data in session.scalars(select(EventStep.data).join(Event, Event.id == EventStep.event_id)
                                .where(*scope, EventStep.action == "return")):
        unit = json.loads(data or "{}").get("previous_unit_id")
        if unit is not None:
            returned[unit] = returned.get(unit, 0) + 1
            dispatched[unit] = dispatched.get(unit, 0) + 1
    if not dispatched:
        return []
    orgs = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(dispatched)))}
    rows = [{
        "unit_code": orgs[u].code, "unit_name": orgs[u].name, "dispatched": n, "closed": len(hours[u]),
        "median_hours": round(median(hours[u]), 1) if hours[u] else None,
        "mean_hours": round(fmean(hours[u]), 1) if hours[u] else None,
        "return_rate": round(returned.get(u, 0) / n, 3),
    } for u, n in dispatched.items() if u in orgs]
    rows.sort(key=lambda r: (r["median_hours"] is None, r["median_hours"] or 0, r["return_rate"], r["unit_code"]))
    return rows
