"""What a user may do to an event right now: the workflow steps to offer, and the units to offer
for a dispatch.

The same three rules as `service.transition` decide, so a page never shows a button the service
would refuse for who or where the user is: the step starts from the event's status, the user's
role grants its permission within reach (`can`), and a tiered step needs an assignment at or
above the event's tier (`service.within_tier`). The service still checks everything on submit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, can
from shanzhi.events import service
from shanzhi.events.catalog import catalog
from shanzhi.events.models import Event
from shanzhi.events.policy import Transition, workflow
from shanzhi.geo.levels import LEVELS
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

# Inputs an effect reads when given without the workflow table requiring them: a dispatch
# names a unit other than the proposed one; an acceptance corrects the category.
OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {"assign": ("unit",), "recategorize": ("category",)}


def _on_the_spot_category(event: Event) -> bool:
    return event.category_code is not None and catalog().category(event.category_code).on_the_spot


def _below_top_tier(event: Event) -> bool:
    cat = catalog()
    return event.tier is None or cat.tier_rank(event.tier) + 1 < len(cat.tiers)


# Effects that always refuse in some state of the event: a step carrying one is not offered
# then (an approval with nothing requested, an on-the-spot closure of a category that has none).
READY: dict[str, Callable[[Event], bool]] = {
    "approve_extension": lambda e: bool(e.pending_extension),
    "on_the_spot": _on_the_spot_category,
    "escalate": _below_top_tier,
}


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    needs: tuple[str, ...]  # inputs the step requires
    inputs: tuple[str, ...]  # every input the step takes, required ones first

    def requires(self, field: str) -> bool:
        return field in self.needs


def _inputs(t: Transition) -> tuple[str, ...]:
    # `accepts` (optional inputs) is read when the workflow table has it.
    optional = [*getattr(t, "accepts", ()), *(i for e in t.effects for i in OPTIONAL_INPUTS.get(e, ()))]
    return tuple(dict.fromkeys([*t.needs, *optional]))


def available_steps(session: Session, actor: Actor, event: Event) -> list[Step]:
    """The steps `actor` may take on `event` now, in the workflow table's order."""
    target = service.target(event)
    out = []
    for name, t in workflow().transitions.items():
        if event.status not in t.from_ or not can(actor, t.action, target):
            continue
        if not all(READY[e](event) for e in t.effects if e in READY):
            continue
        if t.at_tier and not service.within_tier(session, actor, event, t.action):
            continue
        out.append(Step(name, t.label, t.needs, _inputs(t)))
    return out


@dataclass(frozen=True)
class UnitChoice:
    id: int
    code: str
    name: str
    level: str  # 村/社区, 镇/街道/乡, 区 … where the unit sits


def dispatch_units(session: Session, event: Event) -> list[UnitChoice]:
    """Handling units that serve the event's place (the `assign` effect's rule: the unit's region
    contains the event), nearest first."""
    prefixes = [event.region_code[: lv.code_length] for lv in LEVELS if lv.code_length <= len(event.region_code)]
    kinds = [h.code for h in catalog().handler_types]
    rows = session.execute(
        select(Organization.id, Organization.code, Organization.name, Region.code)
        .join(Region, Region.id == Organization.region_id)
        .where(Region.code.in_(prefixes), Organization.kind.in_(kinds))
        .order_by(func.length(Region.code).desc(), Organization.name)
    ).all()
    label = {lv.code_length: lv.label_zh for lv in LEVELS}
    return [UnitChoice(i, code, name, label[len(region)]) for i, code, name, region in rows]
