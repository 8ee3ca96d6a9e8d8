"""`shanzhi orgs …`: the directory, numbers, match proposals and the XLSX workbook from the shell.

Like `shanzhi users`, commands act as the system actor (an administrator of every root region);
the same service rules and audit rows apply.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shanzhi.db import session_scope
from shanzhi.errors import ShanzhiError
from shanzhi.terminal import console, errors, progress, require_schema

Region = Annotated[str | None, typer.Option(help="区域编码 region code（默认全区）")]


def register(app: typer.Typer) -> None:
    orgs_app = typer.Typer(help="组织、1+X 联建、资源需求项目清单。Organizations, alliances and lists.",
                           no_args_is_help=True)

    @orgs_app.command("list")
    def list_(
        q: Annotated[str | None, typer.Option(help="名称关键字")] = None,
        kind: Annotated[str | None, typer.Option(help="类型编码，如 party_org、cppcc_member")] = None,
        region: Region = None,
        limit: Annotated[int, typer.Option(help="最多列出")] = 50,
    ) -> None:
        """列出组织（电话已脱敏）。List organizations."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.orgs import service

        with errors(), session_scope() as session:
            require_schema("alliances", bind=session.connection())
            rows, total = service.list_orgs(session, actor=system_actor(session), q=q, kind=kind, region=region,
                                            size=min(max(limit, 1), 500))
            items = service.org_dicts(session, rows)
        table = Table()
        for col in ("编码 code", "名称", "类型", "区域"):
            table.add_column(col, overflow="fold")
        for o in items:
            table.add_row(o["code"], o["name"], o["kind_label"], o["region"]["name"])
        console.print(table)
        console.print(f"共 {total} 个组织")

    @orgs_app.command("numbers")
    def numbers_(
        region: Region = None,
        as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（与接口相同）")] = False,
    ) -> None:
        """联建数据：联建、成员单位、结对、资源、需求、项目与平均用时。Numbers for a region."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.orgs.numbers import numbers

        with errors(), session_scope() as session:
            require_schema("alliances", bind=session.connection())
            actor = system_actor(session)
            result = numbers(session, actor=actor, region=region)
        if as_json:
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            return
        n, p = result["needs"], result["projects"]
        table = Table(title=f"{result['region']['name']}（{result['region']['code']}）")
        table.add_column("指标")
        table.add_column("数值", justify="right")
        for label, value in (
            ("联建 alliances", result["alliances"]), ("成员单位 member units", result["member_units"]),
            ("结对 pairings", result["pairings"]), ("结对单位 paired units", result["paired_units"]),
            ("资源 resources", result["resources"]), ("需求·待对接 open", n["open"]),
            ("需求·已对接 matched", n["matched"]),
            ("需求·已解决 met", n["met"]), ("需求·超期未对接 flagged", n["flagged"]),
            ("项目·实施中 in progress", p["in_progress"] + p["planned"]), ("项目·已完成 completed", p["completed"]),
            ("受益人数 beneficiaries", result["beneficiaries"]),
            ("需求→对接 平均天数", result["avg_days_to_match"]), ("需求→成效 平均天数", result["avg_days_to_outcome"]),
        ):
            table.add_row(label, "—" if value is None else f"{value:,}")
        console.print(table)

    @orgs_app.command("proposals")
    def proposals(need: Annotated[str, typer.Argument(help="需求编号，如 XQ000034")]) -> None:
        """为需求推荐资源，并说明每项得分。Ranked resources for a need, each score explained."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.orgs.matching import propose

        with errors(), session_scope() as session:
            require_schema("alliances", bind=session.connection())
            row, found = propose(session, actor=system_actor(session), need=need)
            items = [p.as_dict() for p in found]
        console.print(f"[bold]{need}[/] {row.title}")
        for i, p in enumerate(items, 1):
            head = f"{p['resource']['code']} {p['resource']['title']} — {p['org']['name']}"
            console.print(f"{i}. {p['score']:.1f} 分  {head}",
                          highlight=False)
            console.print("   " + "；".join(f"{f['label']} {f['points']:.1f}（{f['explain']}）" for f in p["factors"]),
                          highlight=False)
        if not items:
            console.print("没有可推荐的资源 no resource fits")

    @orgs_app.command("template")
    def template(file: Annotated[Path, typer.Argument(help="输出的 XLSX 文件")]) -> None:
        """生成导入模板。Write the import template."""
        from shanzhi.orgs.workbook_export import template as make

        file.write_bytes(make())
        console.print(f"已生成模板 {file}")

    @orgs_app.command("export")
    def export(file: Annotated[Path, typer.Argument(help="输出的 XLSX 文件")], region: Region = None) -> None:
        """导出组织、联建、成员与清单（电话已脱敏）。Export to XLSX."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.orgs.workbook_export import export_workbook

        with errors(), session_scope() as session:
            require_schema("alliances", bind=session.connection())
            data = export_workbook(session, actor=system_actor(session), region=region)
        file.write_bytes(data)
        console.print(f"已导出到 {file}（{len(data) / 1024:.0f} KB）")

    @orgs_app.command("import")
    def import_(file: Annotated[Path, typer.Argument(help="XLSX（模板格式）")]) -> None:
        """导入（整体校验：任一行有误则全部不写，并列出行号与列）。Import from XLSX, all or nothing."""
        from shanzhi.accounts.service import system_actor
        from shanzhi.orgs.workbook_import import import_workbook

        with errors():
            if not file.is_file():
                raise ShanzhiError(f"File not found: {file}", f"文件不存在：{file}", code="file_not_found")
            with progress() as report, session_scope() as session:
                require_schema("alliances", bind=session.connection())
                result = import_workbook(session, actor=system_actor(session, name="批量导入 import"),
                                         data=file.read_bytes(), progress=report)
        names = {"organizations": "组织", "alliances": "联建", "members": "成员", "resources": "资源", "needs": "需求"}
        for key, label in names.items():
            c, u, s = (getattr(result, x).get(key, 0) for x in ("created", "updated", "unchanged"))
            if c or u or s:
                console.print(f"{label}：新建 {c}，更新 {u}，未变 {s}")
        console.print("导入完成 imported")

    app.add_typer(orgs_app, name="orgs")
