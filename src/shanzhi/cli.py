"""The `shanzhi` command line: set up, load the demo, serve, import/export regions, locate."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from shanzhi.config import get_settings
from shanzhi.db import get_engine, session_scope
from shanzhi.errors import ShanzhiError
from shanzhi.terminal import console, err_console, errors, progress, require_schema

app = typer.Typer(
    help="善治 shanzhi — 网格化基层治理平台 grid-based grassroots governance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
regions_app = typer.Typer(help="区域树：导入、导出 GeoJSON。Region tree import/export.", no_args_is_help=True)
app.add_typer(regions_app, name="regions")


import_app = typer.Typer(help="批量导入。Bulk import.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("events")
def import_events_command(
    file: Annotated[Path, typer.Argument(help="CSV（UTF-8）或 XLSX：描述/text, 类别/category, 经度/lon, 纬度/lat, 区域编码/region …")],
) -> None:
    """导入事件（整体校验，逐行报错；同一文件重复导入不会重复建事件）。Import events."""
    from shanzhi.accounts.service import system_actor
    from shanzhi.events.importer import import_events

    require_schema()
    if not file.is_file():
        err_console.print(f"[bold red]错误[/]：文件不存在：{file}\n[dim]File not found: {file}[/]")
        raise typer.Exit(1)
    with errors(), progress() as report, session_scope() as session:
        result = import_events(session, actor=system_actor(session, name="批量导入 import"), path=file,
                               progress=report)
    console.print(f"导入完成 imported: 新建 {result.created}，已存在 {result.existing}")


def _add_subcommands() -> None:
    from shanzhi.accounts.cli import app as users_app
    from shanzhi.audit.cli import app as audit_app
    from shanzhi.detect.cli import register as register_detect
    from shanzhi.events.stats_api import register as register_stats
    from shanzhi.events.worker import register as register_worker
    from shanzhi.housing.cli import register as register_housing
    from shanzhi.orgs.cli import register as register_orgs
    from shanzhi.gridpeople.cli import register as register_gridpeople
    from shanzhi.pii_cli import register as register_pii

    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    register_stats(app)
    register_detect(app)
    register_worker(app)
    register_housing(app)
    register_orgs(app)
    register_gridpeople(app)
    register_pii(app)

@app.command()
def init() -> None:
    """创建或升级数据库结构。Create or upgrade the database schema (Alembic)."""
    from shanzhi.migrate import current, upgrade

    settings = get_settings()
    engine = get_engine()
    upgrade(engine)
    console.print(f"数据库已就绪 database ready: [bold]{engine.url.render_as_string()}[/] "
                  f"(revision {current(engine)})")
    if settings.secret_key.startswith("dev-only"):
        console.print("[yellow]提示：未设置 SHANZHI_SECRET_KEY，仅适用于演示。[/]")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="随机种子 seed: the same seed builds the same district")] = 2026,
) -> None:
    """生成演示区（海曙区规模：17 镇街、164 村、572 网格、2229 微网格），演示账号、处置单位与十个月的历史事件。Load the demo district."""
    from shanzhi.demo.alliances import create_demo_alliances
    from shanzhi.demo.district import build_district
    from shanzhi.demo.gridpeople import create_demo_gridpeople
    from shanzhi.demo.history import generate_history
    from shanzhi.demo.housing import generate_housing
    from shanzhi.demo.people import DEMO_PASSWORD, create_demo_people
    from shanzhi.demo.units import create_demo_units
    from shanzhi.geo.service import import_regions

    require_schema()
    started = time.perf_counter()
    with errors(), progress() as report:
        features = build_district(seed=seed, progress=report)
        with session_scope() as session:
            result = import_regions(session, data={"type": "FeatureCollection", "features": features},
                                    progress=report, by="演示数据 demo")
        with session_scope() as session:
            people = create_demo_people(session)
            accounts = [(p.username, p.name, p.role, place.name, created) for p, place, created in people]
            units = create_demo_units(session)
        history = generate_history(get_engine(), seed=seed, progress=report)
        alliances = create_demo_alliances(get_engine(), seed=seed, progress=report)
        grid_people = create_demo_gridpeople(get_engine(), seed=seed, progress=report)
        housing = generate_housing(get_engine(), seed=seed, progress=report)
    counts: dict[str, int] = {}
    for f in features:
        counts[f["properties"]["level"]] = counts.get(f["properties"]["level"], 0) + 1
    console.print(
        f"演示区已生成：镇街 {counts.get('town', 0)}、村社 {counts.get('village', 0)}、"
        f"网格 {counts.get('grid', 0)}、微网格 {counts.get('microgrid', 0)} "
        f"（新建 {result.created}，更新 {result.updated}，用时 {time.perf_counter() - started:.1f} 秒）"
    )
    if history.skipped:
        console.print(f"处置单位新建 {units} 个；历史事件已存在，未重复生成")
    else:
        console.print(
            f"处置单位新建 {units} 个；历史事件 {history.events:,} 件（已结案 {history.closed:,}，"
            f"在办 {history.open:,}），时间线 {history.steps:,} 步，用时 {history.seconds:.1f} 秒"
        )
    console.print(alliances.summary())
    # The command center opens with what detection finds in that history, not an empty inbox.
    from shanzhi.db import session_factory
    from shanzhi.detect import alerts

    with errors():
        found = alerts.scan(session_factory(get_engine()))
    console.print(f"预警：高发点位 {found['hotspot']} 处，上升趋势 {found['trend']} 项")
    console.print(grid_people.summary())
    console.print(housing.summary())
    table = Table(title=f"演示账号（仅供演示，密码均为 {DEMO_PASSWORD}）demo-only logins")
    for col in ("登录名 login", "姓名", "角色 role", "范围 scope", ""):
        table.add_column(col, overflow="fold")
    for username, name, role, place, created in accounts:
        table.add_row(username, name, role, place, "新建" if created else "已存在")
    console.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址 address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 port")] = 8000,
) -> None:
    """启动网页与接口服务。Serve the pages and the JSON API."""
    import uvicorn

    from shanzhi.app import create_app

    require_schema()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"善治已启动 shanzhi is running: [bold]http://{shown}:{port}/map[/]  (接口文档 /api/docs，Ctrl+C 退出)")
    # Live feeds (Server-Sent Events) stay open; on shutdown give them a few seconds, not forever.
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


@regions_app.command("import")
def regions_import(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection 文件（- 表示标准输入）")],
) -> None:
    """导入区域（按编码新建或更新，整体校验，全部成功或全部不写）。Import regions from GeoJSON."""
    from shanzhi.geo.service import import_regions

    require_schema()
    with errors():
        data = _read_json(file)
        with progress() as report, session_scope() as session:
            result = import_regions(session, data=data, progress=report)
    console.print(f"导入完成 imported: 新建 created {result.created}，更新 updated {result.updated}")


def _read_json(file: Path) -> Any:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        return json.loads(text)
    except FileNotFoundError:
        raise ShanzhiError(f"File not found: {file}", f"文件不存在：{file}", code="file_not_found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShanzhiError(f"{file} is not valid JSON: {exc}", f"{file} 不是有效的 JSON：{exc}",
                           code="invalid_json") from None


@regions_app.command("export")
def regions_export(
    file: Annotated[Path, typer.Argument(help="输出文件（- 表示标准输出）")] = Path("-"),
    root: Annotated[str | None, typer.Option(help="只导出此编码的子树 only this subtree")] = None,
    level: Annotated[str | None, typer.Option(help="导出到此层级为止 down to this level")] = None,
) -> None:
    """导出区域为 GeoJSON（可再导入）。Export regions as a GeoJSON FeatureCollection."""
    from shanzhi.geo.service import export_regions

    require_schema()
    with errors(), session_scope() as session:
        data = export_regions(session, root=root, level=level)
    text = json.dumps(data, ensure_ascii=False)
    if str(file) == "-":
        sys.stdout.write(text + "\n")
    else:
        file.write_text(text, encoding="utf-8")
        console.print(f"已导出 {len(data['features'])} 个区域到 {file}")


@app.command()
def locate(
    lon: Annotated[float, typer.Argument(help="经度 longitude")],
    lat: Annotated[float, typer.Argument(help="纬度 latitude")],
    crs: Annotated[str, typer.Option(help="坐标系 wgs84 | gcj02（高德/微信） | bd09（百度）")] = "wgs84",
) -> None:
    """定位坐标所在的区域链（微网格 … 区）。Locate a point in the region tree."""
    from shanzhi.geo.service import locate as locate_point

    require_schema()
    with errors(), session_scope() as session:
        found = locate_point(session, lon=lon, lat=lat, crs=crs)
    table = Table(title=f"WGS84 {found.lon:.6f}, {found.lat:.6f}")
    table.add_column("层级 level")
    table.add_column("编码 code")
    table.add_column("名称 name")
    for ref in reversed(found.chain):
        table.add_row(ref.level, ref.code, ref.name)
    console.print(table)


_add_subcommands()

if __name__ == "__main__":
    app()
