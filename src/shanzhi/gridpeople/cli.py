"""`shanzhi gridpeople …`: the coverage report from the server's shell (as the system actor)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from shanzhi.db import session_scope
from shanzhi.terminal import console, errors


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def render(report: dict[str, Any]) -> list[Any]:
    """The report as lines and tables for the terminal."""
    region, liaisons = report["region"], report["liaisons"]
    out: list[Any] = [f"[bold]{region['name']}[/]（{region['code']}，{region['level_zh']}）网格人员覆盖情况 coverage"]
    for row in report["leaders"].values():
        out.append(f"  {row['level_zh']} {row['total']} 个，无{row['role_label']} {row['without_leader']} 个")
    residents = "—" if liaisons["residents"] is None else f"{liaisons['residents']:,}"
    out.append(f"  {liaisons['role_label']} {liaisons['people']} 人，居民 {residents} 人，"
               f"每千人 {_ratio(liaisons['ratio'])} 人 (per {liaisons['per']:,} residents)")
    roles = Table(title="各职务人数 people per role")
    for col in ("职务 role", "任职 assignments", "人数 people"):
        roles.add_column(col)
    for r in report["roles"]:
        roles.add_row(f"{r['label']} {r['role']}", str(r["assignments"]), str(r["people"]))
    out.append(roles)
    if report["children"]:
        kids = Table(title="下级区域 by child region")
        kids.add_column("编码 code")
        kids.add_column("名称 name")
        levels = list(report["leaders"])
        for level in levels:
            row = report["leaders"][level]
            kids.add_column(f"{row['level_zh']} / 无{row['role_label']}", justify="right")
        kids.add_column(f"{liaisons['role_label']}", justify="right")
        kids.add_column("每千人 per 1,000", justify="right")
        for c in report["children"]:
            kids.add_row(c["code"], c["name"],
                         *(f"{c['leaders'][lv]['total']} / {c['leaders'][lv]['without_leader']}" for lv in levels),
                         str(c["liaisons"]), _ratio(c["liaison_ratio"]))
        out.append(kids)
    for row in report["leaders"].values():
        if row["uncovered"]:
            names = "、".join(u["name"] for u in row["uncovered"][:20])
            more = f" 等 {row['without_leader']} 个" if row["without_leader"] > 20 else ""
            out.append(f"  无{row['role_label']}的{row['level_zh']}：{names}{more}")
    return out


def register(app: typer.Typer) -> None:
    gridpeople_app = typer.Typer(help="网格人员：覆盖情况。Grid people: coverage.", no_args_is_help=True)

    @gridpeople_app.command("coverage")
    def coverage_command(
        region: Annotated[str, typer.Option(help="区域编码 region code")],
        as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（与接口相同）")] = False,
    ) -> None:
        """网格长、微网格长缺口与每千人民情联络员数。Grids and micro-grids without a leader, liaisons per 1,000."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.gridpeople.coverage import coverage

        with errors(), session_scope() as session:
            report = coverage(session, actor=system_actor(session), region=region)
        if as_json:
            typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
            return
        for part in render(report):
            console.print(part, highlight=False)

    app.add_typer(gridpeople_app, name="gridpeople")
