"""`shanzhi housing …` end to end on a fresh database: import a workbook, report, purge with
--dry-run first, and rotate keys (old values read until the end, then only the new key is needed)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from builders import lattice_tree
from housing_helpers import IN_MG1, make_id, workbook
from shanzhi import db
from shanzhi.accounts.service import system_actor
from shanzhi.config import get_settings
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Person, Registration
from shanzhi.housing.people import plain
from shanzhi.housing.policy import housing_policy
from shanzhi.housing.registrations import end_registration

TODAY = today_local()
OLD = TODAY - timedelta(days=housing_policy().retention.ended_registration_days + 300)


def test_import_report_purge_and_rotate_from_the_command_line(run, tmp_path, monkeypatch):
    assert run("housing", "purge", "--dry-run").exit_code == 1, "refused before init"
    assert run("init").exit_code == 0
    tree = tmp_path / "tree.geojson"
    tree.write_text(json.dumps(lattice_tree(), ensure_ascii=False), encoding="utf-8")
    assert run("regions", "import", str(tree)).exit_code == 0
    book = tmp_path / "registry.xlsx"
    book.write_bytes(workbook(
        [["东街 5 号", *IN_MG1, "住宅", 3, "砖混", "张阿大", "13705743001", None, None, None, "101", "单间", 20, "空置"],
         ["东街 5 号", None, None, None, None, None, None, None, None, None, None, "102", "单间", 20, "空置"]],
        [["钱一", make_id(201), "13805742001", None, "东街 5 号", "101", OLD.isoformat(), None, "务工"],
         ["孙二", make_id(202), "13805742002", None, "东街 5 号", "102", TODAY.isoformat(), None, "务工"]]))
    imported = run("housing", "import", str(book))
    assert imported.exit_code == 0, imported.output
    assert "房屋 1，房间 2，居住登记 2" in imported.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook([], [["李三", make_id(203)[:-1] + "0", None, None, "东街 5 号", "101", "2026-01-01",
                                  None, None]]))
    refused = run("housing", "import", str(bad))
    assert refused.exit_code == 1 and "第 2 行「身份证号」" in refused.output

    with db.session_scope() as session:  # 钱一 left long ago
        reg = session.scalars(select(Registration).order_by(Registration.id)).first()
        end_registration(session, actor=system_actor(session), registration_id=reg.id, reason="搬离",
                         ended_on=OLD + timedelta(days=30))
    report = run("housing", "report", "--region", "330203101201")
    assert report.exit_code == 0 and "1011村" in report.output

    dry = run("housing", "purge", "--dry-run")
    assert dry.exit_code == 0 and "将清除 would purge: 1 人" in dry.output and "330203101201: 1 人" in dry.output
    with db.session_scope() as session:
        assert session.scalars(select(Person).where(Person.purged_at.is_not(None))).all() == []
    done = run("housing", "purge")
    assert done.exit_code == 0 and "已清除 purged: 1 人" in done.output

    secret = get_settings().secret_key
    monkeypatch.setenv("SHANZHI_PII_KEYS", f"k9:a-new-key-for-the-cli-test,k0:{secret}")
    get_settings.cache_clear()
    rotated = run("housing", "rotate-keys", "--batch", "1")
    assert rotated.exit_code == 0, rotated.output
    assert "待轮换 pending: 房屋住户 residents 2 人" in rotated.output and "完成 done: 2 人改用密钥 k9" in rotated.output
    monkeypatch.setenv("SHANZHI_PII_KEYS", "k9:a-new-key-for-the-cli-test")
    get_settings.cache_clear()
    with db.session_scope() as session:
        live = session.scalars(select(Person).where(Person.purged_at.is_(None))).all()
        assert {p.pii_key for p in live} == {"k9"}
        assert {p.name: plain(p) for p in live} == {"孙二": (make_id(202), "13805742002"),
                                                    "张阿大": (None, "13705743001")}
