"""`shanzhi housing …`: import a workbook, print a region's figures, purge past retention,
rotate the personal-data keys (every table's: the same command as `shanzhi pii rotate-keys`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shanzhi.db import session_scope
from shanzhi.errors import ShanzhiError
from shanzhi.pii_cli import Batch, DryRun, rotate_keys
from shanzhi.terminal import console, errors, progress, require_schema


def register(app: typer.Typer) -> None:
    housing_app = typer.Typer(help="房屋与流动人口：导入、统计、到期清除、密钥轮换。Housing registry.",
                              no_args_is_help=True)

    @housing_app.command("import")
    def import_command(
        file: Annotated[Path, typer.Argument(help="XLSX 工作簿：「房屋」表（每行一个房间）与/或「人员」表（每行一条居住登记）")],
    ) -> None:
        """导入房屋与人员（整体校验，逐行逐列报错；重复导入不会重复登记）。Import buildings and residents."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.housing.importer import import_workbook

        require_schema("housing_people")
        with errors():
            if not file.is_file():
                raise ShanzhiError(f"File not found: {file}", f"文件不存在：{file}", code="file_not_found")
            with progress() as report, session_scope() as session:
                result = import_workbook(session, actor=system_actor(session, name="房屋导入 import"),
                                         data=file.read_bytes(), progress=report)
        console.print(f"导入完成 imported: 房屋 {result.buildings}，房间 {result.units}，"
                      f"居住登记 {result.registrations}，已存在跳过 {result.skipped}")

    @housing_app.command("report")
    def report_command(
        region: Annotated[str, typer.Option(help="区域编码 region code")],
    ) -> None:
        """区域房屋与流动人口统计（含下级区域）。Figures for a region and its children."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.housing.reports import FIGURES, region_report

        require_schema("housing_people")
        with errors(), session_scope() as session:
            data = region_report(session, actor=system_actor(session), region=region)
        table = Table(title=f"{data['region']['name']}（{data['region']['code']}）截至 {data['as_of']}")
        table.add_column("区域")
        for label in FIGURES.values():
            table.add_column(label, justify="right")
        for row in [{"name": "合计", **data["totals"]}, *data["children"]]:
            table.add_row(row["name"], *(f"{row[k]:,}" for k in FIGURES))
        console.print(table)

    @housing_app.command("purge")
    def purge_command(
        dry_run: Annotated[bool, typer.Option("--dry-run", help="只显示将清除的内容，不写入 show only")] = False,
    ) -> None:
        """清除超过保存期限的已注销登记人员的个人信息（人数统计保留）。Purge personal data past retention."""
        from shanzhi.housing.retention import purge

        require_schema("housing_people")
        with errors(), session_scope() as session:
            plan = purge(session, dry_run=dry_run)
        verb = "将清除 would purge" if dry_run else "已清除 purged"
        console.print(f"{verb}: {plan.people:,} 人的姓名、身份证号、手机号、户籍地址（涉及居住登记 {plan.registrations:,} 条，"
                      f"均在 {plan.cutoff.isoformat()} 前注销；登记记录与统计保留）")
        if plan.oldest_end:
            console.print(f"最早注销于 {plan.oldest_end.isoformat()}")
        for village, n in plan.by_village.items():
            console.print(f"  {village}: {n:,} 人")

    @housing_app.command("rotate-keys")
    def rotate_command(batch: Batch = 500, dry_run: DryRun = False) -> None:
        """同 shanzhi pii rotate-keys：重新加密全部个人信息（不只房屋）。Same as `shanzhi pii rotate-keys`."""
        rotate_keys(batch, dry_run)

    app.add_typer(housing_app, name="housing")
