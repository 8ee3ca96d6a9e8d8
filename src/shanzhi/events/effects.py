"""The named effects a workflow transition applies (policy/workflow.toml lists them per step).

This registry is the one code extension point of the workflow: the table decides which step
does what, in what order; each effect is a small function of the step's context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.db import as_utc
from shanzhi.detect import disputes
from shanzhi.detect.models import CategoryCorrection
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.events import deadlines, routing
from shanzhi.events.catalog import Category, catalog
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.notify import assigned, happening, notify
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization


@dataclass
class StepContext:
    session: Session
    actor: Actor
    event: Event
    inputs: dict[str, Any]
    now: datetime
    data: dict[str, Any] = field(default_factory=dict)  # recorded on the timeline step
    step: str = ""  # the transition's name

    @property
    def category(self) -> Category | None:
        code = self.event.category_code
        return catalog().category(code) if code else None


Effect = Callable[[StepContext], None]
EFFECTS: dict[str, Effect] = {}


def effect(name: str) -> Callable[[Effect], Effect]:
    def register(fn: Effect) -> Effect:
        EFFECTS[name] = fn
        return fn

    return register


@effect("route")
def _route(ctx: StepContext) -> None:
    e = ctx.event
    p = routing.propose(ctx.session, category=ctx.category, region_code=e.region_code, min_tier=e.tier)
    e.tier, e.proposed_tier, e.proposed_org_id, e.policy_version = p.tier, p.tier, p.org_id, p.policy_version
    ctx.data.update(tier=p.tier, proposed_org_id=p.org_id, handler_type=p.handler_type, policy=p.policy_version)


@effect("start_clock")
def _start_clock(ctx: StepContext) -> None:
    deadlines.start_clock(ctx.event, ctx.category, ctx.now)
    ctx.data.update(due_at=as_utc(ctx.event.due_at).isoformat())


@effect("assign")
def _assign(ctx: StepContext) -> None:
    e = ctx.event
    unit = ctx.inputs.get("unit")
    if unit:
        org = ctx.session.scalar(select(Organization).where(Organization.code == unit))
        region = ctx.session.get(Region, org.region_id) if org else None
        if org is None or region is None:
            raise NotFound(f"Unit {unit} not found", f"处置单位 {unit} 不存在", code="unit_not_found")
        # A unit must serve the event's place: its region contains the event, or lies at the
        # district level (departments serve the whole district).
        if not e.region_code.startswith(region.code):
            raise InvalidInput(
                f"Unit {unit} does not serve {e.region_code}",
                f"处置单位 {org.name} 不负责该事件所在区域",
                code="unit_out_of_area",
            )
        org_id = org.id
    else:
        org_id = e.proposed_org_id
    if org_id is None:
        raise InvalidInput(
            "No unit proposed by policy here: choose one",
            "该区域没有按规则匹配到处置单位，请选择处置单位",
            code="unit_required",
        )
    e.routing_overridden = e.routing_overridden or org_id != e.proposed_org_id
    e.assigned_org_id = org_id
    e.dispatched_at = ctx.now
    ctx.data.update(unit_id=org_id, overridden=org_id != e.proposed_org_id)
    notify(ctx.session, [assigned(e)], now=ctx.now)  # the unit's handlers hear of it at once


@effect("unassign")
def _unassign(ctx: StepContext) -> None:
    ctx.data.update(previous_unit_id=ctx.event.assigned_org_id)
    ctx.event.assigned_org_id = None


@effect("resolve")
def _resolve(ctx: StepContext) -> None:
    ctx.event.result_text = ctx.inputs["result"]
    ctx.event.resolved_at = ctx.now


@effect("rework")
def _rework(ctx: StepContext) -> None:
    ctx.event.reworks += 1
    ctx.event.resolved_at = None


@effect("finish")
def _finish(ctx: StepContext) -> None:
    e = ctx.event
    e.closed_at = ctx.now
    e.closed_on_time = e.due_at is None or ctx.now <= as_utc(e.due_at)
    e.closed_tier = e.tier
    e.next_check_at = None


@effect("on_the_spot")
def _on_the_spot(ctx: StepContext) -> None:
    cat = ctx.category
    if cat is None or not cat.on_the_spot:
        raise Conflict(
            "This category cannot be closed on the spot",
            "该类事件不能现场自办结，请按流程上报",
            code="not_on_the_spot",
        )
    # The tier the policy gives this place: in a street without villages, the town.
    ctx.event.tier = routing.propose(ctx.session, category=cat, region_code=ctx.event.region_code).tier
    ctx.event.accepted_at = ctx.event.dispatched_at = ctx.now


@effect("escalate")
def _escalate(ctx: StepContext) -> None:
    e = ctx.event
    cat = catalog()
    tiers = [t.code for t in cat.tiers]
    rank = cat.tier_rank(e.tier) if e.tier else 0
    if rank + 1 >= len(tiers):
        raise Conflict("Already at the top tier", "事件已在最高层级，无法再上报", code="top_tier")
    ctx.data.update(from_tier=e.tier, to_tier=tiers[rank + 1])
    e.tier = tiers[rank + 1]
    e.escalations += 1


@effect("request_extension")
def _request_extension(ctx: StepContext) -> None:
    amount = float(ctx.inputs["amount"])
    if not 0 < amount <= 365:
        raise InvalidInput("amount must be between 0 and 365", "延期时长应大于 0 且不超过 365", code="invalid_amount")
    ctx.event.pending_extension = amount
    ctx.data.update(amount=amount, unit=ctx.event.limit_unit)


@effect("approve_extension")
def _approve_extension(ctx: StepContext) -> None:
    e = ctx.event
    if not e.pending_extension:
        raise Conflict("No extension was requested", "没有待批准的延期申请", code="no_extension")
    deadlines.extend(e, e.pending_extension)
    ctx.data.update(amount=e.pending_extension, due_at=as_utc(e.due_at).isoformat())
    e.extensions += 1
    e.pending_extension = None


@effect("merge")
def _merge(ctx: StepContext) -> None:
    from shanzhi.events.service import get_event

    into = get_event(ctx.session, actor=ctx.actor, code=str(ctx.inputs["into"]))
    if into.id == ctx.event.id or into.status not in OPEN_STATUSES:
        raise Conflict("Merge into another open event", "只能合并到另一条未办结的事件", code="bad_merge")
    ctx.event.merged_into_id = into.id
    ctx.data.update(into=into.code)
    notify(ctx.session, [happening(ctx.event, "merged", f"{ctx.event.code}:merged", into=into.code)], now=ctx.now)


@effect("share_result")
def _share_result(ctx: StepContext) -> None:
    """The duplicates merged into this event (and into those, at any depth) get its result, and
    their reporters are told: one problem, one answer to everyone who reported it."""
    from shanzhi.events.service import record_step

    master, told = ctx.event, []
    parents = [master.id]
    while parents:
        children = ctx.session.scalars(select(Event).where(Event.merged_into_id.in_(parents))).all()
        for child in children:
            child.result_text, child.closed_at = master.result_text, ctx.now
            record_step(ctx.session, child, actor=ctx.actor, action="share_result", before=child.status,
                        note=master.result_text, data={"from": master.code}, at=ctx.now)
            told.append(happening(child, "merged_closed", f"{child.code}:merged_closed", into=master.code))
        parents = [c.id for c in children]
    notify(ctx.session, told, now=ctx.now)
    if told:
        ctx.data.update(shared_with=len(told))


@effect("recategorize")
def _recategorize(ctx: StepContext) -> None:
    """The dispatcher's category, when it differs from the event's, replaces it and is kept as a
    correction for retraining the classifier (`shanzhi detect retrain`)."""
    code = ctx.inputs.get("category")
    e = ctx.event
    if not code or code == e.category_code:
        return
    catalog().category(code)  # raises unknown_category
    ctx.session.add(CategoryCorrection(event_id=e.id, text=e.text, previous_code=e.category_code,
                                       previous_source=e.category_source, chosen_code=code,
                                       actor_id=ctx.actor.user_id, at=ctx.now))
    ctx.data.update(category_from=e.category_code, category_to=code)
    e.category_code, e.category_source = code, "corrected"


@effect("dispute_watch")
def _dispute_watch(ctx: StepContext) -> None:
    disputes.check_step(ctx.session, ctx.event, ctx.step, now=ctx.now)
