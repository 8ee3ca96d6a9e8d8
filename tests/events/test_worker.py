"""The worker: yellow and red marks at the right moments, escalation past the escalate share,
notifications to exactly the people the policy names, idempotent sweeps, several workers at
once, and a worker killed mid-sweep that loses nothing.

A sweep commits batch by batch, which the rolled-back `session` fixture cannot show; every test
here works on a fresh database of its own (a SQLite file, or a throwaway PostgreSQL schema),
with frozen, explicit moments — nothing sleeps.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from builders import lattice_tree, make_event, make_units
from rich.console import Console
from sqlalchemy import Engine, create_engine, event, func, select, text, update
from typer.testing import CliRunner

from shanzhi import db as shanzhi_db
from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.accounts.service import system_actor
from shanzhi.audit.models import AuditEntry
from shanzhi.audit.service import verify
from shanzhi.config import get_settings
from shanzhi.db import as_utc, make_engine, session_factory, transaction
from shanzhi.events import deadlines, notify as notices, worker
from shanzhi.events.catalog import catalog
from shanzhi.events.models import Event, EventStep, Notification, OutboxMessage
from shanzhi.events.service import transition
from shanzhi.events.workcal import work_calendar
from shanzhi.events.notify import NotifyPolicy, notify
from shanzhi.events.worker import SweepResult, sweep
from shanzhi.geo import service as geo
from shanzhi.geo.models import Region
from shanzhi.migrate import upgrade

DISTRICT = "330203"
TOWN = "330203101"
OTHER_TOWN = "330203102"
VILLAGE = "330203101201"  # the village of the point 121.31, 29.81
OTHER_VILLAGE = "330203101202"
MICROGRID = "330203101201001001"
# Monday 2 March 2026, 09:00 in Shanghai: a working day. Category 0101 (暴露垃圾) allows 8
# working hours (08:30–12:00, 13:30–17:30), so the event turns yellow at 80% on Monday 16:54,
# is due on Tuesday 09:30 and is escalated at 150% on Tuesday 15:00.
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
YELLOW = datetime(2026, 3, 2, 8, 54, tzinfo=UTC)
DUE = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
ESCALATE = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


# -- a fresh database per test -----------------------------------------------------------------


@dataclass
class Db:
    engine: Engine
    schema: str | None

    @property
    def factory(self):  # type: ignore[no-untyped-def]
        return session_factory(self.engine)

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def another_engine(self) -> Engine:
        """A second engine on the same database: another worker process, as far as locks go."""
        if self.schema is None:
            return make_engine(self.engine.url.render_as_string(hide_password=False))
        return _schema_engine(self.schema)


def _schema_engine(schema: str) -> Engine:
    return create_engine(os.environ["SHANZHI_TEST_DATABASE_URL"], connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Db]:
    # As conftest's engine does, but one per test: a SQLite file, or a throwaway PostgreSQL schema.
    schema = None
    if url := os.environ.get("SHANZHI_TEST_DATABASE_URL"):
        schema = f"shanzhi_worker_{uuid.uuid4().hex[:10]}"
        admin = make_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        engine = _schema_engine(schema)
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'worker.db'}")
    try:
        upgrade(engine)
        yield Db(engine, schema)
    finally:
        engine.dispose()
        if schema:
            admin = make_engine(os.environ["SHANZHI_TEST_DATABASE_URL"])
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


# People of 第1镇 and around it, each with one role where the policy may or may not reach them.
PEOPLE = {
    "wangfang": ("王芳", "handler", VILLAGE, ("grid_team", VILLAGE)),  # the grid team the event goes to
    "chenjing": ("陈静", "handler", VILLAGE, ("village_committee", VILLAGE)),  # another unit, same village
    "liqiang": ("李强", "village_cadre", VILLAGE, None),
    "zhaomin": ("赵敏", "village_cadre", OTHER_VILLAGE, None),
    "huangwei": ("黄伟", "grid_worker", VILLAGE, None),
    "liuyang": ("刘洋", "dispatcher", TOWN, None),
    "zhouting": ("周婷", "duty_chief", TOWN, None),
    "sunlei": ("孙磊", "dispatcher", OTHER_TOWN, None),
    "wugang": ("吴刚", "dispatcher", DISTRICT, None),
    "zhengjie": ("郑洁", "duty_chief", DISTRICT, None),
}


@dataclass
class World:
    users: dict[int, str]  # user id → username
    units: dict[tuple[str, str], int]


@pytest.fixture
def world(db: Db) -> World:
    with transaction(db.factory) as s:
        geo.import_regions(s, data=lattice_tree())
        units = make_units(s)
        regions = {r.code: r.id for r in s.scalars(select(Region))}
        users = {}
        for username, (name, role, scope, unit) in PEOPLE.items():
            # Written directly: these people never sign in, and hashing ten passwords is slow.
            user = User(username=username, display_name=name, password_hash="!", home_region_id=regions[scope])
            s.add(user)
            s.flush()
            s.add(RoleAssignment(user_id=user.id, role=role, region_id=regions[scope],
                                 org_id=units[unit] if unit else None))
            users[user.id] = username
    return World(users, units)


def dispatched_event(db: Db, **over) -> str:  # type: ignore[no-untyped-def]
    """An event reported in VILLAGE, accepted and dispatched to the village's grid team at T0."""
    with transaction(db.factory) as s:
        code = make_event(s, **over).event.code
        admin = system_actor(s)
        transition(s, actor=admin, code=code, name="accept", now=T0)
        transition(s, actor=admin, code=code, name="dispatch", now=T0)
    return code


