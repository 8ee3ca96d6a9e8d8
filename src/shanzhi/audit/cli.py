"""`shanzhi audit …`: verify the chain, show the newest entries.

Mounted by shanzhi.cli; it does not import shanzhi.cli back, so there is no import cycle.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from shanzhi.audit.models import AuditEntry
from shanzhi.audit.service import tail, verify
from shanzhi.db import as_utc, session_scope
from shanzhi.terminal import console, err_console, require_schema

app = typer.Typer(help="审计日志：校验与查看。Audit trail: verify and view.", no_args_is_help=True)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@app.command("verify")
def verify_command() -> None:
    """校验审计链是否完整（发现篡改时退出码为 1）。Verify the hash chain; exit 1 if tampered."""
    require_schema(AuditEntry.__tablename__)
    with session_scope() as session:
        result = verify(session)
    if result.ok:
        console.print(f"审计链完整 audit chain intact：共 {result.checked} 条 entries")
        return
    at = f" at entry {result.first_broken_seq}" if result.first_broken_seq is not None else ""
    err_console.print(
        f"[bold red]审计链已被破坏[/]：{result.reason_zh}（此前 {result.checked} 条校验通过）\n"
        f"[dim]Audit chain broken{at}: {result.reason}[/]",
        highlight=False,
    )
    raise typer.Exit(1)


@app.command("tail")
def tail_command(
    limit: Annotated[int, typer.Option(min=1, max=500, help="显示条数 how many entries")] = 20,
) -> None:
    """显示最新的审计条目（北京时间）。Show the newest entries, times in Asia/Shanghai."""
    require_schema(AuditEntry.__tablename__)
    with session_scope() as session:
        entries = tail(session, limit=limit)
    table = Table(title=f"最新审计条目 latest audit entries ({len(entries)})")
    for column in ("序号 seq", "时间 time", "操作人 actor", "IP", "操作 action", "对象 target",
                   "结果 outcome"):
        table.add_column(column)
    for e in entries:
        actor = e.actor_name or (f"#{e.actor_id}" if e.actor_id is not None else "—")
        target = f"{e.target_type or ''}:{e.target_id}" if e.target_id else (e.target_type or "—")
        table.add_row(
            str(e.seq), as_utc(e.at).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"), actor,
            e.ip or "—", e.action, target, e.outcome,
        )
    console.print(table)
