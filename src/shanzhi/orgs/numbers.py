"""Numbers for any region, and a village's summary (for the village page and the live map).

An alliance or pairing counts for a region when it sits there or covers a village there; only
active ones count. Member units are the distinct organizations with a current spell in those
alliances (leads not included: the "X" of 1+X). Needs and projects count by the need's place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import (
    Actor,
    Target,
    authorize,
    require_somewhere,
    scope_prefixes,
)
from shanzhi.db import hours_between
from shanzhi.errors import InvalidInput
from shanzhi.geo.models import Region
from shanzhi.orgs import alliances as alliances_service
from shanzhi.orgs import needs as needs_service
from shanzhi.orgs import projects as projects_service
from shanzhi.orgs.alliance_models import Alliance, AllianceMember, AllianceVillage
from shanzhi.orgs.common import region_by_code
from shanzhi.orgs.list_models import Need, Project, Resource
from shanzhi.orgs.models import Organization, OrgVillage
from shanzhi.orgs.policy import orgs_policy
from shanzhi.orgs.service import org_dicts


def _region(session: Session, actor: Actor, code: str | None) -> Region:
    require_somewhere(session, actor, "org.read")
    if code is None:
        prefixes = scope_prefixes(actor, "org.read")
        if len(prefixes) != 1:
            raise InvalidInput("Say which region", "请指定区域编码", code="region_required")
        code = prefixes[0]
    region = region_by_code(session, code)
    authorize(session, actor, "org.read", Target("region", region.code, (region.code,), label="区域"))
    return region


def _arrangements(prefix: str, kind: str) -> Any:
    """Active arrangements of `kind` sitting in, or covering a village in, the region."""
    sits = select(Region.id).where(Region.code.startswith(prefix, autoescape=True))
    covers = (select(AllianceVillage.alliance_id).join(Region, Region.id == AllianceVillage.region_id)
              .where(Region.code.startswith(prefix, autoescape=True)))
    return select(Alliance.id).where(Alliance.kind == kind, Alliance.status == "active",
                                     or_(Alliance.region_id.in_(sits), Alliance.id.in_(covers)))


def _mean_days(session: Session, prefix: str, start: Any, end: Any) -> float | None:
    hours = session.scalar(select(func.avg(hours_between(start, end))).join(Region, Region.id == Need.region_id)
                           .where(Region.code.startswith(prefix, autoescape=True), end.is_not(None)))
    return round(float(hours) / 24, 1) if hours is not None else None


def numbers(session: Session, *, actor: Actor, region: str | None = None) -> dict[str, Any]:
    place = _region(session, actor, region)
    prefix = place.code
    policy = orgs_policy()
    alliances = _arrangements(prefix, "alliance")
    pairings = _arrangements(prefix, "pairing")

    def count(stmt: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

    members = select(AllianceMember.org_id).where(AllianceMember.alliance_id.in_(alliances),
                                                  AllianceMember.left_on.is_(None)).distinct()
    paired = select(AllianceMember.org_id).where(AllianceMember.alliance_id.in_(pairings),
                                                 AllianceMember.left_on.is_(None)).distinct()
    in_place = Region.code.startswith(prefix, autoescape=True)
    resources = select(Resource.id).join(Region, Region.id == Resource.region_id).where(in_place,
                                                                                        Resource.status == "open")
    need_status = dict(session.execute(select(Need.status, func.count()).join(Region, Region.id == Need.region_id)
                                       .where(in_place).group_by(Need.status)).tuples().all())
    flagged = count(select(Need.id).join(Region, Region.id == Need.region_id)
                    .where(in_place, Need.status == "open", Need.raised_at < needs_service.flag_before()))
    project_rows = session.execute(
        select(Project.status, func.count(), func.sum(Project.beneficiaries))
        .join(Need, Need.id == Project.need_id).join(Region, Region.id == Need.region_id)
        .where(in_place).group_by(Project.status)).all()
    project_status = {s: int(n) for s, n, _ in project_rows}
    return {
        "region": {"code": place.code, "name": place.name, "level": place.level},
        "alliances": count(alliances),
        "member_units": count(members),
        "pairings": count(pairings),
        "paired_units": count(paired),
        "resources": count(resources),
        "needs": {**{s: int(need_status.get(s, 0)) for s in policy.need_statuses},
                  "total": int(sum(need_status.values())), "flagged": flagged},
        "projects": {**{s: project_status.get(s, 0) for s in policy.project_statuses},
                     "total": sum(project_status.values())},
        "beneficiaries": int(sum(b or 0 for s, _, b in project_rows if s == "completed")),
        "avg_days_to_match": _mean_days(session, prefix, Need.raised_at, Need.matched_at),
        "avg_days_to_outcome": _mean_days(session, prefix, Need.raised_at, Need.met_at),
    }


def village_summary(session: Session, *, actor: Actor, village: str) -> dict[str, Any]:
    """What the village page shows: its alliances and pairings (with the paired units), the
    units that serve it, its open needs, its projects and its numbers."""
    region = region_by_code(session, village, levels=("village",), what_zh="村(社区)")
    authorize(session, actor, "org.read", Target("region", region.code, (region.code,), label="村(社区)"))
    arrangements = alliances_service.alliance_dicts(
        session, alliances_service.village_arrangements(session, village_id=region.id), detail=True)
    for a in arrangements:
        a.pop("history", None)
        a.pop("charter", None)
    serving = session.execute(
        select(Organization, Region).join(Region, Region.id == Organization.region_id)
        .join(OrgVillage, OrgVillage.org_id == Organization.id).where(OrgVillage.region_id == region.id)
        .order_by(Organization.kind, Organization.id)).all()
    open_needs, _ = needs_service.list_needs(session, actor=actor, region=region.code, status="open", size=200)
    projects, _ = projects_service.list_projects(session, actor=actor, region=region.code, size=100)
    return {
        "village": {"code": region.code, "name": region.name},
        "alliances": [a for a in arrangements if a["kind"] != "pairing"],
        "pairings": [a for a in arrangements if a["kind"] == "pairing"],
        "paired_units": [m["org"] for a in arrangements if a["kind"] == "pairing" for m in a["members"]],
        "serving_units": org_dicts(session, [(o, r) for o, r in serving]),
        "open_needs": needs_service.need_dicts(session, open_needs),
        "projects": [p for p in projects_service.project_dicts(session, projects) if p["status"] != "cancelled"],
        "numbers": numbers(session, actor=actor, region=region.code),
    }
