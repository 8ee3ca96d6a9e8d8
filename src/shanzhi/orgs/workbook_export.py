"""The XLSX template and export of organizations, alliances, members and the three lists.

An exported file imports back unchanged (phones stay masked and are kept as they are), so a
district can edit its lists in Excel and load them again.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, require_somewhere
from shanzhi.accounts.crypto import decrypt_text, mask_phone
from shanzhi.db import as_utc, local_time
from shanzhi.geo.models import Region
from shanzhi.orgs import alliances as alliances_service
from shanzhi.orgs import needs as needs_service
from shanzhi.orgs import projects as projects_service
from shanzhi.orgs.alliance_models import Alliance, AllianceMember, AllianceVillage
from shanzhi.orgs.common import prefix_clause, published_prefixes, readable
from shanzhi.orgs.list_models import Need, Project, ProjectResource, Resource
from shanzhi.orgs.models import Organization, OrgContact, OrgVillage
from shanzhi.orgs.workbook_sheets import BY_KEY, SHEETS, Column, Sheet, letter, words

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BOLD = Font(bold=True)
_REQUIRED = PatternFill("solid", fgColor="FFF2CC")
_JOIN = "、"


def _header(ws: Any, sheet: Sheet) -> list[WriteOnlyCell]:
    cells = []
    for column in sheet.columns:
        cell = WriteOnlyCell(ws, value=column.title)
        cell.font = _BOLD
        if column.required:
            cell.fill = _REQUIRED
        cells.append(cell)
    return cells


def _add(wb: Workbook, sheet: Sheet, rows: Iterable[list[Any]]) -> None:
    ws = wb.create_sheet(sheet.name)
    for i, column in enumerate(sheet.columns):
        ws.column_dimensions[letter(i)].width = max(10, min(40, len(column.title) * 2 + 4))
    ws.freeze_panes = "A2"
    ws.append(_header(ws, sheet))
    for row in rows:
        ws.append(row)


def _help(wb: Workbook) -> None:
    ws = wb.create_sheet("说明")
    ws.append([WriteOnlyCell(ws, value=v) for v in ("工作表", "列", "必填", "说明")])
    ws.append(["（总则）", "", "",
               "第 1 行为表头，数据从第 2 行起；任何一行有误则整个文件不导入，并逐行列出错误（行号、列名）。"])
    for sheet in SHEETS:
        ws.append([sheet.name, "", "", sheet.help])
        for column in sheet.columns:
            ws.append(["", column.header, "是" if column.required else "", column.help])
    values = wb.create_sheet("可选值")
    values.append(["列", "编码", "名称"])
    seen = set()
    for sheet in SHEETS:
        for column in sheet.columns:
            if column.words and column.words not in seen:
                seen.add(column.words)
                for key, label in words(column.words).items():
                    values.append([f"{sheet.name}·{column.header}", key, label])


def _bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def template() -> bytes:
    """An empty workbook with every importable sheet's headers, the column notes and the allowed values."""
    wb = Workbook(write_only=True)
    for sheet in SHEETS:
        if sheet.importable:
            _add(wb, sheet, [])
    _help(wb)
    return _bytes(wb)


