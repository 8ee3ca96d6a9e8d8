"""Bulk import of events from CSV or XLSX (the hotline's daily export, a department's list).

The whole file is checked and written in one transaction: any bad row rejects the file, with
every problem listed by row number. Each row's idempotency key is derived from the file's
content and the row, so importing the same file twice creates nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.errors import InvalidInput, ShanzhiError
from shanzhi.events.intake import Report, submit

# Column headers accepted, in Chinese or English.
COLUMNS = {
    "text": ("text", "描述", "问题描述", "内容"), "category": ("category", "类别", "类别编码"),
    "lon": ("lon", "经度"), "lat": ("lat", "纬度"), "crs": ("crs", "坐标系"),
    "region": ("region", "区域编码"), "address": ("address", "地址"),
    "reporter_name": ("reporter_name", "反映人"), "reporter_phone": ("reporter_phone", "联系电话"),
    "urgency": ("urgency", "紧急程度"), "channel": ("channel", "来源"),
}
MAX_ROWS = 20_000


@dataclass(frozen=True)
class ImportResult:
    created: int
    existing: int


def _rows(name: str, data: bytes) -> Iterator[dict[str, Any]]:
    if name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(values, ())]
        for row in values:
            yield dict(zip(header, row))
    else:
        text = data.decode("utf-8-sig")  # Excel writes a BOM into UTF-8 CSV
        yield from csv.DictReader(io.StringIO(text))


def _field(row: dict[str, Any], key: str) -> Any:
    for header in COLUMNS[key]:
        value = row.get(header)
        if value not in (None, ""):
            return value.strip() if isinstance(value, str) else value
    return None


def _report(row: dict[str, Any], key: str) -> Report:
    def number(name: str) -> float | None:
        value = _field(row, name)
        try:
            return None if value is None else float(value)
        except ValueError:
            raise InvalidInput(f"{name} is not a number", f"{name} 不是数字", code="invalid_coordinates") from None

    category = _field(row, "category")
    region = _field(row, "region")
    return Report(
        text=str(_field(row, "text") or ""), channel=str(_field(row, "channel") or "import"),
        category=str(category).zfill(4) if category is not None else None,
        urgency=str(_field(row, "urgency") or "normal"), lon=number("lon"), lat=number("lat"),
        crs=str(_field(row, "crs") or "wgs84"), region=str(region) if region is not None else None,
        address=_field(row, "address"), reporter_name=_field(row, "reporter_name"),
        reporter_phone=str(_field(row, "reporter_phone")) if _field(row, "reporter_phone") else None,
        idempotency_key=key,
    )


def import_events(
    session: Session, *, actor: Actor, path: Path, progress: Callable[[str, int, int], None] | None = None,
) -> ImportResult:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    try:
        rows = list(_rows(path.name, data))
    except (UnicodeDecodeError, csv.Error, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"{path.name} cannot be read as CSV/XLSX: {exc}",
                           f"无法读取 {path.name}（应为 UTF-8 CSV 或 XLSX）：{exc}", code="invalid_file") from None
    if not rows or len(rows) > MAX_ROWS:
        raise InvalidInput(f"The file must hold 1–{MAX_ROWS} rows", f"文件应包含 1–{MAX_ROWS} 行数据",
                           code="invalid_file")
    problems: list[dict[str, Any]] = []
    created = existing = 0
    for n, row in enumerate(rows, start=2):  # row 1 is the header
        try:
            # A savepoint per row: a bad row is undone, the others still get checked.
            with session.begin_nested():
                done = submit(session, actor=actor, report=_report(row, f"import:{digest}:{n}"))
            created, existing = created + done.created, existing + (not done.created)
        except ShanzhiError as exc:
            problems.append({"row": n, "reason": exc.message, "reason_zh": f"第 {n} 行：{exc.message_zh}"})
        if progress and (n % 200 == 0 or n == len(rows) + 1):
            progress("导入事件", n - 1, len(rows))
    if problems:
        first = problems[0]
        raise InvalidInput(f"Import rejected: row {first['row']}: {first['reason']} ({len(problems)} bad rows)",
                           f"导入被拒绝：{first['reason_zh']}（共 {len(problems)} 行有误）",
                           code="invalid_rows", details=problems[:200])
    return ImportResult(created, existing)
