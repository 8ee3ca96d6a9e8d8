"""Builders for housing tests (import them: `from housing_helpers import …`)."""

from __future__ import annotations

import io
from typing import Any

from shanzhi.housing.dates import today_local
from shanzhi.housing.idcard import check_char

# Points of the lattice tree (tests/builders.py): a micro-grid each.
MG1 = "330203101201001001"  # 121.30–121.35 × 29.80–29.825
MG2 = "330203101201001002"  # 121.30–121.35 × 29.825–29.85
VILLAGE = "330203101201"
TOWN = "330203101"
OTHER_TOWN = "330203102"
IN_MG1 = (121.31, 29.81)
IN_MG2 = (121.31, 29.84)
IN_OTHER_TOWN = (121.45, 29.81)


def make_id(seq: int = 123, *, prefix: str = "522401", born: str = "19900307") -> str:
    """A valid 18-digit ID number (GB 11643 check character)."""
    first17 = f"{prefix}{born}{seq % 1000:03d}"
    return first17 + check_char(first17)


def bad_checksum(value: str) -> str:
    last = "0" if value[-1] != "0" else "1"
    return value[:-1] + last


def building_body(point: tuple[float, float] = IN_MG1, **over: Any) -> dict[str, Any]:
    body = {"address": "藕缆桥村河东路 12 号", "lon": point[0], "lat": point[1], "use": "mixed", "floors": 4,
            "construction": "brick_concrete",
            "owner": {"kind": "person", "name": "王建国", "phone": "13705740001", "id_number": make_id(901, prefix="330203")},
            "manager": {"kind": "org", "name": "甬安物业服务有限公司"},
            "manager_duties": ["fire_safety", "tenant_registration"],
            "units": [{"number": "101", "kind": "room", "floor": 1, "area_m2": 12.0},
                      {"number": "102", "kind": "room", "floor": 1, "area_m2": 20.0},
                      {"number": "201", "kind": "flat", "floor": 2, "area_m2": 60.0}]}
    return {**body, **over}


def tenant_body(unit_id: int, seq: int = 1, **over: Any) -> dict[str, Any]:
    person = {"name": f"李{'明华强伟芳静'[seq % 6]}{seq}", "id_number": make_id(seq), "phone": f"1380574{seq:04d}",
              "registered_address": "贵州省毕节市七星关区某镇某村"}
    person.update(over.pop("person", {}))
    return {"unit_id": unit_id, "person": person, "start_date": over.pop("start_date", today_local().isoformat()),
            "end_date": over.pop("end_date", None), "purpose": "work", **over}


BUILDING_HEADER = ["地址", "经度", "纬度", "用途", "层数", "结构", "产权人", "产权人电话", "管理责任人", "责任人类型",
                   "管理职责", "房号", "房间类型", "面积", "出租状态"]
RESIDENT_HEADER = ["姓名", "身份证号", "手机号", "户籍地址", "地址", "房号", "起始日期", "到期日期", "居住事由"]


def workbook(buildings: list[list], residents: list[list]) -> bytes:
    """An import workbook: sheet 房屋 (one row per unit) and sheet 人员 (one row per registration)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "房屋"
    sheet.append(BUILDING_HEADER)
    for row in buildings:
        sheet.append(row)
    people = book.create_sheet("人员")
    people.append(RESIDENT_HEADER)
    for row in residents:
        people.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
