"""`shanzhi detect …`: evaluate and retrain the category classifier from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shanzhi.detect import classify
from shanzhi.terminal import console, errors


def register(app: typer.Typer) -> None:
    detect_app = typer.Typer(help="事件分类模型：评估、重新训练。Category classifier.",
                             no_args_is_help=True)

    @detect_app.command("eval")
    def eval_(
        file: Annotated[Path, typer.Argument(help="JSONL，每行 {\"text\", \"code\"}")],
    ) -> None:
        """在标注文件上评估分类模型。Evaluate the classifier on a labelled JSONL file."""
        with errors():
            report = classify.evaluate(file)
        table = Table(title="各类别 per category")
        for col in ("类别 code", "名称 name", "精确率 P", "召回率 R", "F1", "样本 n"):
            table.add_column(col)
        for s in report.per_category:
            style = "red" if s.f1 < 0.7 else None
            table.add_row(s.code, s.name, f"{s.precision:.2f}", f"{s.recall:.2f}", f"{s.f1:.2f}",
                          str(s.support), style=style)
        console.print(table)
        if report.confusions:
            console.print("最常混淆 worst confusions (真实 → 预测 true → predicted):")
            for true, pred, n in report.confusions:
                console.print(f"  {true} {classify.category_name(true)} → "
                              f"{pred} {classify.category_name(pred)}: {n}", highlight=False)
        # The last line is a fixed key=value format so runs can be compared by scripts.
        console.print(report.summary(), highlight=False, soft_wrap=True)

    @detect_app.command("retrain")
    def retrain(
        extra: Annotated[Path | None, typer.Option("--extra", help="追加的纠正样本 JSONL corrections")] = None,
    ) -> None:
        """用内置语料（加纠正样本）重新训练并保存。Retrain from the shipped corpus (+ corrections)."""
        with errors(), console.status("训练中 training…"):
            model = classify.train(extra)
        console.print(f"已保存 saved {classify.model_path()}  样本 n={model.n_train}  "
                      f"用时 {model.train_seconds:.1f}s", highlight=False)

    app.add_typer(detect_app, name="detect")
