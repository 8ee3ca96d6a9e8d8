"""The audit trail: a hash chain that shows edits, deletions and truncation, keeps no secrets,
survives rollbacks for denials, and is read within a user's region scope."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from shanzhi import db
from shanzhi.audit import service
from shanzhi.audit.cli import app as audit_app
from shanzhi.audit.models import AuditEntry
from shanzhi.audit.service import (
    GENESIS,
    HEAD_KEY,
    entry_dict,
    entry_hash,
    list_entries,
    record,
    record_durably,
    tail,
    verify,
)
from shanzhi.config import get_settings
from shanzhi.errors import Forbidden, InvalidInput

TOWN = "330203101"  # a town
VILLAGE = "330203101201"  # a village in that town
OTHER_TOWN = "330203102"  # another town


def make_entries(session: Session, n: int, **overrides: Any) -> list[AuditEntry]:
    fields: dict[str, Any] = {"action": "user.update", "actor_id": 1, "actor_name": "区管理员"}
    fields.update(overrides)
    return [record(session, **fields, detail={"n": i}) for i in range(1, n + 1)]


def sql(session: Session, statement: str, **params: Any) -> None:
    """Tamper the way someone with database access would: behind the service's back."""
    session.execute(text(statement), params)


def test_appended_entries_form_a_chain_that_verifies(session):
    entries = make_entries(session, 5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert db.get_meta(session, HEAD_KEY) == f"5:{entries[-1].hash}"
    assert verify(session) == service.VerifyResult(True, 5, None, "the audit chain is intact", "审计链完整")


def test_an_empty_trail_verifies(session):
    result = verify(session)
    assert result.ok and result.checked == 0


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "user.read"), ("summary", '{"after":null,"before":null,"detail":{"n":99}}'),
     ("actor_id", 2), ("prev_hash", "f" * 64)],
)
def test_verify_names_an_edited_row(session, column, value):
    make_entries(session, 5)
    sql(session, f"UPDATE audit_entries SET {column} = :v WHERE seq = 3", v=value)
    result = verify(session)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 3, 2)
    assert "entry 3 was edited" in result.reason
    assert "第 3 条已被篡改" in result.reason_zh


def test_verify_names_a_row_deleted_from_the_middle(session):
    make_entries(session, 5)
    sql(session, "DELETE FROM audit_entries WHERE seq = 3")
    result = verify(session)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 3, 2)
    assert "entry 3 was deleted" in result.reason and "第 3 条已被删除" in result.reason_zh


def test_verify_notices_rows_deleted_from_the_end(session):
    make_entries(session, 5)
    sql(session, "DELETE FROM audit_entries WHERE seq >= 4")
    result = verify(session)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 4, 3)
    assert "entry 4–5 is missing at the end" in result.reason and "末尾" in result.reason_zh


def test_a_rehashed_forgery_breaks_the_link_to_the_next_row(session):
    make_entries(session, 5)
    forged = '{"after":null,"before":null,"detail":{"n":"nothing happened"}}'
    sql(session, "UPDATE audit_entries SET summary = :s WHERE seq = 3", s=forged)
    row = session.execute(select(AuditEntry.__table__).where(AuditEntry.seq == 3)).one()
    sql(session, "UPDATE audit_entries SET hash = :h WHERE seq = 3", h=entry_hash(row))
    result = verify(session)
    assert (result.ok, result.first_broken_seq, result.checked) == (False, 4, 3)
    assert "entry 4 does not link to entry 3" in result.reason
    assert "链接断开" in result.reason_zh


def test_a_rehashed_last_row_no_longer_matches_the_head(session):
    make_entries(session, 3)
    sql(session, "UPDATE audit_entries SET outcome = 'denied' WHERE seq = 3")
    row = session.execute(select(AuditEntry.__table__).where(AuditEntry.seq == 3)).one()
    sql(session, "UPDATE audit_entries SET hash = :h WHERE seq = 3", h=entry_hash(row))
    result = verify(session)
    assert (result.ok, result.first_broken_seq) == (False, 3)
    assert "head does not match entry 3" in result.reason


def test_appending_refuses_to_restart_a_chain_whose_head_was_removed(session):
    make_entries(session, 2)
    sql(session, "DELETE FROM app_meta WHERE key = :k", k=HEAD_KEY)
    assert "head record is missing" in verify(session).reason
    with pytest.raises(service.AuditChainBroken):
        record(session, action="auth.login")


def test_passwords_and_tokens_never_reach_the_trail(session):
    entry = record(
        session,
        action="user.update",
        before={"password": "old-pw", "profile": {"api_token": "tok-1", "name": "王芳"}},
        after={"password_hash": "$argon2$x", "sessions": [{"CSRF": "c-1", "ok": True}]},
        detail={"client_secret": "s-1", "passwd": "pw-2"},
    )
    for secret in ("old-pw", "tok-1", "$argon2$x", "c-1", "s-1", "pw-2"):
        assert secret not in entry.summary
    assert "王芳" in entry.summary, "Chinese text is kept readable, not \\u-escaped"
    assert entry_dict(entry)["summary"] == {
        "before": {"password": "[redacted]", "profile": {"api_token": "[redacted]", "name": "王芳"}},
        "after": {"password_hash": "[redacted]", "sessions": [{"CSRF": "[redacted]", "ok": True}]},
        "detail": {"client_secret": "[redacted]", "passwd": "[redacted]"},
    }


def test_the_client_address_comes_from_the_request_unless_given(session):
    session.info["client_ip"] = "10.1.2.3"
    assert record(session, action="auth.login").ip == "10.1.2.3"
    assert record(session, action="auth.login", ip="192.168.0.9").ip == "192.168.0.9"


