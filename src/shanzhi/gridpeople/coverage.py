"""Coverage of a region by its grid people: which grids and micro-grids have no leader, how many
liaisons serve per 1,000 residents, how many people hold each role — for the region and for each
of its children (the towns of the district, the villages of a town …).

Read-only. The leader roles, the liaison role, the residents' fields and the ratio's base are
policy data (`policy/gridpeople.toml`). Residents of a region are its own figure when it has one,
else the sum of its children's (demo and imported trees carry population on villages).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize
from shanzhi.geo.levels import BY_NAME, child_level
from shanzhi.geo.models import Region
from shanzhi.geo.service import get_region, ref_dict
from shanzhi.gridpeople.models import GridAssignment
from shanzhi.gridpeople.policy import GridPeoplePolicy, gridpeople_policy
from shanzhi.gridpeople.service import CURRENT


@dataclass
class _Tally:
    regions: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by leader level
    uncovered: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    liaisons: set[int] = field(default_factory=set)


def _ratio(people: int, residents: int | None, per: int) -> float | None:
    return round(people * per / residents, 2) if residents else None


def coverage(session: Session, *, actor: Actor, region: str) -> dict[str, Any]:
    root = get_region(session, code=region)
    authorize(session, actor, "gridpeople.read", Target("region", root.code, (root.code,), label="区域"))
    return coverage_of(session, root=root)


def coverage_of(session: Session, *, root: Region, policy: GridPeoplePolicy | None = None) -> dict[str, Any]:
    """The report for `root` (no authorization: callers check `gridpeople.read` first)."""
    policy = policy or gridpeople_policy()
    rules = policy.coverage
    nodes = session.execute(
        select(Region.code, Region.name, Region.level, Region.population, Region.floating_population)
        .where(Region.code.startswith(root.code))
    ).all()
    held = session.execute(
        select(Region.code, GridAssignment.role, GridAssignment.person_id)
        .join(Region, Region.id == GridAssignment.region_id)
        .where(Region.code.startswith(root.code), CURRENT)
    ).all()
    covered = {(code, role) for code, role, _ in held}
    below = child_level(root.level)
    cut = below.code_length if below else None

    def keys(code: str) -> list[str]:
        """The report's rows a region counts in: the root, and the child whose subtree holds it."""
        return [root.code, code[:cut]] if cut and len(code) >= cut else [root.code]

    tallies: dict[str, _Tally] = defaultdict(_Tally)
    uncovered: dict[str, list[dict[str, str]]] = {level: [] for level in rules.leaders}
    for n in sorted(nodes, key=lambda n: n.code):
        role = rules.leaders.get(n.level)
        if role is None:
            continue
        missing = (n.code, role) not in covered
        if missing:
            uncovered[n.level].append({"code": n.code, "name": n.name})
        for k in keys(n.code):
            tallies[k].regions[n.level] += 1
            tallies[k].uncovered[n.level] += missing
    roles: dict[str, list[int]] = defaultdict(list)
    for code, role, person in held:
        roles[role].append(person)
        if role == rules.liaison_role:
            for k in keys(code):
                tallies[k].liaisons.add(person)

    residents = _residents(nodes, rules.residents)
    limit = rules.list_limit

    def leaders(t: _Tally) -> dict[str, dict[str, Any]]:
        return {level: {"role": role, "role_label": policy.label(role), "level_zh": BY_NAME[level].label_zh,
                        "total": t.regions[level], "without_leader": t.uncovered[level]}
                for level, role in rules.leaders.items()}

    top = tallies[root.code]
    children = sorted((n for n in nodes if cut and len(n.code) == cut), key=lambda n: n.code)
    return {
        "region": ref_dict(root.code, root.name, root.level),
        "policy_version": policy.version,
        "leaders": {level: {**row, "uncovered": uncovered[level][:limit],
                            "truncated": len(uncovered[level]) > limit}
                    for level, row in leaders(top).items()},
        "liaisons": {"role": rules.liaison_role, "role_label": policy.label(rules.liaison_role),
                     "people": len(top.liaisons), "residents": residents.get(root.code),
                     "per": rules.per_residents,
                     "ratio": _ratio(len(top.liaisons), residents.get(root.code), rules.per_residents)},
        "roles": [{"role": name, "label": r.label, "assignments": len(roles[name]), "people": len(set(roles[name]))}
                  for name, r in policy.roles.items()],
        "people": len({person for _, _, person in held}),
        "children": [
            {**ref_dict(c.code, c.name, c.level), "leaders": leaders(tallies[c.code]),
             "residents": residents.get(c.code), "liaisons": len(tallies[c.code].liaisons),
             "liaison_ratio": _ratio(len(tallies[c.code].liaisons), residents.get(c.code), rules.per_residents)}
            for c in children
        ],
    }


def _residents(nodes: list[Any], fields: tuple[str, ...]) -> dict[str, int]:
    """Residents per region code: its own figure, else the sum of its children's (absent: no data)."""
    own: dict[str, int] = {}
    kids: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        if n.population is not None:
            own[n.code] = sum(getattr(n, f) or 0 for f in fields)
        kids[n.code[:-3]].append(n.code)  # every level adds three digits to its parent's code
    memo: dict[str, int | None] = {}

    def total(code: str) -> int | None:
        if code not in memo:
            parts = [v for v in (total(k) for k in kids.get(code, ())) if v is not None]
            memo[code] = own[code] if code in own else (sum(parts) if parts else None)
        return memo[code]

    return {n.code: v for n in nodes if (v := total(n.code)) is not None}
