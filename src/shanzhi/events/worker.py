"""The worker: deadline marks, automatic escalation and notifications, swept from the database.

No broker: the events table is the queue. `next_check_at` (indexed) says when an open event
next needs a look. A sweep claims the due rows in batches and commits each batch on its own.
On PostgreSQL the claim is FOR UPDATE SKIP LOCKED, so several workers share the work without
ever taking the same row; on SQLite a write transaction holds the one write lock from its
start (db.transaction), so workers take turns. A worker killed mid-sweep loses only its
uncommitted batch, whose rows are still due and are claimed again by the next sweep.

Every change is guarded by the state it changes from: for a given deadline the stored
`deadline_state` only moves forward, every claimed row leaves with a `next_check_at` after the
sweep's moment, and notifications carry a dedupe key. So a second sweep at the same moment
changes nothing, and a re-run of a lost batch repeats nothing that was committed.

Who is told of what is policy (policy/notify.toml); recipients for a whole batch are found
with one query.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shanzhi.accounts.authz import Actor
from shanzhi.accounts.service import system_actor
from shanzhi.db import as_utc, for_update_skip_locked, transaction, utcnow
from shanzhi.detect import alerts
from shanzhi.detect.policy import detect_policy
from shanzhi.events import deadlines
from shanzhi.events.catalog import catalog
from shanzhi.events.models import OPEN_STATUSES, Event
from shanzhi.events.notify import Happening, happening, notify
from shanzhi.events.policy import routing, workflow
from shanzhi.events.service import record_step, transition
from shanzhi.events.workcal import work_calendar
from shanzhi.terminal import console, err_console

log = logging.getLogger(__name__)

SYSTEM = "系统"  # who the deadline marks are by (the timeline step has no actor)
ESCALATOR = "系统（超期自动上报）"
ESCALATE_REASON = "超期自动上报"
# Never leave a row due at or before the sweep's own moment: the same sweep would claim it
# again. A moment that float rounding puts a hair early is simply looked at a second later.
MIN_STEP = timedelta(seconds=1)
# An event past its escalation mark that may not be escalated in its current status (resolved
# or verified, awaiting closure) is looked at daily, so that it is escalated if it is reopened.
RECHECK = timedelta(days=1)
# An event whose processing fails is set aside for this long; the rest of its batch goes on,
# so one bad row cannot stall the queue (it is logged every time it fails).
RETRY = timedelta(minutes=15)
RANK = {"none": 0, "normal": 1, "yellow": 2, "red": 3}
CALENDAR_UNITS = ("calendar_hours", "calendar_days")


def _share_moment(event: Event, share: float) -> datetime:
    """When `share` of the event's allowed time is used, counted as its unit counts time
    (the same arithmetic that placed `yellow_at`)."""
    start, due = as_utc(event.clock_started_at), as_utc(event.due_at)
    assert start is not None and due is not None
    if event.limit_unit in CALENDAR_UNITS:
        return start + (due - start) * share
    cal = work_calendar()
    return cal.add_work_hours(start, cal.work_hours_between(start, due) * share)


def _state(event: Event, now: datetime) -> str:
    state = deadlines.state_at(event, now)
    # The stored yellow mark is the moment the check was scheduled for; honour it too, so a
    # check at exactly yellow_at marks yellow even if rounding puts progress a hair under.
    if state == "normal" and event.yellow_at is not None and now >= as_utc(event.yellow_at):
        return "yellow"
    return state


def _can_climb(event: Event) -> bool:
    """Below the top tier: there is somewhere to escalate to."""
    cat = catalog()
    rank = cat.tier_rank(event.tier) if event.tier else 0
    return rank + 1 < len(cat.tiers)


def _may_escalate_now(event: Event) -> bool:
    step = workflow().transitions.get("escalate")
    return step is not None and event.status in step.from_ and _can_climb(event)


def _escalation_due(event: Event, now: datetime) -> bool:
    if not _may_escalate_now(event):
        return False
    share = routing().deadlines.escalate_share
    used = deadlines.progress(event, now)
    return (used is not None and used >= share) or now >= _share_moment(event, share)


def next_check(event: Event, now: datetime) -> datetime | None:
    """The next moment something can change for the event, or None when nothing will.

    normal → its yellow mark; yellow → its deadline; red → the escalation mark while there is
    a tier above (daily once past it, if the status forbids escalating); red at the top tier →
    None: the event stays on every overdue list, and repeating the same warning to the same
    people every day would teach them to ignore it. Approving an extension re-marks the event
    (deadlines.extend), which puts it back in the queue.
    """
    if event.status not in OPEN_STATUSES or event.due_at is None or event.clock_started_at is None:
        return None
    state = event.deadline_state
    if state in ("none", "normal"):
        at = as_utc(event.yellow_at) or as_utc(event.due_at)
    elif state == "yellow":
        at = as_utc(event.due_at)
    elif _can_climb(event) and "escalate" in workflow().transitions:
        at = _share_moment(event, routing().deadlines.escalate_share)
        if at <= now:  # past the mark, yet not escalated: its status forbids it for now
            at = now + RECHECK
    else:
        return None
    assert at is not None
    return max(at, now + MIN_STEP)


# -- the sweep ---------------------------------------------------------------------------------


@dataclass
class SweepResult:
    checked: int = 0
    yellow: int = 0
    red: int = 0
    escalated: int = 0
    notifications: int = 0
    outbox: int = 0
    failed: int = 0

    def add(self, other: SweepResult) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _check(session: Session, event: Event, now: datetime, escalator: Callable[[], Actor]
           ) -> tuple[SweepResult, list[Happening]]:
    """Look at one claimed event: mark it, escalate it, schedule its next check."""
    counts, found = SweepResult(), []
    if event.due_at is None or event.clock_started_at is None or event.limit_unit is None:
        event.next_check_at = None  # no clock running: nothing to watch
        return counts, found
    state = _state(event, now)
    marked = RANK[state] > RANK.get(event.deadline_state, 0)
    if marked:
        event.deadline_state = state
    escalate = _escalation_due(event, now)
    if not escalate:
        # Set before the step is written, so the event is updated once (record_step flushes).
        event.next_check_at = next_check(event, now)
    if marked and state in ("yellow", "red"):
        due = as_utc(event.due_at)
        assert due is not None
        used = deadlines.progress(event, now)
        record_step(session, event, actor=None, action=f"deadline_{state}", before=event.status,
                    data={"actor": SYSTEM, "due_at": due.isoformat(),
                          "progress": round(used, 3) if used is not None else None},
                    at=now, public=False)
        setattr(counts, state, 1)
        counts.outbox += 1  # record_step writes the step's webhook message
        found.append(happening(event, f"deadline_{state}", f"{event.code}:{state}:{due.isoformat()}"))
    if escalate:
        # The one transition engine does the work (new tier, unassigned, re-routed, new clock),
        # with its own timeline step, audit row and outbox message.
        transition(session, actor=escalator(), code=event.code, name="escalate", reason=ESCALATE_REASON, now=now)
        counts.escalated += 1
        counts.outbox += 1
        found.append(happening(event, "escalated", f"{event.code}:escalated:{event.escalations}"))
        event.next_check_at = next_check(event, now)
    return counts, found


def _sweep_batch(session: Session, *, now: datetime, batch: int, careful: bool = False) -> SweepResult:
    """Claim up to `batch` due events and handle them in the session's transaction.

    `careful`: a savepoint per event, so an event that fails is set aside (logged, looked at
    again after RETRY) while the rest of the batch goes on. Savepoints cost about a fifth of
    the sweep's time, so a batch first runs without them and is redone carefully only if it
    failed.
    """
    result = SweepResult()
    claim = (
        select(Event)
        .where(Event.next_check_at <= now, Event.status.in_(OPEN_STATUSES))
        .order_by(Event.next_check_at)  # exactly the index: no sort, however many are due
        .limit(batch)
    )
    events = session.scalars(for_update_skip_locked(claim, session)).all()
    actor: list[Actor] = []

    def escalator() -> Actor:
        if not actor:
            actor.append(system_actor(session, name=ESCALATOR))
        return actor[0]

    happenings: list[Happening] = []
    for event in events:
        event_id, code = event.id, event.code
        result.checked += 1
        if not careful:
            counts, found = _check(session, event, now, escalator)
        else:
            try:
                with session.begin_nested():
                    counts, found = _check(session, event, now, escalator)
            except Exception:
                log.exception("worker: event %s failed; set aside for %s", code, RETRY)
                result.failed += 1
                table = Event.__table__
                session.execute(update(table).where(table.c.id == event_id).values(next_check_at=now + RETRY))
                continue
        result.add(counts)
        happenings.extend(found)
    result.notifications = notify(session, happenings, now=now)
    session.flush()
    return result


def sweep(session_factory: Callable[[], Session], *, now: datetime | None = None, batch: int = 500) -> SweepResult:
    """Handle every open event due at `now` (default: the current time), batch by batch.

    Each batch is claimed, handled and committed in its own transaction; counts cover the
    committed batches. Safe to run in several workers at once and to run again.
    """
    if batch < 1:
        raise ValueError("batch must be ≥ 1")
    now = as_utc(now) if now is not None else utcnow()
    assert now is not None
    total = SweepResult()
    careful = False
    while True:
        try:
            with transaction(session_factory) as session:
                part = _sweep_batch(session, now=now, batch=batch, careful=careful)
        except Exception:
            if careful:
                raise
            # The batch was rolled back whole; redo it with a savepoint per event, so that only
            # what fails is set aside. (A kill is no Exception: its batch is simply claimed again.)
            log.warning("worker: a batch failed; redoing it event by event", exc_info=True)
            careful = True
            continue
        careful = False
        total.add(part)
        # A short batch means nothing due is left that another worker has not locked.
        if part.checked < batch:
            return total


# -- the loop and the command ------------------------------------------------------------------


def _show(out: Console, result: SweepResult, started: datetime, seconds: float) -> None:
    local = started.astimezone(work_calendar().tz)
    idle = result.checked == 0
    line = (f"[dim]{local:%Y-%m-%d %H:%M:%S}[/] 检查 checked [bold]{result.checked}[/] · "
            f"黄牌 yellow [yellow]{result.yellow}[/] · 红牌 red [red]{result.red}[/] · "
            f"上报 escalated [magenta]{result.escalated}[/] · 通知 notifications {result.notifications} · "
            f"外发 outbox {result.outbox}")
    if result.failed:
        line += f" · [bold red]失败 failed {result.failed}[/]"
    line += f" [dim]({seconds:.2f}s)[/]"
    out.print(f"[dim]{line}[/]" if idle else line, highlight=False)


def run(session_factory: Callable[[], Session], *, interval: float = 30.0, once: bool = False,
        stop: threading.Event | None = None, batch: int = 500, out: Console | None = None) -> None:
    """Sweep every `interval` seconds until `stop` is set (or once). A failed sweep is reported
    and retried next round: its uncommitted batch was rolled back and is still due."""
    stop = stop or threading.Event()
    out = out or console
    next_scan = 0.0
    while True:
        started, clock = utcnow(), time.perf_counter()
        try:
            result = sweep(session_factory, batch=batch)
        except Exception as exc:
            if once:
                raise
            log.exception("worker: sweep failed")
            err_console.print(f"[bold red]本轮检查失败[/]，下一轮重试。sweep failed, retrying next round: {exc!r}",
                              highlight=False)
        else:
            _show(out, result, started, time.perf_counter() - clock)
        if time.monotonic() >= next_scan:
            next_scan = time.monotonic() + detect_policy().scan.interval_minutes * 60
            _scan(session_factory, out, once=once)
        if once or stop.wait(interval):
            return


def _scan(session_factory: Callable[[], Session], out: Console, *, once: bool) -> None:
    """Hotspots and trends for the command center's inbox; a failure waits for the next scan."""
    clock = time.perf_counter()
    try:
        found = alerts.scan(session_factory)
    except Exception as exc:
        if once:
            raise
        log.exception("worker: detection scan failed")
        err_console.print(f"[bold red]预警扫描失败[/]。detection scan failed: {exc!r}", highlight=False)
        return
    out.print(f"预警扫描：高发点位 {found['hotspot']}，上升趋势 {found['trend']}（{time.perf_counter() - clock:.1f}s）"
              f"[dim] scan: hotspots={found['hotspot']} trends={found['trend']}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `shanzhi worker` to the command line."""

    @app.command("worker")
    def worker_command(
        once: Annotated[bool, typer.Option("--once", help="检查一次后退出。Run one sweep, then exit.")] = False,
        interval: Annotated[float, typer.Option(
            "--interval", min=0.1, help="两次检查之间的秒数。Seconds between sweeps.")] = 30.0,
        batch: Annotated[int, typer.Option(
            "--batch", min=1, help="每批（一个事务）处理的事件数。Events per batch (one transaction each); "
            "on SQLite a batch holds the write lock, so keep it small there if the web process must not wait.",
        )] = 500,
    ) -> None:
        """后台任务：到期检查、黄牌红牌、超期自动上报、消息通知。Run timed work: deadline marks, escalation, notifications.

        可同时运行多个；中途被终止不会丢失任何事项。Several may run at once; a killed worker loses nothing.
        """
        from shanzhi.db import get_engine, session_factory
        from shanzhi.terminal import errors, require_schema

        engine = get_engine()
        require_schema(bind=engine)
        stop = threading.Event()
        previous = None
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (systemd, docker stop) ends the loop after the current sweep.
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if not once:
            console.print(f"善治 worker 已启动，每 {interval:g} 秒检查一次（Ctrl+C 停止）。"
                          f"[dim]worker started on {engine.url.render_as_string()}, every {interval:g}s[/]",
                          highlight=False)
        try:
            with errors():
                run(session_factory(engine), interval=interval, once=once, stop=stop, batch=batch)
        except KeyboardInterrupt:
            console.print("已停止。[dim]stopped[/]")
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
