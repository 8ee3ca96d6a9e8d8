"""XLSX import of buildings (sheet 房屋, one row per unit) and residents (sheet 人员, one row per
registration): checked row by row, written whole or not at all. A document number is checked by
its row's 证件类型 (label or key; a sheet without the column holds resident IDs).

Every problem is reported with its sheet, row and column (第 5 行「证件号码」：校验码错误 …); if there
is any, nothing is written (the caller's transaction rolls back). Rows of the same address form
one building; a building or unit that already exists is reused, and a person already registered
in the unit is skipped, so importing the same workbook twice adds nothing the second time.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.errors import InvalidInput, ShanzhiError
from shanzhi.housing import documents
from shanzhi.housing.idcard import validate_phone
from shanzhi.housing.models import Building, Registration, Unit
from shanzhi.housing.people import PersonInput, find_by_id_number
from shanzhi.housing.policy import housing_policy
from shanzhi.housing.registrations import register
from shanzhi.housing.scope import MANAGE, region_clause
from shanzhi.housing.service import (
    BuildingInput,
    PartyInput,
    UnitInput,
    add_unit,
    create_building,
)

MAX_ROWS = 20_000
Progress = Callable[[str, int, int], None]

# Sheet → {field: (column header, other accepted headers …)}; the first header is the one shown.
BUILDING_COLUMNS: dict[str, tuple[str, ...]] = {
    "address": ("地址", "address"), "lon": ("经度", "lon"), "lat": ("纬度", "lat"), "crs": ("坐标系", "crs"),
    "use": ("用途", "use"), "floors": ("层数", "floors"), "construction": ("结构", "construction"),
    "owner": ("产权人", "房东", "owner"), "owner_kind": ("产权人类型", "owner_kind"),
    "owner_phone": ("产权人电话", "owner_phone"), "owner_id_type": ("产权人证件类型", "owner_id_type"),
    "owner_id_number": ("产权人证件号码", "产权人身份证号", "owner_id_number"),
    "manager": ("管理责任人", "manager"), "manager_kind": ("责任人类型", "manager_kind"),
    "manager_phone": ("责任人电话", "manager_phone"), "duties": ("管理职责", "manager_duties"),
    "unit": ("房号", "unit"), "unit_kind": ("房间类型", "unit_kind"), "unit_floor": ("楼层", "unit_floor"),
    "area": ("面积", "使用面积", "area_m2"), "rental_status": ("出租状态", "rental_status"),
}
RESIDENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"), "id_type": ("证件类型", "id_type"), "id_number": ("证件号码", "身份证号", "id_number"),
    "phone": ("手机号", "联系电话", "phone"),
    "registered_address": ("户籍地址", "registered_address"), "is_local": ("户籍人口", "is_local"),
    "address": ("地址", "房屋地址", "address"), "unit": ("房号", "unit"), "start_date": ("起始日期", "start_date"),
    "end_date": ("到期日期", "end_date"), "purpose": ("居住事由", "purpose"),
}
# Which column a service error is about, by its code.
ERROR_COLUMNS = {
    "invalid_address": "address", "outside_jurisdiction": "lon", "invalid_uses": "use", "invalid_floors": "floors",
    "invalid_constructions": "construction", "invalid_manager_duties": "duties", "invalid_number": "unit",
    "duplicate_unit": "unit", "invalid_unit_kinds": "unit_kind", "invalid_floor": "unit_floor",
    "invalid_area": "area", "invalid_rental_statuses": "rental_status", "invalid_name": "name",
    "invalid_id_number": "id_number", "invalid_id_checksum": "id_number", "id_number_required": "id_number",
    "invalid_id_type": "id_type", "invalid_phone": "phone", "invalid_dates": "start_date", "invalid_purposes": "purpose",
}


@dataclass(frozen=True)
class ImportResult:
    buildings: int
    units: int
    registrations: int
    skipped: int  # rows that were already there


class RowError(Exception):
    def __init__(self, field: str, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.field, self.message, self.message_zh = field, message, message_zh


def _sheets(data: bytes) -> dict[str, list[dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(f"Not an XLSX workbook: {exc}", f"无法读取文件（应为 XLSX 工作簿）：{exc}",
                           code="invalid_file") from None
    out: dict[str, list[dict[str, Any]]] = {}
    for sheet in book.worksheets:
        values = sheet.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(values, ())]
        rows = [dict(zip(header, row)) for row in values if any(v not in (None, "") for v in row)]
        out[sheet.title.strip()] = rows
    return out


class _Row:
    """One spreadsheet row read through a sheet's column aliases."""

    def __init__(self, raw: dict[str, Any], columns: dict[str, tuple[str, ...]]) -> None:
        self.raw, self.columns = raw, columns

    def header(self, field: str) -> str:
        """The column as the sheet names it (身份证号 in older files), else its first name."""
        return next((name for name in self.columns[field] if name in self.raw), self.columns[field][0])

    def text(self, field: str, *, required: bool = False) -> str | None:
        for name in self.columns[field]:
            value = self.raw.get(name)
            if value not in (None, ""):
                text = (f"{value:g}" if isinstance(value, float) else str(value)).strip()
                if text:
                    return text
        if required:
            raise RowError(field, "required", "必填")
        return None

    def number(self, field: str, *, required: bool = False, whole: bool = False) -> float | None:
        text = self.text(field, required=required)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            raise RowError(field, "not a number", f"应为数字，收到「{text}」") from None
        if whole and value != int(value):
            raise RowError(field, "not a whole number", "应为整数")
        return int(value) if whole else value

    def day(self, field: str, *, required: bool = False) -> date | None:
        for name in self.columns[field]:
            value = self.raw.get(name)
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
        text = self.text(field, required=required)
        if text is None:
            return None
        try:
            return date.fromisoformat(text.replace("/", "-").replace(".", "-"))
        except ValueError:
            raise RowError(field, "not a date (YYYY-MM-DD)", f"日期格式应为 YYYY-MM-DD，收到「{text}」") from None

    def word(self, field: str, words: str, *, default: str | None = None) -> str | None:
        text = self.text(field)
        if text is None:
            return default
        key = housing_policy().key_for(words, text)
        if key is None:
            choices = "、".join(getattr(housing_policy(), words).values())
            raise RowError(field, f"unknown value {text!r}", f"「{text}」无效，应为：{choices}")
        return key

    def document(self, type_field: str, number_field: str) -> tuple[str, str | None]:
        """(type, checked number or None): the type by label or key, resident ID when not given."""
        text = self.text(type_field)
        id_type = documents.type_for(text) if text else documents.DEFAULT_ID_TYPE
        if id_type is None:
            labels = "、".join(t.label for t in housing_policy().id_types.values())
            raise RowError(type_field, f"unknown document type {text!r}", f"「{text}」无效，应为：{labels}")
        return id_type, self.checked(number_field, lambda value: documents.validate(id_type, value))

    def checked(self, field: str, check: Callable[[str], str]) -> str | None:
        text = self.text(field)
        if text is None:
            return None
        try:
            return check(text)
        except ShanzhiError as exc:
            raise RowError(field, exc.message, exc.message_zh) from None


