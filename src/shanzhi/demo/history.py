"""Ten months of demo event history, written in bulk: `generate_history`.

What it makes (demo district, scale 1): ~160,000 events, ~17,500 of them in 古林镇; a category mix
where 市容环卫 and 街面秩序 lead, 1302 防汛防台 peaks in the Jul–Sep typhoon season and 0502
露天焚烧 in winter; channels as in a grid system (网格巡查 ~55 %, residents ~20 %, 12345 ~15 %,
departments and interfaces ~5 % each); Chinese report texts with concrete places; points inside
the towns, located to their micro-grids; and every event's timeline — on the spot, or accepted,
dispatched, handled, verified, closed, with some returns, reworks, escalations and extensions,
deadline marks where the worker would have made them, and ratings for ~60 % of closed events.
The mix and the odds live in `history_plan`, the timing in `history_timeline`, the words in
`history_texts`.

Everything before `end` has happened and nothing after it: the last days' events are still
open, some of them yellow or red. Towns in `ALWAYS_CLOSED` (古林镇) close every event.

It is imported history, not live work: no audit row per step (one "demo.history" row with the
counts), no outbox messages, no notifications. Rows go in with explicit ids straight through
the driver (executemany on SQLite, COPY on PostgreSQL), 5,000 events a chunk — no ORM objects —
in one transaction. Codes are
numbered per prefix and day in reporting order, as `codes.next_code` numbers them, and the
counters are left at the last number, so live intake carries on. Same seed and `end`, same history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from shanzhi.audit import service as audit
from shanzhi.db import as_utc, get_meta, session_factory, set_meta, transaction, utcnow
from shanzhi.demo.history_plan import (
    ALWAYS_CLOSED,
    CHANNELS,
    DAY,
    UNITS,
    US,
    Plan,
    Tree,
)
from shanzhi.demo.history_texts import Words
from shanzhi.demo.history_timeline import (
    ACCEPT,
    APPROVE,
    DISPATCH,
    DISPATCH_V,
    ESCALATE,
    MARKS,
    NSLOTS,
    RATE,
    REDISPATCH,
    REJECT,
    REOPEN,
    REPORT,
    REQUEST,
    RESOLVE,
    RESOLVE2,
    RETURN,
    SLOTS,
    SPOT,
    Clock,
    State,
    Timeline,
)
from shanzhi.events.catalog import catalog
from shanzhi.events.codes import SHANGHAI, letters, secret_hash
from shanzhi.events.models import Event, EventCounter, EventStep
from shanzhi.events.workcal import work_calendar

__all__ = ["ALWAYS_CLOSED", "HISTORY_KEY", "HistoryResult", "generate_history"]

Progress = Callable[[str, int, int], None]
HISTORY_KEY = "demo_history"  # app_meta: set once the history is written
CHUNK = 5_000
MONTH_DAYS = 30.4375


@dataclass(frozen=True)
class HistoryResult:
    events: int
    steps: int
    closed: int  # handled and closed (on the spot or after verification)
    open: int
    rejected: int
    by_town: dict[str, int] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    seconds: float = 0.0
    skipped: bool = False  # the database had its history already

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


EVENT_COLUMNS = (
    "id", "code", "tracking_hash", "text", "category_code", "category_source", "urgency", "channel", "lon", "lat",
    "address", "region_code", "town_code", "village_code", "reporter_name", "status", "tier", "assigned_org_id",
    "proposed_tier", "proposed_org_id", "routing_overridden", "policy_version", "limit_amount", "limit_unit",
    "clock_started_at", "yellow_at", "due_at", "deadline_state", "next_check_at", "escalations", "reworks",
    "extensions", "pending_extension", "result_text", "rating", "rating_comment", "version", "created_at",
    "accepted_at", "dispatched_at", "resolved_at", "closed_at", "closed_on_time", "closed_tier", "updated_at",
)
STEP_COLUMNS = ("id", "event_id", "at", "actor_name", "action", "from_status", "to_status", "note", "data", "public")
# Who takes each slot's step: the reporter, the command center of the first or the final tier,
# or the unit handling the event at the time.
WHO = ("reporter", "center1", "center1", "reporter", "center1", "unit_v", "unit_v", "center2", "unit_d",
       "center2", "unit_f", "unit_f", "center2", "unit_f", "center2", "unit_f", "center2", "center2", None)
WORKER = "系统"  # the worker's marks carry this as their actor, as worker.py writes them


class _Rows:
    """The rows of a range of events and of their steps, as tuples in column order."""

    def __init__(self, session: Session, tl: Timeline, state: State, words: Words, *, event_base: int,
                 existing: dict[str, int]) -> None:
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.tl, self.state, self.words, self.plan = tl, state, words, tl.plan
        self.event_base = event_base
        tree = self.plan.tree
        top = catalog().tiers[-1].code
        self.centers = {(t.code, tier.code): f"{tree.district_name}社会治理中心" if tier.code == top else f"{t.name}指挥室"
                        for t in tree.towns for tier in catalog().tiers}
        self.codes, self.counters = self._number(existing)

    def _number(self, existing: dict[str, int]) -> tuple[list[str], dict[str, int]]:
        """Codes per prefix and day in reporting order, after any number the counters hold."""
        p = self.plan
        district = letters(p.tree.district_code, p.tree.district_name)
        town_letters = [letters(t.code, t.name) for t in p.tree.towns]
        distinct = sorted(set(town_letters))  # towns with the same letters share a counter
        offset = int(SHANGHAI.utcoffset(datetime(2026, 1, 1)).total_seconds()) * US
        key = np.array([distinct.index(x) for x in town_letters])[p.town] * 1_000_000 + (p.created + offset) // DAY
        order = np.argsort(key, kind="stable")
        first = np.r_[True, key[order][1:] != key[order][:-1]]
        rank = np.empty(p.n, dtype=np.int64)
        rank[order] = np.arange(p.n) - np.maximum.accumulate(np.where(first, np.arange(p.n), 0))
        prefixes = {k: f"{district}-{distinct[k // 1_000_000]}-{date(1970, 1, 1) + timedelta(days=k % 1_000_000):%Y%m%d}"
                    for k in np.unique(key).tolist()}
        counters: dict[str, int] = {}
        codes = []
        for k, r in zip(key.tolist(), rank.tolist()):
            prefix = prefixes[k]
            seq = existing.get(prefix, 0) + r + 1
            counters[prefix] = max(counters.get(prefix, 0), seq)
            codes.append(f"{prefix}-{seq:04d}")
        return codes, counters

    def times(self, us: np.ndarray) -> list[Any]:
        """Column values for UTC µs (-1 = NULL): on SQLite the text SQLAlchemy stores, else datetimes."""
        us = np.asarray(us, dtype=np.int64)
        moments = us.astype("datetime64[us]")
        if self.sqlite:
            # SQLAlchemy's SQLite DateTime format: "2026-11-27 08:30:00.000000"
            text_ = np.datetime_as_string(moments, unit="us")
            text_.view(np.uint32).reshape(len(text_), -1)[:, 10] = ord(" ")
            out = text_.astype(object)
        else:
            out = np.array([m.replace(tzinfo=UTC) for m in moments.astype(object)], dtype=object)
        out[us < 0] = None
        return out.tolist()

    @staticmethod
    def _iso(us: int) -> str:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).isoformat()

    def build(self, a: int, b: int, step_id: int) -> tuple[list[tuple], list[tuple]]:
        p, st, tl, w = self.plan, self.state, self.tl, self.words
        span = range(a, b)
        places = [w.place(i) for i in span]
        reporters = [w.reporter(i) for i in span]
        results = [w.result(i, bool(p.spot[i])) if st.has_result[i] else None for i in span]
        ratings = st.rating[a:b].tolist()
        comments = [w.comment(i, r) if r > 0 else None for i, r in zip(span, ratings)]
        codes = self.codes[a:b]
        regions = p.region[a:b].tolist()
        clocked = (st.due[a:b] >= 0).tolist()

        def maybe(values: np.ndarray) -> list[Any]:
            return [None if x < 0 else x for x in values[a:b].tolist()]

        events = list(zip(
            range(self.event_base + a, self.event_base + b), codes,
            [secret_hash(c, w.secrets[i]) for c, i in zip(codes, span)],
            [w.report(i, place) for i, place in zip(span, places)],
            [p.cats[c] for c in p.category[a:b].tolist()],
            [w.category_source(i) for i in span],
            ["urgent" if u else "normal" for u in p.urgent[a:b].tolist()],
            [CHANNELS[c] for c in p.channel[a:b].tolist()],
            p.lon[a:b].tolist(), p.lat[a:b].tolist(),
            [p.tree.towns[t].name + place for t, place in zip(p.town[a:b].tolist(), places)],
            regions, [r[:9] for r in regions], [r[:12] if len(r) >= 12 else None for r in regions],
            [r[0] for r in reporters],
            st.status[a:b].tolist(), st.tier[a:b].tolist(), maybe(st.assigned), st.proposed_tier[a:b].tolist(),
            maybe(st.proposed_org), st.overridden[a:b].tolist(),
            [p.policy if t is not None else None for t in st.proposed_tier[a:b].tolist()],
            [x if c else None for x, c in zip(p.amount[a:b].tolist(), clocked)],
            [UNITS[u] if c else None for u, c in zip(p.unit[a:b].tolist(), clocked)],
            self.times(st.clock_start[a:b]), self.times(st.yellow[a:b]), self.times(st.due[a:b]),
            st.deadline_state[a:b].tolist(), self.times(st.next_check[a:b]),
            st.passed[a:b, ESCALATE].astype(int).tolist(), st.passed[a:b, REOPEN].astype(int).tolist(),
            st.passed[a:b, APPROVE].astype(int).tolist(),
            [x if pend else None for x, pend in zip(p.amount[a:b].tolist(), st.pending[a:b].tolist())],
            results, [None if r < 0 else r for r in ratings], comments, st.version[a:b].tolist(),
            self.times(p.created[a:b]), self.times(st.accepted_at[a:b]), self.times(st.dispatched_at[a:b]),
            self.times(st.resolved_at[a:b]), self.times(st.closed_at[a:b]),
            [bool(o) if c else None for o, c in zip(st.on_time[a:b].tolist(), st.closed[a:b].tolist())],
            st.closed_tier[a:b].tolist(), self.times(st.updated[a:b]),
        ))
        # Steps and marks, event by event, in time order (a mark sorts after a step at its moment).
        moments = np.hstack([tl.at[a:b], tl.marks[a:b]])
        happened = np.hstack([st.passed[a:b], st.marked[a:b]])
        rows, slots = np.nonzero(happened)
        order = np.lexsort((slots, moments[rows, slots], rows))
        rows, slots = rows[order], slots[order]
        at = self.times(moments[rows, slots])
        starts = np.searchsorted(rows, np.arange(b - a + 1)).tolist()
        slots_ = slots.tolist()
        names = p.tree.org_name
        steps: list[tuple] = []
        for j, i in enumerate(span):
            tier1 = p.tier1[i]
            town = p.tree.towns[p.town[i]].code
            who = {"reporter": reporters[j][1], "center1": self.centers[(town, tier1)],
                   "center2": self.centers[(town, p.tier2[i] if p.escalate[i] else tier1)],
                   "unit_v": names.get(int(st.unit_v[i])), "unit_d": names.get(int(st.unit_d[i])),
                   "unit_f": names.get(int(st.unit_f[i])), None: None}
            event_id = self.event_base + i
            status = None
            for k in range(starts[j], starts[j + 1]):
                s = slots_[k]
                if s >= NSLOTS:  # the worker's mark: the status stays, the step is internal
                    note, data = None, self._mark(i, s - NSLOTS)
                    steps.append((step_id, event_id, at[k], None, MARKS[s - NSLOTS], status, status, note, data, False))
                else:
                    action, before, status = SLOTS[s]
                    note, data = self._detail(i, s, results[j], comments[j], ratings[j])
                    steps.append((step_id, event_id, at[k], who[WHO[s]], action, before, status, note, data, True))
                step_id += 1
        return events, steps

    def _mark(self, i: int, k: int) -> str:
        tl = self.tl
        due = (tl.due1, tl.due2, tl.due_x)[k // 2][i]
        progress = "1.0" if k % 2 else "0.8"
        return f'{{"actor": "{WORKER}", "due_at": "{self._iso(int(due))}", "progress": {progress}}}'

    def _detail(self, i: int, s: int, result: str | None, comment: str | None, rating: int) -> tuple[str | None, str]:
        """The step's note and its JSON data, as `service.record_step` writes them (sorted keys)."""
        p, st, tl, w = self.plan, self.state, self.tl, self.words
        if s == REPORT:
            return None, f'{{"category": "{p.cats[p.category[i]]}", "channel": "{CHANNELS[p.channel[i]]}"}}'
        if s in (ACCEPT, ESCALATE):
            second = s == ESCALATE
            tier = p.tier2[i] if second else p.tier1[i]
            due = self._iso(int(tl.due2[i] if second else tl.due1[i]))
            parts = [f'"due_at": "{due}"']
            if second:
                parts.append(f'"from_tier": "{p.tier1[i]}"')
            parts += [f'"handler_type": "{p.handler2[i] if second else p.handler1[i]}"', f'"policy": "{p.policy}"']
            if second:
                parts.append(f'"previous_unit_id": {int(st.unit_v[i])}')
            parts += [f'"proposed_org_id": {int(p.org2[i] if second else p.org1[i])}', f'"tier": "{tier}"']
            if second:
                parts.append(f'"to_tier": "{tier}"')
            return (w.reason(i, "escalate") if second else None), "{" + ", ".join(parts) + "}"
        if s in (DISPATCH_V, DISPATCH, REDISPATCH):
            unit = int(st.unit_v[i] if s == DISPATCH_V else st.unit_d[i] if s == DISPATCH else st.unit_f[i])
            proposed = int(p.org1[i] if s == DISPATCH_V else st.org_now[i])
            return None, f'{{"overridden": {"true" if unit != proposed else "false"}, "unit_id": {unit}}}'
        if s == RETURN:
            kind = "return_scope" if st.unit_d[i] != st.unit_f[i] else "return_info"
            return w.reason(i, kind), f'{{"previous_unit_id": {int(st.unit_d[i])}}}'
        if s == REQUEST:
            return w.reason(i, "extension"), f'{{"amount": {float(p.amount[i])}, "unit": "{UNITS[p.unit[i]]}"}}'
        if s == APPROVE:
            return None, f'{{"amount": {float(p.amount[i])}, "due_at": "{self._iso(int(tl.due_x[i]))}"}}'
        if s in (RESOLVE, RESOLVE2, SPOT):
            return result, "{}"
        if s in (REOPEN, REJECT):
            return w.reason(i, "reopen" if s == REOPEN else "reject"), "{}"
        if s == RATE:
            return comment, f'{{"rating": {rating}}}'
        return None, "{}"