def due_events(db: Db, world: World, n: int) -> list[int]:
    """n dispatched events whose clock started at T0, written directly (fast), all due at YELLOW."""
    category = catalog().category("0101")
    with transaction(db.factory) as s:
        rows = []
        for i in range(n):
            e = Event(code=f"HS-T-{i:05d}", tracking_hash="0" * 64, text=f"第{i}处暴露垃圾", category_code="0101",
                      category_source="chosen", channel="resident", region_code=MICROGRID, town_code=TOWN,
                      village_code=VILLAGE, status="dispatched", tier="village",
                      assigned_org_id=world.units[("grid_team", VILLAGE)], accepted_at=T0, dispatched_at=T0)
            deadlines.start_clock(e, category, T0)
            rows.append(e)
        s.add_all(rows)
        s.flush()
        return [e.id for e in rows]


def load(db: Db, code: str) -> Event:
    with db.factory() as s:
        found = s.scalar(select(Event).where(Event.code == code))
        assert found is not None
        return found


def steps(db: Db, code: str) -> list[EventStep]:
    with db.factory() as s:
        return list(s.scalars(select(EventStep).join(Event, Event.id == EventStep.event_id)
                              .where(Event.code == code).order_by(EventStep.id)))


def told(db: Db, world: World, kind: str) -> set[str]:
    with db.factory() as s:
        ids = s.scalars(select(Notification.user_id).where(Notification.kind == kind)).all()
    return {world.users[i] for i in ids}


def counts(db: Db) -> dict[str, int]:
    with db.factory() as s:
        return {table.__tablename__: s.scalar(select(func.count()).select_from(table)) or 0
                for table in (EventStep, Notification, OutboxMessage, AuditEntry)}


# -- marks -------------------------------------------------------------------------------------


def test_the_golden_moments_are_what_the_working_calendar_says(db, world):
    e = load(db, dispatched_event(db))
    assert (as_utc(e.clock_started_at), as_utc(e.yellow_at), as_utc(e.due_at)) == (T0, YELLOW, DUE)
    assert as_utc(e.next_check_at) == YELLOW
    assert work_calendar().add_work_hours(T0, 8 * 1.5) == ESCALATE