def _party(row: _Row, role: str) -> PartyInput | None:
    name = row.text(role)
    if name is None:
        return None
    kind_text = row.text(f"{role}_kind") or "个人"
    kind = {"个人": "person", "person": "person", "单位": "org", "公司": "org", "org": "org"}.get(kind_text)
    if kind is None:
        raise RowError(f"{role}_kind", "use 个人 or 单位", "应为「个人」或「单位」")
    id_type, id_number = (row.document(f"{role}_id_type", f"{role}_id_number") if f"{role}_id_number" in row.columns
                          else (None, None))
    return PartyInput(kind, name, row.checked(f"{role}_phone", validate_phone), id_number, id_type=id_type)


def _find(session: Session, actor: Actor, address: str, seen: dict[str, Building]) -> Building | None:
    return seen.get(address) or session.scalar(
        select(Building).where(Building.address == address, region_clause(Building.region_code, actor, MANAGE))
        .order_by(Building.id).limit(1))


def _building_row(session: Session, actor: Actor, row: _Row, seen: dict[str, Building]) -> tuple[int, int, int]:
    """(buildings created, units created, skipped) for one row of 房屋."""
    address = row.text("address", required=True) or ""
    building = _find(session, actor, address, seen)
    made = 0
    if building is None:
        use = row.word("use", "uses")
        if use is None:
            raise RowError("use", "required", "必填")
        duties = [_duty(d) for d in (row.text("duties") or "").replace("，", "、").replace(",", "、").split("、")
                  if d.strip()]
        data = BuildingInput(
            address=address, lon=row.number("lon", required=True) or 0.0, lat=row.number("lat", required=True) or 0.0,
            crs=row.text("crs") or "wgs84", use=use, floors=row.number("floors", whole=True),  # type: ignore[arg-type]
            construction=row.word("construction", "constructions"), owner=_party(row, "owner"),
            manager=_party(row, "manager"), manager_duties=tuple(duties))
        building = create_building(session, actor=actor, data=data)
        made = 1
    number = row.text("unit")
    unit_made = 0
    if number is not None and not session.scalar(
            select(Unit.id).where(Unit.building_id == building.id, Unit.number == number)):
        add_unit(session, actor=actor, building_id=building.id, data=UnitInput(
            number=number, kind=row.word("unit_kind", "unit_kinds", default="room") or "room",
            floor=row.number("unit_floor", whole=True), area_m2=row.number("area"),  # type: ignore[arg-type]
            rental_status=row.word("rental_status", "rental_statuses", default="vacant") or "vacant"))
        unit_made = 1
    seen[address] = building  # only once the whole row stood
    return made, unit_made, int(not made and not unit_made)


