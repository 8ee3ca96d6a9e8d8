"""The command line: init, regions import/export, locate, and one clear line on bad input."""

from __future__ import annotations

import json

import pytest

from builders import lattice_tree


def test_commands_refuse_to_run_before_init(run):
    result = run("locate", "121.31", "29.81")
    assert result.exit_code == 1
    assert "shanzhi init" in result.output


def test_init_import_locate_and_export_work_together(run, tmp_path):
    assert run("init").exit_code == 0
    assert run("init").exit_code == 0, "init must be safe to repeat"
    src = tmp_path / "tree.geojson"
    src.write_text(json.dumps(lattice_tree(), ensure_ascii=False), encoding="utf-8")
    imported = run("regions", "import", str(src))
    assert imported.exit_code == 0, imported.output
    assert "新建 created 31" in imported.output

    located = run("locate", "121.31", "29.81")
    assert located.exit_code == 0
    assert "330203101201001001" in located.output and "第1镇" in located.output

    out = tmp_path / "out.geojson"
    assert run("regions", "export", str(out), "--level", "town").exit_code == 0
    codes = [f["properties"]["code"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]]
    assert codes == ["330203", "330203101", "330203102"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("locate", "116.4", "39.9"), "不在本辖区"),
        (("locate", "121.31", "29.81", "--crs", "mars"), "mars"),
        (("locate", "200", "29.81"), "经度"),
        (("regions", "import", "/no/such/file.geojson"), "文件不存在"),
        (("regions", "export", "-", "--root", "999999"), "区域 999999 不存在"),
    ],
)
def test_bad_input_exits_non_zero_with_a_clear_message(run, args, fragment):
    run("init")
    result = run(*args)
    assert result.exit_code == 1
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_a_bad_file_is_rejected_whole_with_every_problem_listed(run, tmp_path):
    run("init")
    data = lattice_tree()
    data["features"][3]["properties"]["level"] = "county"
    data["features"][5]["properties"]["code"] = "12"
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(data), encoding="utf-8")
    result = run("regions", "import", str(bad))
    assert result.exit_code == 1
    assert "第 3 个要素" in result.output and "第 5 个要素" in result.output
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert "不是有效的 JSON" in run("regions", "import", str(tmp_path / "broken.json")).output
    exported = run("regions", "export", "-")
    assert json.loads(exported.stdout)["features"] == []


def test_every_command_explains_itself(run):
    for args in ((), ("regions",), ("demo", "--help"), ("locate", "--help"), ("serve", "--help")):
        result = run(*args, "--help") if args == () else run(*args)
        assert "Usage" in result.output
    assert "gcj02" in run("locate", "--help").output


def test_users_commands_create_assign_list_disable_and_audit(run, tmp_path):
    run("init")
    src = tmp_path / "tree.geojson"
    src.write_text(json.dumps(lattice_tree(), ensure_ascii=False), encoding="utf-8")
    run("regions", "import", str(src))
    added = run("users", "add", "chen", "--name", "陈网格员", "--region", "330203101201", "--role", "grid_worker",
                "--phone", "13812345678", "--password", "first-pass-1")
    assert added.exit_code == 0, added.output
    assert run("users", "assign", "chen", "liaison", "330203101201").exit_code == 0
    listed = run("users", "list")
    assert "chen" in listed.output and "138****5678" in listed.output and "13812345678" not in listed.output
    assert "网格员" in listed.output and "民情联络员" in listed.output
    assert run("users", "disable", "chen").exit_code == 0
    assert "停用" in run("users", "list", "--q", "chen").output
    assert run("users", "reset-password", "chen", "--password", "second-pass-2").exit_code == 0
    bad = run("users", "add", "x", "--name", "短", "--region", "330203", "--password", "first-pass-1")
    assert bad.exit_code == 1 and "用户名" in bad.output
    weak = run("users", "assign", "chen", "emperor", "330203")
    assert weak.exit_code == 1 and "未知角色" in weak.output
    verified = run("audit", "verify")
    assert verified.exit_code == 0, verified.output
    tail = run("audit", "tail", "--limit", "5")
    assert "user.reset_password" in tail.output and "first-pass-1" not in tail.output


def test_the_password_is_prompted_for_when_not_given(run, tmp_path):
    run("init")
    src = tmp_path / "tree.geojson"
    src.write_text(json.dumps(lattice_tree(), ensure_ascii=False), encoding="utf-8")
    run("regions", "import", str(src))
    result = run("users", "add", "zhao", "--name", "赵", "--region", "330203", input="typed-pass-1\ntyped-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "typed-pass-1" not in result.output


def test_import_events_from_a_csv_file(run, tmp_path):
    run("init")
    src = tmp_path / "tree.geojson"
    src.write_text(json.dumps(lattice_tree(), ensure_ascii=False), encoding="utf-8")
    run("regions", "import", str(src))
    good = tmp_path / "hotline.csv"
    good.write_text("描述,类别,经度,纬度\n来电人反映村口垃圾堆了三天,0101,121.31,29.81\n", encoding="utf-8")
    done = run("import", "events", str(good))
    assert done.exit_code == 0, done.output
    assert "新建 1" in done.output and "已存在 1" in run("import", "events", str(good)).output
    bad = tmp_path / "bad.csv"
    bad.write_text("描述,类别,经度,纬度\n坐标在北京的一行,0101,116.4,39.9\n", encoding="utf-8")
    refused = run("import", "events", str(bad))
    assert refused.exit_code == 1 and "第 2 行" in refused.output
    assert run("import", "events", str(tmp_path / "missing.csv")).exit_code == 1