def test_an_event_turns_yellow_at_its_yellow_mark_and_red_once_overdue(db, world):
    code = dispatched_event(db)

    assert sweep(db.factory, now=YELLOW - MINUTE).checked == 0, "not due yet: not even claimed"
    assert load(db, code).deadline_state == "normal"

    assert sweep(db.factory, now=YELLOW) == SweepResult(checked=1, yellow=1, notifications=2, outbox=1)
    e = load(db, code)
    assert (e.deadline_state, as_utc(e.next_check_at)) == ("yellow", DUE)

    at_due = sweep(db.factory, now=DUE)
    assert (at_due.checked, at_due.red) == (1, 0), "at the deadline itself it is not yet overdue"
    assert load(db, code).deadline_state == "yellow"

    assert sweep(db.factory, now=DUE + MINUTE).red == 1
    e = load(db, code)
    assert (e.deadline_state, as_utc(e.next_check_at)) == ("red", ESCALATE)

    marks = [s for s in steps(db, code) if s.action.startswith("deadline_")]
    assert [(s.action, as_utc(s.at), s.public, s.actor_id, s.to_status) for s in marks] == [
        ("deadline_yellow", YELLOW, False, None, "dispatched"),
        ("deadline_red", DUE + MINUTE, False, None, "dispatched"),
    ]
    assert '"actor": "系统"' in (marks[0].data or "")
    with db.factory() as s:
        topics = s.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)).all()
    assert topics[-2:] == ["event.deadline_yellow", "event.deadline_red"]


def test_an_overdue_village_event_is_escalated_to_the_town_at_the_escalate_share(db, world):
    code = dispatched_event(db)
    sweep(db.factory, now=DUE + MINUTE)
    assert sweep(db.factory, now=ESCALATE - MINUTE).checked == 0

    result = sweep(db.factory, now=ESCALATE)

    assert (result.escalated, result.outbox) == (1, 1)
    e = load(db, code)
    assert (e.tier, e.status, e.assigned_org_id, e.escalations) == ("town", "accepted", None, 1)
    assert e.proposed_org_id == world.units[("town_office", TOWN)], "re-routed to the town's office"
    # A new clock at the town: normal again, next looked at at its own yellow mark.
    assert (as_utc(e.clock_started_at), e.deadline_state) == (ESCALATE, "normal")
    assert as_utc(e.next_check_at) == as_utc(e.yellow_at) > ESCALATE
    last = steps(db, code)[-1]
    assert (last.action, last.actor_name, last.note, last.from_status) == (
        "escalate", "系统（超期自动上报）", "超期自动上报", "dispatched")
    with db.factory() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "event.escalate")).all()
        assert [(a.target_id, a.actor_name, a.outcome) for a in audit] == [(code, "系统（超期自动上报）", "allowed")]
        assert verify(s).ok


def test_a_worker_that_was_down_marks_red_and_escalates_in_one_sweep(db, world):
    code = dispatched_event(db)

    result = sweep(db.factory, now=ESCALATE + timedelta(hours=2))

    assert (result.yellow, result.red, result.escalated) == (0, 1, 1)
    assert [s.action for s in steps(db, code)][-2:] == ["deadline_red", "escalate"]
    # The red notice still reaches the unit the escalation just took the event from.
    assert "wangfang" in told(db, world, "deadline_red")
    assert told(db, world, "escalated") == {"liuyang", "zhouting"}


def test_a_second_sweep_at_the_same_moment_changes_nothing(db, world):
    codes = [dispatched_event(db) for _ in range(3)]
    first = sweep(db.factory, now=ESCALATE)
    assert (first.red, first.escalated) == (3, 3)
    before = counts(db), [load(db, c).version for c in codes]

    again = sweep(db.factory, now=ESCALATE)

    assert again == SweepResult()
    assert (counts(db), [load(db, c).version for c in codes]) == before


def test_sweeping_the_same_event_again_repeats_no_mark_and_no_notification(db, world):
    # Even when a row is put back in the queue by hand, what was done is not done twice.
    code = dispatched_event(db)
    sweep(db.factory, now=YELLOW)
    before = counts(db)
    with transaction(db.factory) as s:
        s.execute(update(Event).where(Event.code == code).values(next_check_at=YELLOW))

    assert sweep(db.factory, now=YELLOW + MINUTE) == SweepResult(checked=1)
    assert counts(db) == before