def _cell(column: Column, value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row(sheet: Sheet, values: dict[str, Any]) -> list[Any]:
    return [_cell(c, values.get(c.key)) for c in sheet.columns]


def _codes_by(session: Session, stmt: Any) -> dict[int, str]:
    out: dict[int, list[str]] = defaultdict(list)
    for owner, code in session.execute(stmt):
        out[owner].append(code)
    return {k: _JOIN.join(v) for k, v in out.items()}


def _organizations(session: Session, actor: Actor, region: str | None) -> Iterator[list[Any]]:
    stmt = (select(Organization, Region.code).join(Region, Region.id == Organization.region_id)
            .where(prefix_clause(Region.code, published_prefixes(actor, "org.read"))))
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    rows = session.execute(stmt.order_by(Region.code, Organization.id)).all()
    ids = [o.id for o, _ in rows]
    villages = _codes_by(session, select(OrgVillage.org_id, Region.code).join(Region, Region.id == OrgVillage.region_id)
                         .where(OrgVillage.org_id.in_(ids)).order_by(Region.code)) if ids else {}
    contacts: dict[int, OrgContact] = {}
    for c in session.scalars(select(OrgContact).where(OrgContact.org_id.in_(ids)).order_by(OrgContact.id.desc())) \
            if ids else []:
        contacts[c.org_id] = c  # the first contact wins (descending order)
    sheet = BY_KEY["organizations"]
    for org, code in rows:
        c = contacts.get(org.id)
        yield _row(sheet, {
            "code": org.code, "name": org.name, "kind": org.kind, "level": org.level, "region": code,
            "lon": org.lon, "lat": org.lat, "address": org.address, "villages": villages.get(org.id),
            "contact_name": c.name if c else None, "contact_title": c.title if c else None,
            "contact_phone": mask_phone(decrypt_text(c.phone_encrypted)) if c and c.phone_encrypted else None,
            "description": org.description,
        })


def _alliances(session: Session, actor: Actor, region: str | None) -> tuple[list[Alliance], list[list[Any]]]:
    stmt = select(Alliance).where(alliances_service.read_clause(actor))
    if region:
        stmt = stmt.where(Alliance.id.in_(
            select(Alliance.id).join(Region, Region.id == Alliance.region_id)
            .where(Region.code.startswith(region, autoescape=True)).union(
                select(AllianceVillage.alliance_id).join(Region, Region.id == AllianceVillage.region_id)
                .where(Region.code.startswith(region, autoescape=True)))))
    rows = list(session.scalars(stmt.order_by(Alliance.code)))
    ids = [a.id for a in rows]
    villages = _codes_by(session, select(AllianceVillage.alliance_id, Region.code)
                         .join(Region, Region.id == AllianceVillage.region_id)
                         .where(AllianceVillage.alliance_id.in_(ids)).order_by(Region.code)) if ids else {}
    regions = dict(session.execute(select(Region.id, Region.code)
                                   .where(Region.id.in_({a.region_id for a in rows}))).tuples().all())
    leads = dict(session.execute(select(Organization.id, Organization.code).where(
        Organization.id.in_({a.lead_org_id for a in rows if a.lead_org_id}))).tuples().all()) if rows else {}
    sheet = BY_KEY["alliances"]
    return rows, [_row(sheet, {
        "code": a.code, "kind": a.kind, "name": a.name, "lead": leads.get(a.lead_org_id),
        "region": regions[a.region_id],
        "villages": villages.get(a.id), "started_on": a.started_on, "ended_on": a.ended_on, "status": a.status,
        "charter": a.charter}) for a in rows]


def _members(session: Session, alliances: list[Alliance]) -> Iterator[list[Any]]:
    """Every spell of the alliances (in the order of the 联建 sheet, then by date)."""
    codes = {a.id: a.code for a in alliances}
    ids = list(codes)  # already sorted by code
    sheet = BY_KEY["members"]
    for chunk in range(0, len(ids), 500):
        spells = session.execute(select(AllianceMember, Organization.code)
                                 .join(Organization, Organization.id == AllianceMember.org_id)
                                 .where(AllianceMember.alliance_id.in_(ids[chunk:chunk + 500]))).all()
        spells.sort(key=lambda r: (codes[r[0].alliance_id], r[0].joined_on, r[0].id))
        for m, org in spells:
            yield _row(sheet, {"alliance": codes[m.alliance_id], "org": org, "joined_on": m.joined_on,
                               "left_on": m.left_on, "role": m.role})


def _resources(session: Session, actor: Actor, region: str | None) -> Iterator[list[Any]]:
    stmt = (select(Resource, Organization.code, Region.code).join(Organization, Organization.id == Resource.org_id)
            .join(Region, Region.id == Resource.region_id)
            .where(prefix_clause(Region.code, published_prefixes(actor, "org.read"))))
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    sheet = BY_KEY["resources"]
    for r, org, code in session.execute(stmt.order_by(Resource.id)):
        yield _row(sheet, {"code": readable("resource", r.id), "org": org, "kind": r.kind, "title": r.title,
                           "capacity": r.capacity, "unit": r.unit, "available_from": r.available_from,
                           "available_until": r.available_until, "region": code, "status": r.status,
                           "description": r.description})


def _needs(session: Session, actor: Actor, region: str | None) -> Iterator[list[Any]]:
    stmt = select(Need, Region.code).join(Region, Region.id == Need.region_id).where(
        needs_service.reach_clause(actor, "org.read"))
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    sheet = BY_KEY["needs"]
    for n, code in session.execute(stmt.order_by(Need.id)):
        yield _row(sheet, {"code": readable("need", n.id), "kind": n.kind, "title": n.title, "requester": n.requester,
                           "group_name": n.group_name, "region": code, "quantity": n.quantity, "urgency": n.urgency,
                           "description": n.description, "status": n.status,
                           "raised_at": local_time(n.raised_at).date()})


def _projects(session: Session, actor: Actor, region: str | None) -> Iterator[list[Any]]:
    stmt = (select(Project, Organization.code).join(Need, Need.id == Project.need_id)
            .join(Region, Region.id == Need.region_id).join(Organization, Organization.id == Project.owner_org_id)
            .where(projects_service.reach_clause(actor, "org.read")))
    if region:
        stmt = stmt.where(Region.code.startswith(region, autoescape=True))
    rows = session.execute(stmt.order_by(Project.id)).all()
    picks: dict[int, list[str]] = defaultdict(list)
    ids = [p.id for p, _ in rows]
    for chunk in range(0, len(ids), 500):
        for pid, rid, q in session.execute(select(ProjectResource.project_id, ProjectResource.resource_id,
                                                  ProjectResource.quantity)
                                           .where(ProjectResource.project_id.in_(ids[chunk:chunk + 500]))):
            picks[pid].append(f"{readable('resource', rid)}×{q}")
    sheet = BY_KEY["projects"]
    for p, owner in rows:
        yield _row(sheet, {"code": readable("project", p.id), "need": readable("need", p.need_id), "title": p.title,
                           "owner": owner, "owner_name": p.owner_name, "status": p.status,
                           "resources": _JOIN.join(picks[p.id]), "started_on": p.started_on, "due_on": p.due_on,
                           "finished": local_time(as_utc(p.finished_at)).date() if p.finished_at else None,
                           "beneficiaries": p.beneficiaries, "rating": p.rating, "outcome": p.outcome})


def export_workbook(session: Session, *, actor: Actor, region: str | None = None) -> bytes:
    """Everything the actor reads (inside `region`): the directory, alliances and members, the lists."""
    require_somewhere(session, actor, "org.read")
    wb = Workbook(write_only=True)
    _add(wb, BY_KEY["organizations"], _organizations(session, actor, region))
    alliances, rows = _alliances(session, actor, region)
    _add(wb, BY_KEY["alliances"], rows)
    _add(wb, BY_KEY["members"], _members(session, alliances))
    _add(wb, BY_KEY["resources"], _resources(session, actor, region))
    _add(wb, BY_KEY["needs"], _needs(session, actor, region))
    _add(wb, BY_KEY["projects"], _projects(session, actor, region))
    _help(wb)
    return _bytes(wb)
