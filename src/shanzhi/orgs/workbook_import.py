"""XLSX import of organizations, alliances, members, resources and needs: all or nothing.

Every row goes through the same service functions (and permission checks and audit rows) as
the API, each in a savepoint, so one bad row does not hide the next. Any problem — a cell
that cannot be read, or a rule a row breaks — is reported with its sheet, row number and
column, and then the whole import is undone.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor, require_somewhere
from shanzhi.audit import service as audit
from shanzhi.errors import InvalidInput, ShanzhiError
from shanzhi.geo.models import Region
from shanzhi.orgs import alliances as alliances_service
from shanzhi.orgs import needs as needs_service
from shanzhi.orgs import resources as resources_service
from shanzhi.orgs import service as orgs_service
from shanzhi.orgs.alliance_models import Alliance, AllianceMember, AllianceVillage
from shanzhi.orgs.models import Organization, OrgContact, OrgVillage
from shanzhi.orgs.workbook_sheets import (
    BY_NAME,
    CellError,
    Column,
    Sheet,
    letter,
    read_cell,
)

MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024
ORDER = ("organizations", "alliances", "members", "resources", "needs")
# Which column a service error is about, by its code (the rest point at the row as a whole).
ERROR_COLUMNS = {
    "unknown_kind": "kind", "invalid_level": "level", "region_not_found": "region", "wrong_level": "region",
    "region_required": "region", "location_required": "region", "point_outside_region": "lon",
    "outside_jurisdiction": "lon", "invalid_coordinates": "lon", "code_taken": "code", "invalid_code": "code",
    "invalid_phone": "contact_phone", "lead_required": "lead", "invalid_lead": "lead", "no_lead": "lead",
    "too_many_villages": "villages", "already_member": "org", "is_lead": "org", "too_many_members": "org",
    "not_member": "org", "invalid_capacity": "capacity", "capacity_in_use": "capacity", "invalid_quantity": "quantity",
    "need_matched": "kind", "alliance_ended": "alliance",
}
PERIOD_COLUMN = {"alliances": "ended_on", "members": "left_on", "resources": "available_until"}


class RowError(Exception):
    def __init__(self, column: str | None, message_zh: str, message: str = "") -> None:
        super().__init__(message or message_zh)
        self.column, self.message_zh, self.message = column, message_zh, message or message_zh


@dataclass(frozen=True)
class Row:
    number: int  # as Excel shows it (the header is row 1)
    values: dict[str, Any]
    readable: bool = True  # False: a cell could not be read (already reported)


@dataclass
class ImportResult:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, sheet: str, outcome: str) -> None:
        table = getattr(self, outcome)
        table[sheet] = table.get(sheet, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, sheet: Sheet, row: int, column: Column | None, reason_zh: str, reason: str = "") -> None:
        index = sheet.columns.index(column) if column is not None else None
        where = f"“{sheet.name}”第 {row} 行" + (f"，{letter(index)} 列“{column.header}”" if column else "")
        self.items.append({"sheet": sheet.name, "row": row, "column": letter(index) if index is not None else None,
                           "header": column.header if column else None, "reason": reason or reason_zh,
                           "reason_zh": f"{where}：{reason_zh}"})


def _read(data: bytes, problems: _Problems) -> dict[str, list[Row]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(f"The file is not an XLSX workbook: {exc}", "文件不是有效的 XLSX 工作簿",
                           code="invalid_file") from None
    out: dict[str, list[Row]] = {}
    total = 0
    for ws in wb.worksheets:
        sheet = BY_NAME.get(ws.title.strip())
        if sheet is None or not sheet.importable:
            continue  # 说明, 可选值, 项目 and the district's own notes
        values = ws.iter_rows(values_only=True)
        header = [str(h).strip().rstrip("*").strip() if h is not None else "" for h in next(values, ())]
        at: dict[str, int] = {}
        for i, h in enumerate(header):
            for c in sheet.columns:
                if h in (c.header, c.key):
                    at[c.key] = i
        missing = [c for c in sheet.columns if c.required and c.key not in at]
        for c in missing:
            problems.add(sheet, 1, c, "缺少必填列", f"missing column {c.header}")
        rows: list[Row] = []
        for n, cells in enumerate(values, start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                continue
            total += 1
            if total > MAX_ROWS:
                raise InvalidInput(f"At most {MAX_ROWS} rows per file", f"每个文件最多 {MAX_ROWS} 行",
                                   code="too_many_rows")
            parsed: dict[str, Any] = {}
            ok = True
            for c in sheet.columns:
                if c.key not in at:
                    continue
                try:
                    parsed[c.key] = read_cell(c, cells[at[c.key]] if at[c.key] < len(cells) else None)
                except CellError as exc:
                    problems.add(sheet, n, c, str(exc), f"bad cell in {c.header}")
                    ok = False
            rows.append(Row(n, parsed, ok))
        # Without its required columns a sheet cannot be read at all (reported at its header).
        out[sheet.key] = [] if missing else rows
    if not out:
        raise InvalidInput("No known sheet (组织, 联建, 成员, 资源, 需求) in the file",
                           "文件中没有可导入的工作表（组织、联建、成员、资源、需求）", code="invalid_file")
    return out


# -- one row of each sheet ------------------------------------------------------------------


def _changes(current: dict[str, Any], values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The given cells (columns present in the sheet) that differ from what is stored."""
    return {k: values[k] for k in keys if k in values and values[k] != current.get(k)}


