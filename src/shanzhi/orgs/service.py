"""Organizations: create, change, read, their contacts (personal data) and the villages they serve.

Handling units and alliance members are the same rows; this module never touches what events
routing relies on (code, kind, region) except through the same checks for every kind.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, Target, require_somewhere
from shanzhi.accounts.crypto import decrypt_text, encrypt_text, mask_phone
from shanzhi.accounts.service import PHONE
from shanzhi.audit import service as audit
from shanzhi.errors import Conflict, InvalidInput, NotFound
from shanzhi.geo.models import Region
from shanzhi.orgs.common import (
    authorize_directory,
    authorize_entry,
    check_bbox,
    check_code,
    check_paging,
    check_published,
    check_text,
    place,
    prefix_clause,
    published_prefixes,
    region_by_code,
)
from shanzhi.orgs.models import Organization, OrgContact, OrgVillage
from shanzhi.orgs.policy import orgs_policy

UNSET: Any = object()  # "leave as it is" for partial updates
# Bodies sit at a district, a town or a village; a point places them in the village around it.
ORG_LEVELS = ("district", "town", "village")


@dataclass(frozen=True)
class ContactIn:
    name: str
    title: str | None = None
    phone: str | None = None


# -- reading --------------------------------------------------------------------------------


def target(org: Organization, region_code: str) -> Target:
    return Target("organization", org.code, (region_code,), org_id=org.id, label="组织")


def find(session: Session, code: str) -> tuple[Organization, Region]:
    row = session.execute(select(Organization, Region).join(Region, Region.id == Organization.region_id)
                          .where(Organization.code == str(code).strip())).first()
    if row is None:
        raise NotFound(f"Organization {code} not found", f"组织 {code} 不存在或不在您的管辖范围内", code="not_found")
    return row[0], row[1]


def get_org(session: Session, *, actor: Actor, code: str, action: str = "org.read") -> tuple[Organization, Region]:
    org, region = find(session, code)
    authorize_entry(session, actor, action, target(org, region.code))
    return org, region


def org_dicts(
    session: Session, rows: list[tuple[Organization, Region]], *, detail: bool = False,
) -> list[dict[str, Any]]:
    """Organizations as shown: phones masked; villages served (and contacts) in two queries."""
    kinds = orgs_policy().kinds()
    ids = [o.id for o, _ in rows]
    villages: dict[int, list[dict[str, str]]] = defaultdict(list)
    contacts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids and detail:
        for org_id, code, name in session.execute(
                select(OrgVillage.org_id, Region.code, Region.name).join(Region, Region.id == OrgVillage.region_id)
                .where(OrgVillage.org_id.in_(ids)).order_by(Region.code)):
            villages[org_id].append({"code": code, "name": name})
        for c in session.scalars(select(OrgContact).where(OrgContact.org_id.in_(ids)).order_by(OrgContact.id)):
            phone = mask_phone(decrypt_text(c.phone_encrypted)) if c.phone_encrypted else None
            contacts[c.org_id].append({"id": c.id, "name": c.name, "title": c.title, "phone": phone})
    out = []
    for org, region in rows:
        kind = kinds.get(org.kind)
        item: dict[str, Any] = {
            "code": org.code, "name": org.name, "kind": org.kind, "kind_label": kind.label if kind else org.kind,
            "individual": bool(kind and kind.individual), "level": org.level,
            "region": {"code": region.code, "name": region.name, "level": region.level},
            "point": [org.lon, org.lat] if org.lon is not None else None,
            "position": [org.lon if org.lon is not None else region.centroid_lon,
                         org.lat if org.lat is not None else region.centroid_lat],
            "address": org.address,
        }
        if detail:
            item |= {"description": org.description, "contacts": contacts[org.id], "villages": villages[org.id]}
        out.append(item)
    return out


def list_orgs(
    session: Session, *, actor: Actor, q: str | None = None, kind: str | None = None, region: str | None = None,
    village: str | None = None, page: int = 1, size: int = 50,
) -> tuple[list[tuple[Organization, Region]], int]:
    """The directory: organizations placed in the actor's districts, filtered."""
    require_somewhere(session, actor, "org.read")
    check_paging(page, size)
    stmt = (select(Organization, Region).join(Region, Region.id == Organization.region_id)
            .where(prefix_clause(Region.code, published_prefixes(actor, "org.read"))))
    if q:
        stmt = stmt.where(or_(Organization.name.contains(q, autoescape=True), Organization.code == q))
    if kind:
        orgs_policy().kind(kind)
        stmt = stmt.where(Organization.kind == kind)
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    if village:
        served = select(OrgVillage.org_id).join(Region, Region.id == OrgVillage.region_id).where(Region.code == village)
        stmt = stmt.where(Organization.id.in_(served))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Region.code, Organization.id).offset((page - 1) * size).limit(size)).all()
    return [(o, r) for o, r in rows], total


