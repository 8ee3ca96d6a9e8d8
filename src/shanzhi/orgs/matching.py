"""Proposals: which resources could answer a need, ranked, each with its score explained.

score = Σ weight × factor over five factors, each between 0 and 1 (weights and factor rules in
policy/matching.toml):
  kind      1 for the need's own kind, the `related_kinds` factor for a related one (0: not proposed)
  distance  1 − km / zero_km, at least 0 (need point or its region's centroid; resource point, else
            its unit's, else its region's centroid)
  capacity  remaining ÷ capacity of the resource (nothing left: not proposed)
  alliance  `covering` when the unit leads or belongs to an active alliance / pairing covering the
            need's village, else `serves_village` when it lists the village as served, else 0
  outcomes  mean over the unit's finished projects (completed: rating ÷ 5, or `unrated`;
            cancelled: `cancelled`); `no_history` without any
Ties go to the older resource.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.geo.levels import BY_NAME
from shanzhi.geo.models import Region
from shanzhi.orgs import needs as needs_service
from shanzhi.orgs.alliances import covering_org_ids
from shanzhi.orgs.common import (
    km_between,
    prefix_clause,
    published_prefixes,
    readable,
    today,
)
from shanzhi.orgs.list_models import Need, Project, Resource
from shanzhi.orgs.models import Organization, OrgVillage
from shanzhi.orgs.policy import MatchingPolicy, matching_policy, orgs_policy
from shanzhi.orgs.resources import allocated

FACTORS: dict[str, str] = {"kind": "类型匹配", "distance": "距离", "capacity": "剩余容量", "alliance": "联建覆盖",
                           "outcomes": "以往成效"}


@dataclass(frozen=True)
class Factor:
    name: str
    value: float  # 0–1
    weight: float
    explain_zh: str

    @property
    def points(self) -> float:
        return self.weight * self.value

    def as_dict(self) -> dict[str, Any]:
        return {"factor": self.name, "label": FACTORS[self.name], "value": round(self.value, 4), "weight": self.weight,
                "points": round(self.points, 2), "explain": self.explain_zh}


@dataclass(frozen=True)
class Proposal:
    resource: Resource
    org: Organization
    remaining: int
    factors: tuple[Factor, ...]

    @property
    def score(self) -> float:
        return sum(f.points for f in self.factors)

    def as_dict(self) -> dict[str, Any]:
        policy = orgs_policy()
        return {
            "resource": {"code": readable("resource", self.resource.id), "title": self.resource.title,
                         "kind": self.resource.kind,
                         "kind_label": policy.resource_kinds.get(self.resource.kind, self.resource.kind),
                         "remaining": self.remaining, "capacity": self.resource.capacity, "unit": self.resource.unit},
            "org": {"code": self.org.code, "name": self.org.name, "kind": self.org.kind},
            "score": round(self.score, 2),
            "factors": [f.as_dict() for f in self.factors],
        }


def _outcomes(session: Session, org_ids: set[int], policy: MatchingPolicy) -> dict[int, tuple[float, int]]:
    """Per unit: (outcome factor, number of finished projects)."""
    scores: dict[int, list[float]] = defaultdict(list)
    for org_id, status, rating in session.execute(
            select(Project.owner_org_id, Project.status, Project.rating)
            .where(Project.owner_org_id.in_(org_ids), Project.status.in_(("completed", "cancelled")))):
        if status == "cancelled":
            scores[org_id].append(policy.outcomes.cancelled)
        else:
            scores[org_id].append(rating / 5 if rating else policy.outcomes.unrated)
    return {o: (sum(v) / len(v), len(v)) for o, v in scores.items()}


def _explain_outcome(found: tuple[float, int] | None, policy: MatchingPolicy) -> tuple[float, str]:
    if found is None:
        return policy.outcomes.no_history, "尚无已结束项目，按中性计"
    value, n = found
    return value, f"{n} 个已结束项目，平均成效 {value * 5:.1f}/5"


def propose(session: Session, *, actor: Actor, need: str, limit: int | None = None) -> tuple[Need, list[Proposal]]:
    """The ranked proposals for a need (read access to the need is enough to see them)."""
    need_row, region = needs_service.get_need(session, actor=actor, code=need)
    return need_row, rank(session, need=need_row, region=region, published=published_prefixes(actor, "org.read"),
                          limit=limit)


def rank(
    session: Session, *, need: Need, region: Region, published: list[str], limit: int | None = None,
) -> list[Proposal]:
    policy = matching_policy()
    w = policy.weights
    kinds = {need.kind: 1.0} | {k: v for k, v in policy.related_kinds.get(need.kind, {}).items() if v > 0}
    day = today()
    rows = session.execute(
        select(Resource, Organization, Region)
        .join(Organization, Organization.id == Resource.org_id)
        .join(Region, Region.id == Resource.region_id)
        .where(Resource.kind.in_(kinds), Resource.status == "open",
               or_(Resource.available_from.is_(None), Resource.available_from <= day),
               or_(Resource.available_until.is_(None), Resource.available_until >= day),
               prefix_clause(Region.code, published))).all()
    used = allocated(session, [r.id for r, _, _ in rows])
    village_code = region.code[: BY_NAME["village"].code_length]
    village = session.execute(select(Region.id, Region.name).where(Region.code == village_code)).first()
    village_id, village_name = (village.id, village.name) if village else (None, region.name)
    covering = covering_org_ids(session, village_id=village_id) if village_id else set()
    serving = set(session.scalars(select(OrgVillage.org_id).where(OrgVillage.region_id == village_id))) \
        if village_id else set()
    outcomes = _outcomes(session, {o.id for _, o, _ in rows}, policy)
    need_lon = need.lon if need.lon is not None else region.centroid_lon
    need_lat = need.lat if need.lat is not None else region.centroid_lat
    labels = orgs_policy().resource_kinds
    proposals = []
    for resource, org, where in rows:
        remaining = resource.capacity - used.get(resource.id, 0)
        if remaining <= 0:
            continue
        lon = resource.lon if resource.lon is not None else org.lon if org.lon is not None else where.centroid_lon
        lat = resource.lat if resource.lat is not None else org.lat if org.lat is not None else where.centroid_lat
        km = km_between(need_lon, need_lat, lon, lat)
        kind = kinds[resource.kind]
        if org.id in covering:
            alliance, why = policy.alliance.covering, f"属覆盖{village_name}的联建/结对"
        elif org.id in serving:
            alliance, why = policy.alliance.serves_village, "服务该村(社区)，但不在覆盖它的联建中"
        else:
            alliance, why = 0.0, "不在覆盖该村(社区)的联建中"
        outcome, outcome_why = _explain_outcome(outcomes.get(org.id), policy)
        proposals.append(Proposal(resource, org, remaining, (
            Factor("kind", kind, w.kind, "类型相同" if resource.kind == need.kind else
                   f"相关类型（{labels.get(resource.kind, resource.kind)}），计 {kind:g}"),
            Factor("distance", max(0.0, 1 - km / policy.distance.zero_km), w.distance,
                   f"相距约 {km:.1f} 公里（{policy.distance.zero_km:g} 公里外计 0）"),
            Factor("capacity", remaining / resource.capacity, w.capacity,
                   f"剩余 {remaining}/{resource.capacity}{resource.unit}"),
            Factor("alliance", alliance, w.alliance, why),
            Factor("outcomes", outcome, w.outcomes, outcome_why),
        )))
    proposals.sort(key=lambda p: (-p.score, p.resource.id))
    return proposals[: limit or policy.max_proposals]
