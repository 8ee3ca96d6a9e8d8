"""Routing: which tier and which unit an event goes to, by policy.

The category names its default tier and handler type; the event's region places it. A matter
starts at the lowest tier able to handle it (小事不出村): where the region has no village, a
village-tier matter starts at the town. The unit is the nearest organization of the right
kind whose region contains the event, at or above the tier's level.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.events.catalog import Category, catalog
from shanzhi.events.policy import routing
from shanzhi.geo.levels import BY_NAME
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization


@dataclass(frozen=True)
class Proposal:
    tier: str
    handler_type: str
    org_id: int | None
    policy_version: str


def tier_code_length(tier: str) -> int:
    return BY_NAME[routing().tier_levels[tier]].code_length


def propose(session: Session, *, category: Category | None, region_code: str, min_tier: str | None = None) -> Proposal:
    cat = catalog()
    tiers = [t.code for t in cat.tiers]
    tier = category.default_tier if category else tiers[min(1, len(tiers) - 1)]
    if min_tier is not None and cat.tier_rank(min_tier) > cat.tier_rank(tier):
        tier = min_tier
    # Climb while the event's region has no node at the tier's level (a street without villages).
    while len(region_code) < tier_code_length(tier) and cat.tier_rank(tier) < len(tiers) - 1:
        tier = tiers[cat.tier_rank(tier) + 1]
    if category is not None and cat.handler_type(category.handler_type).tier == tier:
        handler = category.handler_type
    else:
        handler = routing().handler_at(tier, category.major if category else None)
    top = tier_code_length(tier)
    prefixes = [region_code[:n] for n in range(6, min(top, len(region_code)) + 1, 3)]
    org_id = session.scalar(
        select(Organization.id)
        .join(Region, Region.id == Organization.region_id)
        .where(Organization.kind == handler, Region.code.in_(prefixes))
        .order_by(func.length(Region.code).desc(), Organization.id)
        .limit(1)
    )
    return Proposal(tier, handler, org_id, f"catalog {cat.version} / routing {routing().version}")
