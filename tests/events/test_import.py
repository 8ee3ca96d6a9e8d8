"""Bulk import from CSV and XLSX: all or nothing, problems by row, safe to run twice."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from builders import lattice_tree, make_units
from shanzhi.accounts.service import system_actor
from shanzhi.db import transaction
from shanzhi.errors import InvalidInput
from shanzhi.events.importer import import_events
from shanzhi.events.models import Event
from shanzhi.geo import service as geo

ROWS = [
    {"描述": "来电人反映村口垃圾堆了三天没人清运", "类别": "0101", "经度": "121.31", "纬度": "29.81", "来源": "hotline"},
    {"描述": "路灯晚上不亮，走路很危险", "类别": "401", "区域编码": "330203102201"},
    {"描述": "邻居装修噪音太大影响休息", "类别": "", "经度": "121.46", "纬度": "29.86", "联系电话": "13800001111"},
]


@pytest.fixture
def ready(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    return system_actor(session, name="批量导入")


def csv_file(tmp_path, rows) -> object:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=sorted({k for r in rows for k in r}))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "hotline.csv"
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    return path


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Event))


def test_a_csv_from_the_hotline_imports_and_a_second_run_creates_nothing(session, ready, tmp_path):
    path = csv_file(tmp_path, ROWS)
    assert import_events(session, actor=ready, path=path).created == 3
    events = session.scalars(select(Event).order_by(Event.id)).all()
    assert [e.channel for e in events] == ["hotline", "import", "import"]
    # "401" was read by Excel as a number; the row without a category gets the classifier's.
    assert [(e.category_code, e.category_source) for e in events] == [
        ("0101", "chosen"), ("0401", "chosen"), ("0503", "suggested")]
    assert events[1].region_code == "330203102201" and events[2].reporter_phone_encrypted
    again = import_events(session, actor=ready, path=path)
    assert (again.created, again.existing) == (0, 3) and count(session) == 3


def test_an_xlsx_imports_the_same_way(session, ready, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["text", "category", "lon", "lat"])
    sheet.append(["河道里漂着很多垃圾和死鱼", "0501", 121.32, 29.82])
    path = tmp_path / "dept.xlsx"
    book.save(path)
    assert import_events(session, actor=ready, path=path).created == 1


def test_one_bad_row_rejects_the_file_and_every_problem_is_named_by_row(session, ready, tmp_path):
    rows = [*ROWS, {"描述": "坐标在北京", "类别": "0101", "经度": "116.4", "纬度": "39.9"},
            {"描述": "类别不存在的一行", "类别": "9999", "区域编码": "330203101"}]
    path = csv_file(tmp_path, rows)
    with pytest.raises(InvalidInput) as info, transaction(lambda: session) as s:
        import_events(s, actor=ready, path=path)
    assert [d["row"] for d in info.value.details] == [5, 6]
    assert "第 5 行" in info.value.message_zh
    assert count(session) == 0  # the good rows went with the bad: nothing half-imported


def test_a_file_that_is_not_csv_or_xlsx_is_refused(session, ready, tmp_path):
    path = tmp_path / "photo.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(InvalidInput) as info:
        import_events(session, actor=ready, path=path)
    assert info.value.code == "invalid_file"
