"""What the organizations' services share: reach, places, readable codes, small checks.

Two kinds of reading. The directory — organizations and the resources they publish — is
published to the whole district: a village cadre must see the district hospital's resource
list to ask for it, so it is readable in every district where the actor holds `org.read`.
Needs, projects and alliances belong to places and are read within the actor's subtree, like
events; a unit (reach `unit`) also sees what it owns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, authorize, can, grants_for
from shanzhi.audit import service as audit
from shanzhi.db import local_time, utcnow
from shanzhi.detect.text import haversine_m
from shanzhi.errors import Forbidden, InvalidInput, NotFound
from shanzhi.geo import service as geo
from shanzhi.geo.levels import BY_NAME
from shanzhi.geo.models import Region
from shanzhi.policy.loader import permissions

MAX_PAGE_SIZE = 500
DISTRICT = BY_NAME["district"].code_length
CODE = re.compile(r"^[A-Za-z0-9_.\-]{2,40}$")
# Readable codes of list rows, derived from their ids.
PREFIXES = {"resource": "ZY", "need": "XQ", "project": "XM"}


def today() -> date:
    """Today as people in the district count days."""
    return local_time(utcnow()).date()


# -- reach ----------------------------------------------------------------------------------


def published_prefixes(actor: Actor, action: str) -> list[str]:
    """Districts whose directory the actor reads: those of the grants holding `action`
    (an API token narrows them to its own district)."""
    policy = permissions()
    out = {g.scope_code[:DISTRICT] for g in actor.grants if policy.grants(g.role, action)}
    if actor.token_scope is not None:
        out &= {actor.token_scope[:DISTRICT]}
    return sorted(out)


def unit_orgs(actor: Actor, action: str) -> list[int]:
    """Organizations the actor acts for through a role with reach `unit` that grants `action`."""
    policy = permissions()
    return sorted({g.org_id for g in actor.grants if g.org_id is not None and policy.grants(g.role, action)
                   and "unit" in policy.roles[g.role].reach})


def prefix_clause(column: Any, prefixes: Iterable[str]) -> ColumnElement[bool]:
    clauses = [column.startswith(p, autoescape=True) for p in prefixes]
    return or_(*clauses) if clauses else false()


def _published(actor: Actor, target: Target) -> bool:
    return bool(target.region_code) and any(
        target.region_code.startswith(p) for p in published_prefixes(actor, "org.read"))  # type: ignore[union-attr]


def check_published(session: Session, actor: Actor, action: str, target: Target) -> None:
    """Directory reads: anything placed in a district the actor reads; otherwise the usual
    authorization (a unit's own things, or the 404/403 with its audit row)."""
    if not _published(actor, target):
        authorize(session, actor, action, target)


def authorize_directory(session: Session, actor: Actor, action: str, target: Target, *, new: bool = False) -> None:
    """Changing directory data (an organization, its resources). A grant held for a unit (an
    alliance unit's account) reaches only that unit's entries, whatever its region reach says;
    refusing an existing entry the actor reads in the directory answers 403, not 404 (`new`:
    creating one in a region outside the actor's scope is a 404, as for any region)."""
    grants = grants_for(actor, action, target)
    if any(g.org_id is None or g.org_id == target.org_id for g in grants):
        return
    seen = bool(grants) or (not new and _published(actor, target))
    authorize_seen(session, actor, action, target, seen=seen, refuse=bool(grants))


def authorize_entry(session: Session, actor: Actor, action: str, target: Target) -> None:
    """A directory entry (organization, resource): read as published, changed as directory data."""
    if action == "org.read":
        check_published(session, actor, action, target)
    else:
        authorize_directory(session, actor, action, target)


def authorize_seen(session: Session, actor: Actor, action: str, target: Target, *, seen: bool,
                   refuse: bool = False) -> None:
    """Like `authorize`, for things readable beyond the actor's scope (the directory; an alliance
    covering one's village): when the actor can read it (`seen`) a refusal is 403, not 404.
    `refuse`: refuse even where `can` would allow (a unit's grant outside its unit)."""
    if not refuse and (can(actor, action, target) or not seen):
        authorize(session, actor, action, target)
        return
    audit.record_durably(session, action=action, actor_id=actor.user_id, actor_name=actor.name,
                         target_type=target.kind, target_id=target.id, region_code=target.region_code,
                         outcome="denied", detail={"reason": "forbidden"})
    raise Forbidden(f"You may not {action} on this {target.kind}",
                    f"您无权对该{target.label or target.kind}执行“{permissions().actions.get(action, action)}”操作",
                    code="forbidden")


# -- places ---------------------------------------------------------------------------------


def region_by_code(session: Session, code: str, *, levels: tuple[str, ...] | None = None,
                   what_zh: str = "区域") -> Region:
    region = session.scalar(select(Region).where(Region.code == str(code)))
    if region is None:
        raise NotFound(f"Region {code} not found", f"{what_zh} {code} 不存在", code="region_not_found")
    if levels is not None and region.level not in levels:
        names = "、".join(BY_NAME[lv].label_zh for lv in levels)
        raise InvalidInput(f"Region {code} is a {region.level}; expected {'/'.join(levels)}",
                           f"{region.name}（{code}）不是{names}", code="wrong_level")
    return region


def place(session: Session, *, region: str | None, lon: float | None, lat: float | None, crs: str = "wgs84",
          level: str | None = None, levels: tuple[str, ...] | None = None) -> tuple[Region, float | None, float | None]:
    """Where something sits: a region (by code), a point (located to `level`, else the deepest
    region allowed by `levels`), or both (the point must lie in the region). Returns the region
    and the WGS84 point."""
    if (lon is None) != (lat is None):
        raise InvalidInput("Give both lon and lat", "经度和纬度须同时提供", code="invalid_coordinates")
    if region is None and lon is None:
        raise InvalidInput("Give a location: a region code or lon/lat", "请提供位置：区域编码或经纬度",
                           code="location_required")
    chain: list[str] = []
    if lon is not None and lat is not None:
        try:
            found = geo.locate(session, lon=lon, lat=lat, crs=crs)
        except NotFound as exc:
            raise InvalidInput(exc.message, exc.message_zh, code="outside_jurisdiction") from None
        lon, lat = found.lon, found.lat
        chain = [r.code for r in found.chain]
        if region is None:
            wanted = [r for r in found.chain if (level is None or r.level == level)
                      and (levels is None or r.level in levels)]
            if not wanted:
                raise InvalidInput("The point lies in no region of the required level",
                                   "该位置不在所需层级的区域内", code="wrong_level")
            region = wanted[0].code if level is not None else wanted[-1].code
    row = region_by_code(session, str(region), levels=levels)
    if chain and row.code not in chain:
        raise InvalidInput(f"The point lies outside region {row.code}", f"该位置不在{row.name}范围内",
                           code="point_outside_region")
    if level is not None and row.level != level:
        raise InvalidInput(f"{row.name} is not at level {level}",
                           f"{row.name}不是{BY_NAME[level].label_zh}级区域", code="wrong_level")
    return row, lon, lat


def km_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in kilometres."""
    return haversine_m(lon1, lat1, lon2, lat2) / 1000


# -- codes and checks -----------------------------------------------------------------------


def readable(kind: str, row_id: int) -> str:
    return f"{PREFIXES[kind]}{row_id:06d}"


def row_id(kind: str, code: str) -> int | None:
    """The id inside a readable code (XQ000034 → 34), or None when it is not one of `kind`'s."""
    prefix = PREFIXES[kind]
    code = (code or "").strip().upper()
    return int(code[len(prefix):]) if code.startswith(prefix) and code[len(prefix):].isdigit() else None


def check_text(value: Any, label: str, label_zh: str, *, limit: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"{label} is required", f"请填写{label_zh}", code="missing_field")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{label} must be text", f"{label_zh}应为文字", code="invalid_field")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{label} is too long (max {limit})", f"{label_zh}过长（最多 {limit} 字）", code="too_long")
    return value


def check_code(code: Any, limit: int = 40) -> str:
    if not isinstance(code, str) or not CODE.match(code.strip()) or len(code.strip()) > limit:
        raise InvalidInput(f"A code is 2–{limit} letters, digits, '.', '_' or '-'",
                           f"编码应为 2–{limit} 位字母、数字或 . _ -", code="invalid_code")
    return code.strip()


def check_paging(page: int, size: int) -> None:
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and size 1–{MAX_PAGE_SIZE}",
                           f"页码应 ≥ 1，每页条数应为 1–{MAX_PAGE_SIZE}", code="invalid_paging")


def check_period(start: date | None, end: date | None, what_zh: str = "") -> None:
    if start is not None and end is not None and end < start:
        raise InvalidInput("The end date precedes the start date", f"{what_zh}结束日期早于开始日期",
                           code="invalid_period")


def check_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in bbox)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput("bbox must be west,south,east,north", "范围应为 西,南,东,北 经纬度", code="invalid_bbox")
    return west, south, east, north


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