def test_an_unknown_outcome_is_rejected(session):
    with pytest.raises(InvalidInput):
        record(session, action="auth.login", outcome="maybe")
    with pytest.raises(InvalidInput):
        record_durably(session, action="auth.login", outcome="maybe")


def test_a_durable_entry_survives_the_rollback_of_its_transaction(session):
    session.info["client_ip"] = "10.0.0.7"
    with pytest.raises(Forbidden), db.transaction(lambda: session) as s:
        record(s, action="user.create", target_type="user", target_id="42")
        record_durably(s, action="user.delete", actor_id=7, outcome="denied",
                       target_type="user", target_id="42", region_code=VILLAGE)
        s.info["client_ip"] = "10.9.9.9"  # the address was captured when the denial happened
        raise Forbidden("not in your scope", "不在您的管辖范围内")
    rows = session.scalars(select(AuditEntry)).all()
    assert [(r.seq, r.action, r.outcome, r.ip) for r in rows] == [(1, "user.delete", "denied", "10.0.0.7")]
    assert verify(session).ok


def test_a_durable_entry_is_also_written_when_the_transaction_commits(session):
    with db.transaction(lambda: session) as s:
        record(s, action="user.create")
        record_durably(s, action="auth.login", outcome="failed", actor_name="张三")
    assert [e.action for e in tail(session)] == ["auth.login", "user.create"]
    assert verify(session).checked == 2


def test_reads_are_scoped_to_region_prefixes_and_filtered(session):
    record(session, action="region.import", actor_id=1, region_code=None)
    record(session, action="personal.reveal", actor_id=2, region_code=VILLAGE)
    record(session, action="personal.reveal", actor_id=3, region_code=OTHER_TOWN + "201")
    record(session, action="user.create", actor_id=2, region_code=TOWN, outcome="denied")

    def actions(**kw: Any) -> list[tuple[str, int | None]]:
        items, total = list_entries(session, **kw)
        assert total == len(items)
        return [(e.action, e.actor_id) for e in items]

    assert len(actions(region_prefixes=None)) == 4, "the district sees everything"
    assert actions(region_prefixes=[TOWN]) == [("user.create", 2), ("personal.reveal", 2)]
    assert actions(region_prefixes=[VILLAGE, OTHER_TOWN]) == [("personal.reveal", 3), ("personal.reveal", 2)]
    assert actions(region_prefixes=[]) == [], "an empty scope sees nothing"
    assert actions(region_prefixes=None, action="personal.reveal", actor_id=2) == [("personal.reveal", 2)]
    assert actions(region_prefixes=[TOWN], outcome="denied") == [("user.create", 2)]

    page, total = list_entries(session, region_prefixes=None, page=2, size=3)
    assert (total, [e.seq for e in page]) == (4, [1])
    with pytest.raises(InvalidInput):
        list_entries(session, region_prefixes=None, size=501)


def test_entries_read_back_for_the_api_as_plain_data(session, monkeypatch):
    monkeypatch.setattr(service, "utcnow", lambda: datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC))
    e = record(session, action="user.create", target_type="user", target_id=42, after={"name": "李四"})
    session.expire_all()  # read what the database kept, not what we wrote
    out = entry_dict(session.get(AuditEntry, e.id))
    assert out["at"] == "2026-11-27T01:02:03.456789+00:00"
    assert (out["seq"], out["target_id"], out["summary"]["after"]) == (1, "42", {"name": "李四"})
    assert verify(session).ok, "the hash survives the database's round trip of the time"


def test_concurrent_appends_queue_up_instead_of_forking_the_chain(engine):
    # Committed work on separate connections: the one test here that must clean up after itself.
    writers, barrier, errors = 6, threading.Barrier(6), []

    def append(n: int) -> None:
        try:
            with Session(engine) as s:
                barrier.wait()
                record(s, action="auth.login", outcome="failed", detail={"writer": n})
                s.commit()
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=append, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with Session(engine) as s:
            assert verify(s).checked == writers and verify(s).ok
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_entries"))
            conn.execute(text("DELETE FROM app_meta WHERE key = :k"), {"k": HEAD_KEY})


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHANZHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SHANZHI_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(audit_app, list(args))
    get_settings.cache_clear()
    for eng in db._engines.values():
        eng.dispose()
    db._engines.clear()


def _migrated() -> Engine:
    from shanzhi.migrate import upgrade

    eng = db.get_engine()
    upgrade(eng)
    return eng


def test_cli_verify_exits_0_on_a_good_chain_and_1_on_a_tampered_one(cli):
    eng = _migrated()
    with db.session_scope() as s:
        make_entries(s, 3)
    good = cli("verify")
    assert good.exit_code == 0, good.output
    assert "审计链完整" in good.output and "3 条" in good.output
    with eng.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET action = 'nothing' WHERE seq = 2"))
    bad = cli("verify")
    assert bad.exit_code == 1
    assert "第 2 条已被篡改" in bad.output and "entry 2 was edited" in bad.output
    assert "Traceback" not in bad.output


def test_cli_tail_shows_the_newest_entries_in_shanghai_time(cli, monkeypatch):
    _migrated()
    monkeypatch.setattr(service, "utcnow", lambda: datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    with db.session_scope() as s:
        make_entries(s, 3, action="auth.login", actor_name="Wang")
    result = cli("tail", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "08:30" in result.output, "UTC 00:30 is 08:30 in Shanghai"
    assert "auth.login" in result.output and "Wang" in result.output
    assert " 3 " in result.output and " 1 " not in result.output


def test_cli_asks_for_init_before_the_schema_exists(cli):
    result = cli("verify")
    assert result.exit_code == 1 and "shanzhi init" in result.output
