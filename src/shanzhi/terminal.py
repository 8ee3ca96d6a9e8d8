"""What every command shares: the consoles, one-line errors, progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shanzhi.errors import ShanzhiError

console = Console()
err_console = Console(stderr=True)


@contextmanager
def errors() -> Iterator[None]:
    """Domain errors become one clear line (plus the list of problems) and exit code 1."""
    try:
        yield
    except ShanzhiError as exc:
        err_console.print(f"[bold red]错误[/]：{exc.message_zh}\n[dim]{exc.message}[/]", highlight=False)
        details = exc.details if isinstance(exc.details, list) else []
        for d in details[1:20]:
            if isinstance(d, dict) and "reason_zh" in d:
                err_console.print(f"  · {d['reason_zh']}", highlight=False)
        raise typer.Exit(1) from None


def require_schema(*tables: str, bind: Any = None) -> None:
    """Exit with one clear line when the database (`bind`, default the configured one) lacks these
    tables, or any schema at all: not initialised yet, or older than this version."""
    from sqlalchemy import inspect

    from shanzhi.db import get_engine

    present = inspect(bind if bind is not None else get_engine())
    if not all(present.has_table(t) for t in (tables or ("alembic_version",))):
        with errors():
            raise ShanzhiError("The database is not initialised, or older than this version: run `shanzhi init` first",
                               "数据库尚未初始化或版本过旧，请先运行 shanzhi init", code="no_schema")


@contextmanager
def progress() -> Iterator[Callable[[str, int, int], None]]:
    bars = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )
    tasks: dict[str, Any] = {}

    def report(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = bars.add_task(label, total=total)
        bars.update(tasks[label], completed=done, total=total)

    with bars:
        yield report