def _duty(text: str) -> str:
    key = housing_policy().key_for("manager_duties", text.strip())
    if key is None:
        raise RowError("duties", f"unknown duty {text!r}",
                       f"「{text}」无效，应为：{'、'.join(housing_policy().manager_duties.values())}")
    return key


def _resident_row(session: Session, actor: Actor, row: _Row, seen: dict[str, Building]) -> int:
    """1 when a registration was made, 0 when the person is already registered in the unit."""
    name = row.text("name", required=True) or ""
    id_type, id_number = row.document("id_type", "id_number")
    if id_number is None:
        raise RowError("id_number", "required", "必填")
    phone = row.checked("phone", validate_phone)
    address = row.text("address", required=True) or ""
    number = row.text("unit", required=True) or ""
    building = _find(session, actor, address, seen)
    if building is None:
        raise RowError("address", "no such building (import it in 房屋 first)", "未找到该地址的房屋（请先在「房屋」表中登记）")
    unit = session.scalar(select(Unit).where(Unit.building_id == building.id, Unit.number == number))
    if unit is None:
        raise RowError("unit", "no such unit in that building", f"该房屋没有房号 {number}")
    start = row.day("start_date", required=True)
    assert start is not None
    local = (row.text("is_local") or "否") in ("是", "yes", "true", "1", "Y", "y")
    known = find_by_id_number(session, id_number, id_type)
    if known is not None and session.scalar(select(Registration.id).where(
            Registration.person_id == known.id, Registration.unit_id == unit.id, Registration.status == "active")):
        return 0
    register(session, actor=actor, unit_id=unit.id, start_date=start, end_date=row.day("end_date"),
             purpose=row.word("purpose", "purposes", default="work") or "work",
             person=PersonInput(name, id_number, phone, row.text("registered_address"), local, id_type))
    return 1


def _each(rows: list[dict[str, Any]], columns: dict[str, tuple[str, ...]], sheet: str, session: Session,
          problems: list[dict[str, Any]], handle: Callable[[_Row], Any], progress: Progress | None) -> Iterator[Any]:
    for n, raw in enumerate(rows, start=2):  # row 1 is the header
        row = _Row(raw, columns)
        try:
            # A savepoint per row: a bad row is undone, the others still get checked.
            with session.begin_nested():
                result = handle(row)
        except RowError as exc:
            _problem(problems, sheet, n, row.header(exc.field), exc.message, exc.message_zh)
        except ShanzhiError as exc:
            field = ERROR_COLUMNS.get(exc.code)
            _problem(problems, sheet, n, row.header(field) if field in columns else None, exc.message,
                     exc.message_zh)
        else:
            yield result
        if progress and (n % 200 == 0 or n == len(rows) + 1):
            progress(f"导入{sheet}", n - 1, len(rows))


def _problem(problems: list[dict[str, Any]], sheet: str, row: int, column: str | None, message: str,
             message_zh: str) -> None:
    where = f"「{sheet}」第 {row} 行" + (f"「{column}」" if column else "")
    problems.append({"sheet": sheet, "row": row, "column": column, "reason": f"{sheet} row {row}"
                     + (f" column {column}" if column else "") + f": {message}", "reason_zh": f"{where}：{message_zh}"})


def import_workbook(session: Session, *, actor: Actor, data: bytes, progress: Progress | None = None) -> ImportResult:
    sheets = _sheets(data)
    buildings_rows, resident_rows = sheets.get("房屋", []), sheets.get("人员", [])
    if not buildings_rows and not resident_rows:
        raise InvalidInput("The workbook needs a sheet named 房屋 or 人员 with rows",
                           "工作簿中应有名为「房屋」或「人员」的工作表且含数据行", code="invalid_file")
    if max(len(buildings_rows), len(resident_rows)) > MAX_ROWS:
        raise InvalidInput(f"A sheet may hold at most {MAX_ROWS} rows", f"每个工作表最多 {MAX_ROWS} 行",
                           code="invalid_file")
    problems: list[dict[str, Any]] = []
    seen: dict[str, Building] = {}
    made_b = made_u = made_r = skipped = 0
    for b, u, s in _each(buildings_rows, BUILDING_COLUMNS, "房屋", session, problems,
                         lambda row: _building_row(session, actor, row, seen), progress):
        made_b, made_u, skipped = made_b + b, made_u + u, skipped + s
    for r in _each(resident_rows, RESIDENT_COLUMNS, "人员", session, problems,
                   lambda row: _resident_row(session, actor, row, seen), progress):
        made_r, skipped = made_r + r, skipped + (1 - r)
    if problems:
        first = problems[0]
        raise InvalidInput(f"Import rejected: {first['reason']} ({len(problems)} bad rows)",
                           f"导入被拒绝：{first['reason_zh']}（共 {len(problems)} 行有误，未写入任何数据）",
                           code="invalid_rows", details=problems[:200])
    return ImportResult(made_b, made_u, made_r, skipped)