# -- who is told -------------------------------------------------------------------------------


def test_yellow_reaches_the_units_handlers_and_the_village_cadre_and_nobody_else(db, world):
    dispatched_event(db)
    sweep(db.factory, now=YELLOW)
    # 陈静 handles for another unit of the same village; 赵敏 is the cadre of the next village;
    # 黄伟 is a grid worker of the village; the town's and district's people hear of yellow never.
    assert told(db, world, "deadline_yellow") == {"wangfang", "liqiang"}


def test_red_also_reaches_the_towns_dispatcher_and_duty_chief(db, world):
    dispatched_event(db)
    sweep(db.factory, now=DUE + MINUTE)
    assert told(db, world, "deadline_red") == {"wangfang", "liqiang", "liuyang", "zhouting"}
    with db.factory() as s:
        messages = s.scalars(select(Notification.message).where(Notification.kind == "deadline_red")).all()
        assigned = s.scalars(select(Notification.message).where(Notification.kind == "assigned")).all()
    assert messages and all("已超过办理时限 2026-03-03 09:30" in m for m in messages), messages
    assert assigned and all("已派遣给本单位" in m for m in assigned)  # told on dispatch, by the workflow


def test_an_escalation_tells_the_new_tiers_dispatchers_only_and_stops_at_the_top(db, world):
    code = dispatched_event(db)
    sweep(db.factory, now=ESCALATE)
    assert told(db, world, "escalated") == {"liuyang", "zhouting"}, "not 孙磊 of the other town, not the district"

    at_town = load(db, code)
    to_district = work_calendar().add_work_hours(as_utc(at_town.clock_started_at), 8 * 1.5)
    sweep(db.factory, now=to_district)
    e = load(db, code)
    assert (e.tier, e.escalations) == ("district", 2)
    with db.factory() as s:
        second = s.scalars(select(Notification.user_id).where(Notification.dedupe_key == f"{code}:escalated:2")).all()
    assert {world.users[i] for i in second} == {"wugang", "zhengjie"}

    # At the district — the top tier — it goes red and then leaves the queue.
    top = work_calendar().add_work_hours(as_utc(e.clock_started_at), 8 * 3)
    result = sweep(db.factory, now=top)
    e = load(db, code)
    assert (result.red, result.escalated, e.tier, e.deadline_state, e.next_check_at) == (1, 0, "district", "red", None)


def test_a_disabled_account_is_not_told(db, world):
    with transaction(db.factory) as s:
        s.execute(update(User).where(User.username == "liqiang").values(is_active=False))
    dispatched_event(db)
    sweep(db.factory, now=YELLOW)
    assert told(db, world, "deadline_yellow") == {"wangfang"}


