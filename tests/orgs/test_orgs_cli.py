"""`shanzhi orgs …`: template, import (all or nothing, problems listed), export, numbers, proposals."""

from __future__ import annotations

import io
import json

from openpyxl import load_workbook

from builders import lattice_tree
from test_orgs_workbook import FILLED, workbook


def test_the_orgs_commands_import_export_and_count(run, tmp_path):
    assert run("orgs", "numbers").exit_code == 1  # before init: one clear line
    assert run("init").exit_code == 0
    tree = tmp_path / "tree.geojson"
    tree.write_text(json.dumps(lattice_tree(), ensure_ascii=False), encoding="utf-8")
    assert run("regions", "import", str(tree)).exit_code == 0

    template = tmp_path / "template.xlsx"
    assert run("orgs", "template", str(template)).exit_code == 0
    assert "组织" in load_workbook(template, read_only=True).sheetnames

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook({"组织": [["QY-2", "某公司", "外星企业", None, "330203101201"] + [None] * 8]}))
    rejected = run("orgs", "import", str(bad))
    assert rejected.exit_code == 1 and "第 2 行，C 列“类型”" in rejected.output

    good = tmp_path / "good.xlsx"
    good.write_bytes(workbook(FILLED))
    imported = run("orgs", "import", str(good))
    assert imported.exit_code == 0, imported.output
    assert "组织：新建 4" in imported.output and "成员：新建 3" in imported.output

    numbers = run("orgs", "numbers", "--json")
    assert numbers.exit_code == 0, numbers.output
    figures = json.loads(numbers.output)
    assert (figures["alliances"], figures["member_units"], figures["pairings"]) == (1, 1, 1)

    out = tmp_path / "out.xlsx"
    assert run("orgs", "export", str(out)).exit_code == 0
    rows = list(load_workbook(io.BytesIO(out.read_bytes()), read_only=True)["需求"].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][0] == "XQ000001"
    proposals = run("orgs", "proposals", "XQ000001")
    assert proposals.exit_code == 0 and "装配工岗位" in proposals.output and "类型匹配 40.0" in proposals.output
