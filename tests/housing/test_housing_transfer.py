"""XLSX import (row and column in every message, whole or nothing, idempotent) and export
(masked unless the exporter may reveal and gives a reason; every export audited)."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import func, select

from housing_helpers import IN_MG1, IN_MG2, MG1, bad_checksum, make_id, workbook
from shanzhi.audit.models import AuditEntry
from shanzhi.housing.models import Building, Person, Registration, Unit

BUILDINGS = [
    ["河西路 1 号", IN_MG1[0], IN_MG1[1], "住宅", 3, "砖混", "陈阿三", "13705741111", "甬安物业",
     "单位", "消防安全巡查、环境卫生", "101", "单间", 15, "空置"],
    ["河西路 1 号", None, None, None, None, None, None, None, None, None, None, "102", "单间", 11, "空置"],
    ["河西路 3 号", IN_MG1[0] + 0.001, IN_MG1[1], "mixed", 2, None, None, None, None, None, None, "A", "作坊/车间", 80,
     "自营"],
]
RESIDENTS = [
    ["周一", make_id(101), "13805741001", "安徽省阜阳市临泉县", "河西路 1 号", "101", date(2026, 1, 5), "2027-01-04", "务工"],
    ["吴二", make_id(102), None, None, "河西路 1 号", "102", "2026-02-01", None, "经商"],
]


def _post(client, hs, data: bytes, who: str = "worker"):
    return client.post("/api/v1/housing/import", files={"file": ("registry.xlsx", data)}, headers=hs[who])


def test_a_workbook_imports_buildings_units_and_residents_and_twice_adds_nothing(client, session, hs):
    data = workbook(BUILDINGS, RESIDENTS)
    r = _post(client, hs, data)
    assert r.status_code == 200, r.text
    assert r.json() == {"buildings": 2, "units": 3, "registrations": 2, "skipped": 0}
    b = session.scalars(select(Building).where(Building.address == "河西路 1 号")).one()
    assert (b.use, b.construction, b.manager_duties) == ("housing", "brick_concrete", ["fire_safety", "sanitation"])
    assert b.manager_org_id is not None and b.owner_person_id is not None
    assert session.scalar(select(func.count()).select_from(Unit).where(Unit.rental_status == "rented")) == 2
    again = _post(client, hs, data)
    assert again.json() == {"buildings": 0, "units": 0, "registrations": 0, "skipped": 5}
    assert session.scalar(select(func.count()).select_from(Registration)) == 2


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_written(client, session, hs):
    rows = [list(r) for r in BUILDINGS]
    rows[2][3] = "城堡"  # row 4: unknown use
    people = [list(r) for r in RESIDENTS]
    people[0][1] = bad_checksum(make_id(101))  # row 2: bad checksum
    people[1][6] = "二月一日"  # row 3: not a date
    people.append(["郑三", make_id(103), "123", None, "河西路 1 号", "101", "2026-03-01", None, None])  # bad phone
    people.append(["王四", make_id(104), None, None, "河西路 9 号", "1", "2026-03-01", None, None])  # unknown building
    r = _post(client, hs, workbook(rows, people))
    assert r.status_code == 422
    err = r.json()["error"]
    where = [(d["sheet"], d["row"], d["column"]) for d in err["details"]]
    assert where == [("房屋", 4, "用途"), ("人员", 2, "身份证号"), ("人员", 3, "起始日期"), ("人员", 4, "手机号"),
                     ("人员", 5, "地址")]
    assert err["message_zh"].startswith("导入被拒绝：「房屋」第 4 行「用途」") and "未写入任何数据" in err["message_zh"]
    assert "校验码错误" in err["details"][1]["reason_zh"]
    for model in (Building, Unit, Person, Registration):
        assert session.scalar(select(func.count()).select_from(model)) == 0
    outside = [list(BUILDINGS[0])]
    outside[0][1:3] = IN_MG2
    assert _post(client, hs, workbook(outside, [])).json()["error"]["details"][0]["column"] is None


def _export(client, hs, who, **form):
    return client.post("/api/v1/housing/export", data={"region": "330203101201", **form}, headers=hs[who])


def test_exports_are_masked_unless_revealed_with_permission_and_reason_and_always_audited(client, session, hs):
    assert _post(client, hs, workbook(BUILDINGS, RESIDENTS), who="cadre").status_code == 200
    masked = _export(client, hs, "cadre")
    assert masked.status_code == 200 and masked.headers["content-type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(masked.content), read_only=True)
    residents = list(book["人员"].iter_rows(values_only=True))
    assert residents[0][:4] == ("姓名", "证件类型", "证件号码", "手机号")
    assert residents[1][:4] == ("周*", "居民身份证", make_id(101)[:4] + "*" * 10 + make_id(101)[-4:], "138****1001")
    assert make_id(101).encode() not in masked.content
    units = list(book["房屋"].iter_rows(values_only=True))
    assert len(units) == 4 and units[1][8] == "101" and units[1][13] == 1

    assert _export(client, hs, "cadre", reveal="true", reason="派出所核查").status_code == 403
    assert _export(client, hs, "chief", reveal="true").status_code == 422
    full = _export(client, hs, "chief", reveal="true", reason="派出所协查来函核对")
    assert full.status_code == 200
    rows = list(load_workbook(io.BytesIO(full.content), read_only=True)["人员"].iter_rows(values_only=True))
    assert rows[1][:4] == ("周一", "居民身份证", make_id(101), "13805741001")
    assert _export(client, hs, "worker", region=MG1).status_code == 403  # grid workers do not export
    entries = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "housing_export")
                              .order_by(AuditEntry.seq)).all()
    assert [(e.action, e.outcome, '"revealed":true' in e.summary) for e in entries] == [
        ("housing.export", "allowed", False), ("housing.reveal", "denied", False),
        ("housing.export", "allowed", True), ("housing.export", "denied", False)]
    assert "派出所协查来函核对" in entries[2].summary and make_id(101) not in entries[2].summary