def test_recipients_for_a_whole_batch_are_found_with_one_query(db, world):
    due_events(db, world, 40)
    statements: list[str] = []

    def spy(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        result = sweep(db.factory, now=YELLOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
    assert (result.checked, result.notifications) == (40, 80)
    assert sum("FROM role_assignments" in s for s in statements) == 1


def test_an_assignment_tells_the_units_handlers(db, world):
    code = dispatched_event(db)  # the dispatch step itself tells them
    assert told(db, world, "assigned") == {"wangfang"}
    with transaction(db.factory) as s:
        e = s.scalar(select(Event).where(Event.code == code))
        assert notify(s, [notices.assigned(e)], now=T0) == 0, "the same assignment is announced once"
    assert told(db, world, "assigned") == {"wangfang"}


# -- statuses and extensions -------------------------------------------------------------------


def test_an_overdue_resolved_event_is_not_escalated_but_looked_at_again_daily(db, world):
    code = dispatched_event(db)
    with transaction(db.factory) as s:
        transition(s, actor=system_actor(s), code=code, name="resolve", result="已清理", now=T0 + MINUTE)
    late = ESCALATE + timedelta(hours=1)

    result = sweep(db.factory, now=late)

    e = load(db, code)
    assert (result.red, result.escalated, e.tier, e.status) == (1, 0, "village", "resolved")
    assert as_utc(e.next_check_at) == late + timedelta(days=1)
    # Sent back for rework, still late: the next daily look escalates it.
    with transaction(db.factory) as s:
        transition(s, actor=system_actor(s), code=code, name="reopen", reason="未清理干净", now=late + MINUTE)
    assert sweep(db.factory, now=late + timedelta(days=1)).escalated == 1
    assert load(db, code).tier == "town"


def test_an_approved_extension_warns_again_for_the_new_deadline(db, world):
    code = dispatched_event(db)
    sweep(db.factory, now=YELLOW)
    with transaction(db.factory) as s:
        admin = system_actor(s)
        transition(s, actor=admin, code=code, name="request_extension", amount=8, reason="需调机械", now=YELLOW)
        transition(s, actor=admin, code=code, name="approve_extension", now=YELLOW)
    e = load(db, code)
    new_due = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 8 more working hours: Wednesday 10:00
    assert (e.deadline_state, as_utc(e.due_at)) == ("normal", new_due)

    assert sweep(db.factory, now=as_utc(e.yellow_at)).yellow == 1
    with db.factory() as s:
        keys = s.scalars(select(Notification.dedupe_key).join(User, User.id == Notification.user_id)
                         .where(User.username == "wangfang", Notification.kind == "deadline_yellow")
                         .order_by(Notification.id)).all()
    assert keys == [f"{code}:yellow:{DUE.isoformat()}", f"{code}:yellow:{new_due.isoformat()}"]


# -- several workers, crashes, failures ---------------------------------------------------------


def _race(db: Db, n_workers: int = 2, batch: int = 20) -> list[SweepResult]:
    barrier, results, errors = threading.Barrier(n_workers), [], []
    engines = [db.another_engine() for _ in range(n_workers)]

    def work(engine: Engine) -> None:
        try:
            barrier.wait()
            results.append(sweep(session_factory(engine), now=YELLOW, batch=batch))
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert errors == []
    return results


def marks_per_event(db: Db) -> dict[int, int]:
    with db.factory() as s:
        return dict(s.execute(select(EventStep.event_id, func.count()).where(EventStep.action == "deadline_yellow")
                              .group_by(EventStep.event_id)).tuples().all())


def test_two_workers_on_postgresql_handle_each_due_event_once(db, world):
    if not db.postgres:
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite workers take turns on its one write lock instead")
    ids = due_events(db, world, 300)

    results = _race(db)

    assert sum(r.checked for r in results) == 300, "no event handled twice, none left out"
    assert all(r.checked > 0 for r in results), "both workers took a share"
    assert marks_per_event(db) == dict.fromkeys(ids, 1)
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 600
        assert verify(s).ok, "the audit chain did not fork"


def test_two_workers_on_sqlite_take_turns_instead_of_failing(db, world):
    if db.postgres:
        pytest.skip("PostgreSQL workers claim rows with SKIP LOCKED (the test above)")
    ids = due_events(db, world, 120)

    results = _race(db)

    assert sum(r.checked for r in results) == 120
    assert marks_per_event(db) == dict.fromkeys(ids, 1)


class WorkerKilled(BaseException):
    """Like SIGKILL: nothing in the worker catches it."""


def test_a_worker_killed_mid_sweep_loses_nothing(db, world, monkeypatch):
    ids = due_events(db, world, 25)
    real_check, calls = worker._check, []

    def dies_on_the_15th(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 15:
            raise WorkerKilled
        return real_check(*args, **kwargs)

    monkeypatch.setattr(worker, "_check", dies_on_the_15th)
    with pytest.raises(WorkerKilled):
        sweep(db.factory, now=YELLOW, batch=10)
    assert len(marks_per_event(db)) == 10, "the first batch was committed; the second rolled back whole"

    monkeypatch.setattr(worker, "_check", real_check)
    result = sweep(db.factory, now=YELLOW + MINUTE, batch=10)

    assert (result.checked, result.yellow) == (15, 15)
    assert marks_per_event(db) == dict.fromkeys(ids, 1)
    with db.factory() as s:
        per_key = s.execute(select(Notification.user_id, Notification.dedupe_key, func.count())
                            .group_by(Notification.user_id, Notification.dedupe_key)).all()
    assert len(per_key) == 50 and all(n == 1 for *_, n in per_key)


def test_an_event_that_fails_is_set_aside_and_the_rest_of_the_batch_goes_on(db, world, monkeypatch):
    ids = due_events(db, world, 5)
    real_check = worker._check

    def broken_for_one(session, event, *args):  # type: ignore[no-untyped-def]
        if event.code == "HS-T-00002":
            event.deadline_state = "yellow"  # half-done work must be undone
            raise RuntimeError("a bad row")
        return real_check(session, event, *args)

    monkeypatch.setattr(worker, "_check", broken_for_one)
    result = sweep(db.factory, now=YELLOW)

    assert (result.checked, result.yellow, result.failed) == (5, 4, 1)
    bad = load(db, "HS-T-00002")
    assert (bad.deadline_state, as_utc(bad.next_check_at)) == ("normal", YELLOW + worker.RETRY)
    assert set(marks_per_event(db)) == set(ids) - {bad.id}


# -- policy ------------------------------------------------------------------------------------


def test_the_shipped_notify_policy_names_every_happening():
    policy = notices.notify_policy()
    assert set(policy.happenings) == set(notices.KINDS)


@pytest.mark.parametrize(("change", "complaint"), [
    ({"role": "mayor"}, "unknown roles ['mayor']"),
    ({"at": "province"}, "Input should be"),
    ({"message": "事件 {code} 交给 {person}"}, "unknown placeholders ['person']"),
])
def test_a_notify_policy_with_a_mistake_is_refused(change, complaint):
    rule = {"role": "handler", "at": "unit"}
    happening = {"label": "x", "message": "事件 {code}", "to": [rule]}
    if "message" in change:
        happening["message"] = change["message"]
    else:
        rule.update(change)
    data = {"version": "t", "happenings": dict.fromkeys(notices.KINDS, happening)}
    with pytest.raises(ValueError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        NotifyPolicy.model_validate(data)


# -- the loop and the command ------------------------------------------------------------------


def test_the_loop_reports_a_failed_sweep_and_goes_on_until_stopped(monkeypatch):
    stop, calls = threading.Event(), []

    def flaky(factory, batch):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        stop.set()
        return SweepResult(checked=3, yellow=2, red=1, notifications=5, outbox=3)

    monkeypatch.setattr(worker, "sweep", flaky)
    out = io.StringIO()
    worker.run(lambda: None, interval=0, stop=stop, out=Console(file=out, width=200))  # type: ignore[arg-type,return-value]
    assert len(calls) == 2
    assert "检查 checked 3 · 黄牌 yellow 2 · 红牌 red 1" in out.getvalue()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHANZHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SHANZHI_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command, so `worker` stays a subcommand
    worker.register(app)
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()
    for eng in shanzhi_db._engines.values():
        eng.dispose()
    shanzhi_db._engines.clear()


def test_the_worker_command_runs_one_sweep_with_once(cli):
    upgrade(shanzhi_db.get_engine())
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.output
    assert "检查 checked 0" in result.output


def test_the_worker_command_asks_for_init_before_the_schema_exists(cli):
    result = cli("worker", "--once")
    assert result.exit_code == 1
    assert "shanzhi init" in result.output


def test_the_worker_command_explains_itself_in_both_languages(cli):
    result = cli("worker", "--help")
    assert result.exit_code == 0
    for words in ("超期自动上报", "Run timed work", "--once", "--interval", "--batch"):
        assert words in result.output