def _org_ref(session: Session, code: str, column: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.code == code))
    if org is None:
        raise RowError(column, f"组织 {code} 不存在（可在“组织”表中一并导入）", f"organization {code} not found")
    return org


def _organization(session: Session, actor: Actor, v: dict[str, Any]) -> str:
    if not v.get("contact_name") and (v.get("contact_phone") or v.get("contact_title")):
        raise RowError("contact_name", "填写了联系电话或职务，请同时填写联系人", "a contact needs a name")
    phone = v.get("contact_phone")
    phone = None if phone is None or "*" in phone else phone  # a masked export keeps the stored number
    contact = orgs_service.ContactIn(v["contact_name"], v.get("contact_title"), phone) \
        if v.get("contact_name") else None
    org = session.scalar(select(Organization).where(Organization.code == v["code"]))
    if org is None:
        orgs_service.create_org(session, actor=actor, code=v["code"], name=v["name"], kind=v["kind"],
                                level=v.get("level"), region=v.get("region"), lon=v.get("lon"), lat=v.get("lat"),
                                address=v.get("address"), description=v.get("description"),
                                villages=v.get("villages") or [], contacts=[contact] if contact else [])
        return "created"
    region = session.scalar(select(Region.code).where(Region.id == org.region_id))
    villages = list(session.scalars(select(Region.code).join(OrgVillage, OrgVillage.region_id == Region.id)
                                    .where(OrgVillage.org_id == org.id).order_by(Region.code)))
    current = {"name": org.name, "kind": org.kind, "level": org.level, "address": org.address,
               "description": org.description, "region": region, "lon": org.lon, "lat": org.lat,
               "villages": villages}
    given = dict(v, villages=sorted(set(v.get("villages") or []))) if "villages" in v else v
    changes = _changes(current, given, ("name", "kind", "level", "address", "description", "villages"))
    place = _changes(current, v, ("region", "lon", "lat"))
    if place:
        changes |= {k: v.get(k, current[k]) for k in ("region", "lon", "lat")}
    if changes:
        orgs_service.update_org(session, actor=actor, code=org.code, **changes)
    names = set(session.scalars(select(OrgContact.name).where(OrgContact.org_id == org.id)))
    if contact is not None and contact.name not in names:
        orgs_service.add_contact(session, actor=actor, code=org.code, contact=contact)
        return "updated"
    return "updated" if changes else "unchanged"