def _insert(session: Session, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Straight to the driver, values already as the columns store them: executemany on SQLite,
    COPY on PostgreSQL (psycopg's executemany costs a round trip per row)."""
    if not rows:
        return
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cur, \
                cur.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.exec_driver_sql(f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join(['?'] * len(columns))})", rows)


def _save_counters(session: Session, counters: dict[str, int], existing: dict[str, int]) -> None:
    _insert(session, EventCounter.__tablename__, ("prefix", "last"),
            [(k, v) for k, v in sorted(counters.items()) if k not in existing])
    for prefix, last in sorted(counters.items()):
        if prefix in existing and last > existing[prefix]:
            session.execute(EventCounter.__table__.update().where(EventCounter.prefix == prefix).values(last=last))


def _resume_sequences(session: Session) -> None:
    """The rows came with explicit ids: PostgreSQL's id sequences must carry on after them."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in (Event.__tablename__, EventStep.__tablename__):
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"))


def generate_history(
    engine_or_session_factory: Engine | Callable[[], Session], *, seed: int = 2026, months: int = 10,
    end: datetime | None = None, progress: Progress | None = None, scale: float = 1.0,
) -> HistoryResult:
    """Write `months` months of event history up to `end` (default now), in one transaction.

    Needs the regions and the handling units (`create_demo_units`). Runs once per database: a
    second call finds the mark the first left and returns `skipped`. `scale` multiplies the
    volume (tests use a small one). `progress(label_zh, done, total)` is called as it goes.
    """
    if months < 1 or not scale > 0:
        raise ValueError(f"months must be ≥ 1 and scale > 0, got {months} and {scale}")
    started = time.perf_counter()
    factory = (session_factory(engine_or_session_factory) if isinstance(engine_or_session_factory, Engine)
               else engine_or_session_factory)
    end_at = (as_utc(end) if end is not None else utcnow()).replace(microsecond=0)

    def report(label: str, done: int, total: int) -> None:
        if progress is not None:
            progress(label, done, total)

    with transaction(factory) as session:
        if get_meta(session, HISTORY_KEY):
            return HistoryResult(0, 0, 0, 0, 0, skipped=True)
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:  # a page cache that holds the indexes being filled (the default 2 MB thrashes)
            cache = session.execute(text("PRAGMA cache_size")).scalar()
            session.execute(text("PRAGMA cache_size = -262144"))
        label = "生成历史事件"
        report(label, 0, 4)
        tree = Tree(session)
        end_us = int(end_at.timestamp()) * US
        start_us = end_us - round(months * MONTH_DAYS * 86400) * US
        cal = work_calendar()
        first = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start_us)).astimezone(cal.tz).date()
        # The window reaches past `end` far enough for any deadline (30 working days, extended, …).
        clock = Clock(cal, first - timedelta(days=2), (end_us - start_us) // DAY + 240)
        plan = Plan(session, tree, clock, seed=seed, start=start_us, end=end_us, scale=scale)
        report(label, 2, 4)
        timeline = Timeline(plan, clock, end_us)
        state = State(timeline, seed)
        report(label, 3, 4)
        event_base = (session.scalar(select(func.max(Event.id))) or 0) + 1
        step_base = (session.scalar(select(func.max(EventStep.id))) or 0) + 1
        existing = dict(session.execute(select(EventCounter.prefix, EventCounter.last)).tuples().all())
        rows = _Rows(session, timeline, state, Words(plan, seed), event_base=event_base, existing=existing)
        report(label, 4, 4)
        steps = 0
        for a in range(0, plan.n, CHUNK):
            b = min(plan.n, a + CHUNK)
            events, step_rows = rows.build(a, b, step_base + steps)
            _insert(session, Event.__tablename__, EVENT_COLUMNS, events)
            _insert(session, EventStep.__tablename__, STEP_COLUMNS, step_rows)
            steps += len(step_rows)
            report("写入历史事件", b, plan.n)
        _save_counters(session, rows.counters, existing)
        _resume_sequences(session)
        rejected = int(state.passed[:, REJECT].sum())
        handled = int(state.closed.sum()) - rejected
        result = HistoryResult(
            events=plan.n, steps=steps, closed=handled, open=plan.n - handled - rejected, rejected=rejected,
            by_town={t.code: int((plan.town == i).sum()) for i, t in enumerate(tree.towns)},
            start=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start_us), end=end_at,
        )
        # Imported history: one audit row for the lot, none per step.
        audit.record(session, action="demo.history", actor_name="演示数据 demo", target_type="events",
                     region_code=tree.district_code,
                     after={"events": result.events, "steps": steps, "closed": handled, "open": result.open,
                            "rejected": rejected, "seed": seed, "months": months, "scale": scale,
                            "from": result.start.isoformat() if result.start else None, "to": end_at.isoformat()})
        set_meta(session, HISTORY_KEY, f"seed={seed} months={months} events={plan.n} end={end_at.isoformat()}")
        if sqlite:
            session.execute(text(f"PRAGMA cache_size = {int(cache)}"))
    return replace(result, seconds=time.perf_counter() - started)
