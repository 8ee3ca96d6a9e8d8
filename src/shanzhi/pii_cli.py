"""`shanzhi pii …`: move every table's personal data to the newest key of SHANZHI_PII_KEYS."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from shanzhi.db import get_engine, session_factory, transaction
from shanzhi.terminal import console, errors, progress, require_schema

Batch = Annotated[int, typer.Option(min=1, max=10_000, help="每批行数 rows per transaction")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="只显示待轮换数量，不写入 show only")]


def rotate_keys(batch: int, dry_run: bool) -> None:
    """The command, shared with `shanzhi housing rotate-keys`."""

    from shanzhi import pii
    from shanzhi.pii_rotation import TABLES, pending, rotate

    require_schema(*(t.table for t in TABLES))
    started = time.perf_counter()
    factory = session_factory(get_engine())
    labels = {t.table: t.label for t in TABLES}
    with errors():
        key = pii.current_key()
        with transaction(factory) as session:
            left = pending(session)
        console.print(f"当前密钥 current key: {key.id}；待轮换 pending: "
                      + ("、".join(f"{labels[t]} {n:,} 人" for t, n in left.items() if n) or "无 none"))
        if dry_run:
            console.print("演练 dry run：未写入 nothing written")
            return
        with progress() as report:
            moved = rotate(factory, batch=batch, report=report)
    console.print(f"完成 done: {sum(moved.values()):,} 人改用密钥 {key.id}，"
                  f"用时 {time.perf_counter() - started:.1f} 秒；确认无误后可从 SHANZHI_PII_KEYS 中移除旧密钥")


def register(app: typer.Typer) -> None:
    pii_app = typer.Typer(help="个人信息加密密钥（用户、报告人、组织联系人、网格人员、住户）。Personal-data keys.",
                          no_args_is_help=True)

    @pii_app.command("rotate-keys")
    def rotate_command(batch: Batch = 500, dry_run: DryRun = False) -> None:
        """用 SHANZHI_PII_KEYS 的第一个密钥重新加密全部个人信息（分批提交，可中断续跑）。Re-encrypt all."""
        rotate_keys(batch, dry_run)

    app.add_typer(pii_app, name="pii")
