"""The event list as an XLSX workbook, and the name lookups it shares with the event pages.

The workbook holds what the list filters select, in the list's order, up to `EXPORT_CAP` rows,
written with openpyxl's write-only mode (rows go straight to the file, so 50,000 rows stay in
a few MB of memory) and read from the database in chunks. Reporters' names and phones are
personal data and never leave in a file; an export is written to the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, utcnow
from shanzhi.events import service
from shanzhi.events.catalog import catalog
from shanzhi.events.intake import CHANNELS
from shanzhi.events.models import Event
from shanzhi.events.policy import workflow
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

EXPORT_CAP = 50_000
CHUNK = 1_000
SHANGHAI = ZoneInfo("Asia/Shanghai")
URGENCY = {"normal": "一般", "urgent": "紧急"}
ORDER_LABELS = {"newest": "最新上报在前", "oldest": "最早上报在前", "due": "处置时限最近在前"}

# (header, width in characters): the sheet's columns in order.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("事件编号", 22), ("状态", 10), ("大类", 14), ("小类", 18), ("事件描述", 60), ("紧急程度", 8),
    ("来源渠道", 10), ("镇街", 12), ("村社", 14), ("区域编码", 20), ("地址", 30), ("经度", 12), ("纬度", 12),
    ("处置层级", 8), ("处置单位", 24), ("上报时间", 17), ("受理时间", 17), ("处置时限", 17), ("时限状态", 10),
    ("处置结果", 40), ("结案时间", 17), ("按期结案", 8), ("返工次数", 8), ("延期次数", 8), ("满意度", 8),
)


# -- names ------------------------------------------------------------------------------------


def region_names(session: Session, codes: Iterable[str | None]) -> dict[str, str]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(wanted))).all())


def unit_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(wanted))).all())


@dataclass(frozen=True)
class Names:
    """Town, village and unit names for a batch of events, in two queries."""

    regions: dict[str, str]
    units: dict[int, str]

    @classmethod
    def of(cls, session: Session, events: list[Event]) -> Names:
        return cls(region_names(session, [c for e in events for c in (e.town_code, e.village_code)]),
                   unit_names(session, [e.assigned_org_id for e in events]))

    def region(self, code: str | None) -> str:
        return self.regions.get(code or "", "")

    def unit(self, org_id: int | None) -> str:
        return self.units.get(org_id, "") if org_id is not None else ""


def local(at: datetime | None) -> datetime | None:
    """Shanghai wall time without a zone: what a spreadsheet shows and sorts."""
    utc = as_utc(at)
    return utc.astimezone(SHANGHAI).replace(tzinfo=None) if utc else None


# -- rows -------------------------------------------------------------------------------------


def _row(event: Event, names: Names, now: datetime) -> list[Any]:
    cat = catalog()
    minor = cat.category(event.category_code) if event.category_code else None
    tiers = {t.code: t.name for t in cat.tiers}
    on_time = {True: "是", False: "否", None: ""}[event.closed_on_time] if event.closed_at else ""
    return [
        event.code, workflow().statuses.get(event.status, event.status),
        cat.major(minor.major).name if minor else "未分类", minor.name if minor else "",
        event.text, URGENCY.get(event.urgency, event.urgency), CHANNELS.get(event.channel, event.channel),
        names.region(event.town_code), names.region(event.village_code), event.region_code, event.address or "",
        event.lon, event.lat, tiers.get(event.tier or "", ""), names.unit(event.assigned_org_id),
        local(event.created_at), local(event.accepted_at), local(event.due_at),
        service.DEADLINE_STATES[service.deadline_state(event, now)], event.result_text or "",
        local(event.closed_at), on_time, event.reworks, event.extensions, event.rating,
    ]


def filter_notes(filters: dict[str, str | None]) -> list[tuple[str, str]]:
    """The filters in words, for the sheet's notes."""
    cat = catalog()

    def category(code: str) -> str:
        return cat.major(code).name if len(code) == 2 else cat.category(code).name

    shown = {
        "status": ("状态", lambda v: workflow().statuses.get(v, v)),
        "category": ("类别", category),
        "region": ("区域编码", str),
        "channel": ("来源渠道", lambda v: CHANNELS.get(v, v)),
        "deadline": ("时限状态", lambda v: service.DEADLINE_STATES.get(v, v)),
        "q": ("关键词", str),
        "sort": ("排序", lambda v: ORDER_LABELS.get(v, v)),
    }
    return [(label, fmt(filters[key])) for key, (label, fmt) in shown.items() if filters.get(key)]


def write_xlsx(session: Session, out: IO[bytes], *, actor: Actor, cap: int = EXPORT_CAP,
               **filters: str | None) -> int:
    """Write the filtered events (at most `cap`) to `out` as XLSX; return the number of rows."""
    now = utcnow()
    stmt = service.events_query(actor=actor, now=now, **filters).limit(cap)  # type: ignore[arg-type]
    book = Workbook(write_only=True)
    sheet = book.create_sheet("事件列表")
    for i, (_, width) in enumerate(COLUMNS):
        sheet.column_dimensions[get_column_letter(i + 1)].width = width
    sheet.freeze_panes = "B2"
    sheet.append([header for header, _ in COLUMNS])
    written = 0
    for chunk in session.scalars(stmt.execution_options(yield_per=CHUNK)).partitions():
        names = Names.of(session, chunk)
        for event in chunk:
            sheet.append(_row(event, names, now))
        written += len(chunk)
    notes = book.create_sheet("导出说明")
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 14, 60
    for row in [("导出时间", local(now).strftime("%Y-%m-%d %H:%M")), ("导出人", actor.name),
                ("事件条数", written), *filter_notes(filters)]:
        notes.append(list(row))
    if written >= cap:
        notes.append(["提示", f"超过 {cap:,} 条时只导出前 {cap:,} 条，请缩小筛选范围后分批导出"])
    book.save(out)
    audit.record_durably(session, action="event.export", actor_id=actor.user_id, actor_name=actor.name,
                         target_type="event", detail={"rows": written, **{k: v for k, v in filters.items() if v}})
    return written