def _alliance(session: Session, actor: Actor, v: dict[str, Any]) -> str:
    alliance = session.scalar(select(Alliance).where(Alliance.code == v["code"]))
    if alliance is None:
        alliances_service.create_alliance(
            session, actor=actor, code=v["code"], kind=v["kind"], name=v["name"], lead=v.get("lead"),
            region=v.get("region"), villages=v.get("villages") or [], charter=v.get("charter"),
            started_on=v.get("started_on"), status=v.get("status") or "active")
        if v.get("ended_on"):
            alliances_service.update_alliance(session, actor=actor, code=v["code"], ended_on=v["ended_on"])
        return "created"
    if alliance.kind != v["kind"]:
        raise RowError("kind", "已有联建不能通过导入改变类型", "an alliance keeps its kind")
    lead = session.scalar(select(Organization.code).where(Organization.id == alliance.lead_org_id)) \
        if alliance.lead_org_id else None
    if "lead" in v and (v["lead"] or None) != lead:
        raise RowError("lead", "已有联建不能通过导入更换牵头组织", "an alliance keeps its lead")
    villages = sorted(session.scalars(select(Region.code).join(AllianceVillage, AllianceVillage.region_id == Region.id)
                                      .where(AllianceVillage.alliance_id == alliance.id)))
    current = {"name": alliance.name, "charter": alliance.charter, "status": alliance.status,
               "started_on": alliance.started_on, "ended_on": alliance.ended_on, "villages": villages}
    given = dict(v, villages=sorted(set(v.get("villages") or []))) if "villages" in v else v
    if "status" in given and given["status"] is None:
        given = {k: x for k, x in given.items() if k != "status"}
    changes = _changes(current, given, ("name", "charter", "status", "started_on", "ended_on", "villages"))
    if changes:
        alliances_service.update_alliance(session, actor=actor, code=alliance.code, **changes)
    return "updated" if changes else "unchanged"


def _member(session: Session, actor: Actor, v: dict[str, Any]) -> str:
    alliance = session.scalar(select(Alliance).where(Alliance.code == v["alliance"]))
    if alliance is None:
        raise RowError("alliance", f"联建 {v['alliance']} 不存在（可在“联建”表中一并导入）", "alliance not found")
    org = _org_ref(session, v["org"], "org")
    joined: date = v["joined_on"]
    spell = session.scalar(select(AllianceMember).where(AllianceMember.alliance_id == alliance.id,
                                                        AllianceMember.org_id == org.id,
                                                        AllianceMember.joined_on == joined))
    if spell is None:
        alliances_service.add_member(session, actor=actor, code=alliance.code,
                                     member=alliances_service.MemberIn(org.code, joined, v.get("role")))
        if v.get("left_on"):
            alliances_service.remove_member(session, actor=actor, code=alliance.code, org=org.code,
                                            left_on=v["left_on"])
        return "created"
    if spell.left_on == v.get("left_on"):
        return "unchanged"
    if spell.left_on is None:
        alliances_service.remove_member(session, actor=actor, code=alliance.code, org=org.code, left_on=v["left_on"])
        return "updated"
    raise RowError("left_on", "已结束的成员记录不能通过导入改动", "a finished spell cannot change")


def _resource(session: Session, actor: Actor, v: dict[str, Any]) -> str:
    org = _org_ref(session, v["org"], "org")
    if not v.get("code"):
        resources_service.create_resource(
            session, actor=actor, org=org.code, kind=v["kind"], title=v["title"], capacity=v["capacity"],
            unit=v.get("unit") or "人次", description=v.get("description"), available_from=v.get("available_from"),
            available_until=v.get("available_until"), region=v.get("region"), status=v.get("status") or "open")
        return "created"
    try:
        resource, region = resources_service.find(session, v["code"])
    except ShanzhiError:
        raise RowError("code", f"资源 {v['code']} 不存在；新增资源请留空编号", "resource not found") from None
    if resource.org_id != org.id:
        raise RowError("org", "资源不能通过导入转给其他组织", "a resource keeps its organization")
    if v.get("region") and v["region"] != region.code:
        raise RowError("region", "已有资源不能通过导入改变区域", "a resource keeps its region")
    current = {k: getattr(resource, k) for k in ("kind", "title", "capacity", "unit", "available_from",
                                                  "available_until", "status", "description")}
    given = {k: x for k, x in v.items() if not (k in ("unit", "status") and x is None)}
    changes = _changes(current, given, tuple(current))
    if changes:
        resources_service.update_resource(session, actor=actor, code=v["code"], **changes)
    return "updated" if changes else "unchanged"


