"""The command center's metrics over HTTP (`GET /api/v1/stats`) and on the command line
(`shanzhi stats`). Both call `stats.compute`; the lead mounts `router` in app.py and calls
`register(app)` from cli.py."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from fastapi import APIRouter, Query
from rich.cells import cell_len
from rich.table import Table

from shanzhi.accounts.deps import ApiActor
from shanzhi.db import session_scope
from shanzhi.errors import InvalidInput, ShanzhiError
from shanzhi.events import stats
from shanzhi.http import DbSession
from shanzhi.terminal import console, errors, require_schema

router = APIRouter(prefix="/api/v1", tags=["stats"])


@router.get("/stats", summary="统计指标（立案、结案、按期、满意度、综合评分）Command-center metrics")
def get_stats(
    session: DbSession, actor: ApiActor,
    region: Annotated[str | None, Query(max_length=18, description="区域编码（默认为本人范围）")] = None,
    start: Annotated[date | None, Query(description="开始日期（含），北京时间；默认本月 1 日")] = None,
    end: Annotated[date | None, Query(description="结束日期（不含），北京时间；默认明天")] = None,
    group_by: Annotated[str | None, Query(max_length=16, description="town|village|category|tier|unit|day")] = None,
    unit: Annotated[str | None, Query(max_length=32, description="处置单位编码")] = None,
    category: Annotated[str | None, Query(max_length=4, description="事件类别编码前缀（2 或 4 位）")] = None,
) -> dict[str, Any]:
    return stats.compute(session, actor=actor, region=region, start=start, end=end, group_by=group_by,
                         unit=unit, category=category)


# -- the command line --------------------------------------------------------------------------


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-03-01", f"{name} 应为日期，如 2026-03-01",
                           code="invalid_date") from None


def _shown(value: Any, display: str = "count") -> str:
    if value is None:
        return "—"
    if display == "percent":
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# Counts shown as columns when rows are grouped (all of them are shown for totals).
GROUP_COLUMNS = ("registered", "handled", "closed", "overdue_unhandled", "should_close")


def render(result: dict[str, Any]) -> Table:
    """The result as a Rich table in Chinese: totals as a list, or one row per group."""
    d = result["definitions"]
    counts, metrics, extra = d["counts"], d["metrics"], d["extra"]
    period = result["period"]
    last = date.fromisoformat(period["end"]) - timedelta(days=1)
    place = f"{result['region_name']}（{result['region']}）" if result["region"] else "本人管辖范围"
    title = f"{place} {period['start']} 至 {last} 统计（按上报时间，北京时间）"
    totals = result["totals"]
    if not result["group_by"]:
        table = Table(title=title, min_width=cell_len(title))  # a short table under a long title
        table.add_column("指标")
        table.add_column("数值", justify="right")
        for name, label in counts.items():
            table.add_row(label, _shown(totals[name]))
        for m in metrics:
            table.add_row(m["label"], _shown(totals[m["key"]], m["display"]))
        for name, label in extra.items():
            table.add_row(label, _shown(totals[name]))
        return table
    table = Table(title=f"{title} · 按{stats.GROUPS[result['group_by']]}")
    # Names stay on one line; on a narrow terminal the headings wrap instead.
    table.add_column(stats.GROUPS[result["group_by"]], no_wrap=True)
    for heading in [counts[n] for n in GROUP_COLUMNS] + [m["label"] for m in metrics] + [
            extra["avg_handling_hours"], extra["score"]]:
        table.add_column(heading, justify="right", overflow="fold")

    def cells(row: dict[str, Any]) -> list[str]:
        return ([_shown(row[n]) for n in GROUP_COLUMNS] + [_shown(row[m["key"]], m["display"]) for m in metrics]
                + [_shown(row["avg_handling_hours"]), _shown(row["score"])])

    for row in result["groups"]:
        table.add_row(row["label"], *cells(row))
    table.add_section()
    table.add_row("合计", *cells(totals), style="bold")
    return table


def register(app: typer.Typer) -> None:
    """Add `shanzhi stats` to the command line."""

    @app.command("stats")
    def stats_command(
        region: Annotated[str | None, typer.Option(help="区域编码 region code（默认全区）")] = None,
        start: Annotated[str | None, typer.Option(help="开始日期（含）YYYY-MM-DD，默认本月 1 日")] = None,
        end: Annotated[str | None, typer.Option(help="结束日期（不含）YYYY-MM-DD，默认明天")] = None,
        by: Annotated[str | None, typer.Option("--by", help="分组 town|village|category|tier|unit|day")] = None,
        unit: Annotated[str | None, typer.Option(help="处置单位编码 unit code")] = None,
        category: Annotated[str | None, typer.Option(help="事件类别编码前缀 category prefix")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（与接口相同）")] = False,
    ) -> None:
        """统计指标：立案、处置、结案、按期、返工、满意度与综合评分。Command-center metrics."""
        from shanzhi.accounts.service import system_actor

        with errors(), session_scope() as session:
            require_schema("events", bind=session.connection())
            actor = system_actor(session)
            if not actor.grants:
                raise ShanzhiError("No regions yet: import them (shanzhi regions import) or run shanzhi demo",
                                   "尚未导入区域，请先运行 shanzhi regions import 或 shanzhi demo", code="no_regions")
            result = stats.compute(session, actor=actor, region=region,
                                   start=_date(start, "--start"), end=_date(end, "--end"), group_by=by,
                                   unit=unit, category=category)
        if as_json:
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        else:
            console.print(render(result))
