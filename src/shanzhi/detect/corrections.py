"""Dispatchers' category corrections as training data for `shanzhi detect retrain`."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.config import get_settings
from shanzhi.detect.models import CategoryCorrection
from shanzhi.events.catalog import catalog


def corrections_path() -> Path:
    return get_settings().data_dir / "models" / "corrections.jsonl"


def export_corrections(session: Session, path: Path | None = None) -> tuple[Path, int]:
    """Write every stored correction as a {"text", "code"} line (the latest per event wins; a
    category a district has since dropped from its catalog is skipped). Returns (file, lines)."""
    path = path or corrections_path()
    known = {c.code for c in catalog().categories}
    latest: dict[int, tuple[str, str]] = {}
    for row in session.execute(select(CategoryCorrection.event_id, CategoryCorrection.text,
                                      CategoryCorrection.chosen_code).order_by(CategoryCorrection.id)):
        latest[row.event_id] = (row.text, row.chosen_code)
    lines = [json.dumps({"text": t, "code": c}, ensure_ascii=False) for t, c in latest.values() if c in known]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(path)
    return path, len(lines)
