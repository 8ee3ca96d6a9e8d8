"""Department patterns: per place and category, which units close fastest and which send work back.

Shown to a dispatcher choosing a unit. Figures come from the events of the last `days` in the
region subtree: how many each unit resolved and in how many hours on average (dispatch to
resolution), and its return rate (dispatches it handed back, over all dispatched to it).
"""

from __future__ import annotations

import json
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
    """Units that handled `category` (a minor, or a major as its two digits) in `region`, fastest first."""
    authorize(session, actor, "event.dispatch", Target("region", region, (region,), label="区域"))
    now = now or utcnow()
    scope = (Event.region_code.startswith(region, autoescape=True),
             Event.category_code.startswith(category, autoescape=True),
             Event.created_at >= now - timedelta(days=days))
    resolved = {
        row.org: (int(row.n), row.hours) for row in session.execute(
            select(Event.assigned_org_id.label("org"), func.count().label("n"),
                   func.avg(hours_between(Event.dispatched_at, Event.resolved_at)).label("hours"))
            .where(*scope, Event.assigned_org_id.is_not(None), Event.resolved_at.is_not(None),
                   Event.dispatched_at.is_not(None))
            .group_by(Event.assigned_org_id)
        )
    }
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
        "unit_code": orgs[u].code, "unit_name": orgs[u].name, "dispatched": n,
        "closed": resolved.get(u, (0, None))[0],
        "mean_hours": None if resolved.get(u, (0, None))[1] is None else round(float(resolved[u][1]), 1),
        "return_rate": round(returned.get(u, 0) / n, 3),
    } for u, n in dispatched.items() if u in orgs]
    rows.sort(key=lambda r: (r["mean_hours"] is None, r["mean_hours"] or 0, r["return_rate"], r["unit_code"]))
    return rows
