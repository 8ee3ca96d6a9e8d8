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