def orgs_in_bbox(
    session: Session, *, actor: Actor, bbox: tuple[float, float, float, float], kinds: list[str] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Organizations whose point (or region centroid) lies in the box, for the live map."""
    require_somewhere(session, actor, "org.read")
    west, south, east, north = check_bbox(bbox)
    lon = func.coalesce(Organization.lon, Region.centroid_lon)
    lat = func.coalesce(Organization.lat, Region.centroid_lat)
    stmt = (select(Organization, Region).join(Region, Region.id == Organization.region_id)
            .where(prefix_clause(Region.code, published_prefixes(actor, "org.read")),
                   lon.between(west, east), lat.between(south, north)))
    if kinds:
        stmt = stmt.where(Organization.kind.in_(kinds))
    rows = session.execute(stmt.order_by(Organization.id).limit(limit)).all()
    return org_dicts(session, [(o, r) for o, r in rows])


# -- changing -------------------------------------------------------------------------------


def _check_kind(kind: str, level: str | None) -> None:
    spec = orgs_policy().kind(kind)
    if spec.levels and level not in spec.levels:
        raise InvalidInput(f"A {kind} needs a level: {', '.join(spec.levels)}",
                           f"{spec.label}须注明层级（{'、'.join(spec.levels)}）", code="invalid_level")
    if not spec.levels and level is not None:
        raise InvalidInput(f"A {kind} has no level", f"{spec.label}不区分层级", code="invalid_level")


def _contacts(contacts: list[ContactIn]) -> list[OrgContact]:
    out = []
    for c in contacts:
        name = check_text(c.name, "contact name", "联系人姓名", limit=64)
        title = check_text(c.title, "contact title", "联系人职务", limit=64, required=False)
        phone = (c.phone or "").strip() or None
        if phone is not None and not PHONE.match(phone):
            raise InvalidInput(f"Phone {phone!r} is not a mainland mobile or landline number",
                               "电话号码格式不正确（手机 11 位，或区号-座机号）", code="invalid_phone")
        out.append(OrgContact(name=name, title=title, phone_encrypted=encrypt_text(phone) if phone else None))
    return out


def _villages(session: Session, codes: list[str]) -> list[Region]:
    rows = [region_by_code(session, c, levels=("village",), what_zh="村(社区)") for c in dict.fromkeys(codes)]
    return rows


def _set_villages(session: Session, org: Organization, villages: list[Region]) -> None:
    session.execute(delete(OrgVillage).where(OrgVillage.org_id == org.id))
    session.add_all(OrgVillage(org_id=org.id, region_id=v.id) for v in villages)


def _summary(org: Organization, region: Region, villages: list[str], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"code": org.code, "name": org.name, "kind": org.kind, "level": org.level, "region": region.code,
            "point": [org.lon, org.lat] if org.lon is not None else None, "address": org.address,
            "villages": villages, "contacts": contacts}


def _contact_summary(session: Session, org: Organization) -> list[dict[str, Any]]:
    return [{"name": c.name, "phone": mask_phone(decrypt_text(c.phone_encrypted)) if c.phone_encrypted else None}
            for c in session.scalars(select(OrgContact).where(OrgContact.org_id == org.id).order_by(OrgContact.id))]


def create_org(
    session: Session, *, actor: Actor, code: str, name: str, kind: str, region: str | None = None,
    lon: float | None = None, lat: float | None = None, crs: str = "wgs84", level: str | None = None,
    address: str | None = None, description: str | None = None, villages: list[str] = (),  # type: ignore[assignment]
    contacts: list[ContactIn] = (),  # type: ignore[assignment]
) -> Organization:
    code = check_code(code, limit=32)  # organizations.code is 32 characters
    name = check_text(name, "name", "名称", limit=120)  # type: ignore[assignment]
    _check_kind(kind, level)
    where, lon, lat = place(session, region=region, lon=lon, lat=lat, crs=crs, level=level, levels=ORG_LEVELS)
    authorize_directory(session, actor, "org.manage", Target("organization", code, (where.code,), label="组织"),
                        new=True)
    if session.scalar(select(Organization.id).where(Organization.code == code)) is not None:
        raise Conflict(f"Organization code {code} is taken", f"组织编码 {code} 已被使用", code="code_taken")
    served = _villages(session, list(villages))
    org = Organization(code=code, name=name, kind=kind, level=level, region_id=where.id, lon=lon, lat=lat,
                       address=check_text(address, "address", "地址", limit=200, required=False),
                       description=check_text(description, "description", "简介", limit=2000, required=False))
    session.add(org)
    session.flush()
    for c in _contacts(list(contacts)):
        c.org_id = org.id
        session.add(c)
    _set_villages(session, org, served)
    session.flush()
    audit.record(session, action="org.create", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="organization", target_id=org.code, region_code=where.code,
                 after=_summary(org, where, [v.code for v in served], _contact_summary(session, org)))
    return org


def update_org(
    session: Session, *, actor: Actor, code: str, name: Any = UNSET, kind: Any = UNSET, level: Any = UNSET,
    region: Any = UNSET, lon: Any = UNSET, lat: Any = UNSET, crs: str = "wgs84", address: Any = UNSET,
    description: Any = UNSET, villages: Any = UNSET,
) -> Organization:
    """Change what is given (UNSET leaves a field alone); placing again needs region and/or point."""
    org, old_region = get_org(session, actor=actor, code=code, action="org.manage")
    before = _summary(org, old_region, _village_codes(session, org), _contact_summary(session, org))
    new_kind = org.kind if kind is UNSET else kind
    new_level = org.level if level is UNSET else level
    _check_kind(new_kind, new_level)
    where = old_region
    if region is not UNSET or lon is not UNSET or lat is not UNSET:
        where, org.lon, org.lat = place(
            session, region=None if region is UNSET else region, lon=None if lon is UNSET else lon,
            lat=None if lat is UNSET else lat, crs=crs, level=new_level, levels=ORG_LEVELS)
        # Moving it must stay within what the actor manages.
        authorize_directory(session, actor, "org.manage", target(org, where.code))
        org.region_id = where.id
    org.kind, org.level = new_kind, new_level
    if name is not UNSET:
        org.name = check_text(name, "name", "名称", limit=120)  # type: ignore[assignment]
    if address is not UNSET:
        org.address = check_text(address, "address", "地址", limit=200, required=False)
    if description is not UNSET:
        org.description = check_text(description, "description", "简介", limit=2000, required=False)
    if villages is not UNSET:
        _set_villages(session, org, _villages(session, list(villages or [])))
    session.flush()
    after = _summary(org, where, _village_codes(session, org), before["contacts"])
    audit.record(session, action="org.update", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="organization", target_id=org.code, region_code=where.code,
                 before={k: v for k, v in before.items() if after[k] != v},
                 after={k: v for k, v in after.items() if before[k] != v})
    return org


def _village_codes(session: Session, org: Organization) -> list[str]:
    return list(session.scalars(select(Region.code).join(OrgVillage, OrgVillage.region_id == Region.id)
                                .where(OrgVillage.org_id == org.id).order_by(Region.code)))


def add_contact(session: Session, *, actor: Actor, code: str, contact: ContactIn) -> OrgContact:
    org, region = get_org(session, actor=actor, code=code, action="org.manage")
    row = _contacts([contact])[0]
    row.org_id = org.id
    session.add(row)
    session.flush()
    audit.record(session, action="org.contact_add", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="organization", target_id=org.code, region_code=region.code,
                 after={"contact_id": row.id, "name": row.name, "phone": mask_phone(contact.phone)})
    return row


def _contact(session: Session, org: Organization, contact_id: int) -> OrgContact:
    row = session.get(OrgContact, contact_id)
    if row is None or row.org_id != org.id:
        raise NotFound("contact not found", "联系人不存在", code="not_found")
    return row


def remove_contact(session: Session, *, actor: Actor, code: str, contact_id: int) -> None:
    org, region = get_org(session, actor=actor, code=code, action="org.manage")
    row = _contact(session, org, contact_id)
    session.delete(row)
    session.flush()
    audit.record(session, action="org.contact_remove", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="organization", target_id=org.code, region_code=region.code,
                 before={"contact_id": contact_id, "name": row.name})


MIN_REASON, MAX_REASON = 2, 200


def reveal_contact_phone(session: Session, *, actor: Actor, code: str, contact_id: int, reason: str) -> str | None:
    """The full phone, for someone allowed to see it who says why; the reason goes into the audit row."""
    reason = (reason or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise InvalidInput(f"Say why you need the number ({MIN_REASON}–{MAX_REASON} characters)",
                           f"请填写查看完整电话的事由（{MIN_REASON}–{MAX_REASON} 字）", code="reason_required")
    org, region = find(session, code)
    check_published(session, actor, "org.read", target(org, region.code))
    authorize_directory(session, actor, "org.reveal", target(org, region.code))
    row = _contact(session, org, contact_id)
    audit.record(session, action="org.reveal", actor_id=actor.user_id, actor_name=actor.name,
                 target_type="organization", target_id=org.code, region_code=region.code,
                 detail={"field": "phone", "contact_id": row.id, "contact": row.name, "reason": reason})
    return decrypt_text(row.phone_encrypted) if row.phone_encrypted else None


def kinds_catalog() -> list[dict[str, Any]]:
    return [{"code": code, "label": k.label, "levels": list(k.levels), "individual": k.individual,
             "handler": k.handler} for code, k in orgs_policy().kinds().items()]