def _need(session: Session, actor: Actor, v: dict[str, Any]) -> str:
    if not v.get("code"):
        level = session.scalar(select(Region.level).where(Region.code == v["region"]))
        needs_service.raise_need(
            session, actor=actor, kind=v["kind"], title=v["title"], region=v["region"],
            requester=v.get("requester") or ("village" if level == "village" else "group"),
            group_name=v.get("group_name"), description=v.get("description"), quantity=v.get("quantity"),
            urgency=v.get("urgency") or "normal")
        return "created"
    try:
        need, region = needs_service.find(session, v["code"])
    except ShanzhiError:
        raise RowError("code", f"需求 {v['code']} 不存在；新增需求请留空编号", "need not found") from None
    if v["region"] != region.code:
        raise RowError("region", "已有需求不能通过导入改变区域", "a need keeps its place")
    current = {k: getattr(need, k) for k in ("kind", "title", "description", "quantity", "urgency", "group_name")}
    given = {k: x for k, x in v.items() if not (k == "urgency" and x is None)}
    changes = _changes(current, given, tuple(current))
    if changes:
        needs_service.update_need(session, actor=actor, code=v["code"], **changes)
    return "updated" if changes else "unchanged"


APPLY: dict[str, Callable[[Session, Actor, dict[str, Any]], str]] = {
    "organizations": _organization, "alliances": _alliance, "members": _member, "resources": _resource,
    "needs": _need,
}


def import_workbook(
    session: Session, *, actor: Actor, data: bytes, progress: Callable[[str, int, int], None] | None = None,
) -> ImportResult:
    require_somewhere(session, actor, "org.read")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_BYTES // 2**20} MB", f"文件超过 {MAX_BYTES // 2**20} MB",
                           code="too_large")
    problems = _Problems()
    sheets = _read(data, problems)
    result = ImportResult()
    total = sum(len(r) for r in sheets.values())
    done = 0
    # One savepoint around everything: whatever the caller does with the error, nothing stays.
    try:
        with session.begin_nested():
            for key in ORDER:
                sheet = BY_NAME[key]
                rows = sheets.get(key, [])
                if key == "members":  # history in order: an earlier spell before a rejoining
                    rows = sorted(rows, key=lambda r: (r.values.get("joined_on") or date.min, r.number))
                for row in rows:
                    done += 1
                    if progress and done % 100 == 0:
                        progress("导入组织与清单", done, total)
                    if not row.readable:
                        continue
                    try:
                        with session.begin_nested():
                            result.count(key, APPLY[key](session, actor, row.values))
                    except RowError as exc:
                        column = sheet.column(exc.column) if exc.column else None
                        problems.add(sheet, row.number, column, exc.message_zh, exc.message)
                    except ShanzhiError as exc:
                        name = ERROR_COLUMNS.get(exc.code) or (PERIOD_COLUMN.get(key) if exc.code == "invalid_period"
                                                               else None)
                        column = next((c for c in sheet.columns if c.key == name), None)
                        problems.add(sheet, row.number, column, exc.message_zh, exc.message)
            if problems.items:
                first = problems.items[0]
                raise InvalidInput(
                    f"Import rejected, nothing was written: {len(problems.items)} problem(s); first: "
                    f"sheet {first['sheet']} row {first['row']} column {first['column'] or '-'}: {first['reason']}",
                    f"导入被拒绝，未写入任何数据：{first['reason_zh']}（共 {len(problems.items)} 处错误）",
                    code="invalid_rows", details=problems.items[:500])
            audit.record(session, action="orgs.import", actor_id=actor.user_id, actor_name=actor.name,
                         target_type="workbook", after=result.as_dict())
    finally:
        if progress:
            progress("导入组织与清单", total, total)
    return result

