"""`shanzhi detect …`: evaluate and retrain the category classifier from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shanzhi.db import session_scope
from shanzhi.detect import alerts, classify
from shanzhi.detect.corrections import export_corrections
from shanzhi.terminal import console, errors, require_schema


def register(app: typer.Typer) -> None:
    detect_app = typer.Typer(help="智能发现：分类模型评估与训练、预警扫描。Classifier and alert scans.",
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
        extra: Annotated[Path | None, typer.Option(
            "--extra", help="追加的纠正样本 JSONL（默认：数据库中派遣员的纠正记录）corrections file")] = None,
    ) -> None:
        """用内置语料加派遣员纠正记录重新训练并保存。Retrain from the shipped corpus plus dispatchers' corrections."""
        with errors():
            if extra is None:
                with session_scope() as session:
                    require_schema("category_corrections", bind=session.connection())
                    extra, n = export_corrections(session)
                console.print(f"纠正记录 corrections: {n}", highlight=False)
            with console.status("训练中 training…"):
                model = classify.train(extra)
        console.print(f"已保存 saved {classify.model_path()}  样本 n={model.n_train}  "
                      f"用时 {model.train_seconds:.1f}s", highlight=False)

    @detect_app.command("scan")
    def scan_() -> None:
        """查找高发点位和上升趋势，写入指挥中心预警。Find hotspots and trends; raise their alerts."""
        from shanzhi.db import get_engine, session_factory

        with errors():
            with session_scope() as session:
                require_schema("category_corrections", bind=session.connection())
            found = alerts.scan(session_factory(get_engine()))
        console.print(f"高发点位 hotspots={found['hotspot']}  上升趋势 trends={found['trend']}", highlight=False)

    app.add_typer(detect_app, name="detect")
