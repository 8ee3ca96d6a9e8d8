"""When things happened: every demo event's steps, its deadlines, and where it stands at `end`.

A timeline is a row of slots (`SLOTS`, in the order steps happen); an event fills the slots of
its path. Handling steps are planned in "clock time": working offsets for a category limited in
working hours or days (so its steps fall in working hours), the wall clock for round-the-clock
ones. Deadlines are the working calendar's own arithmetic (`Clock` is `WorkCalendar`'s offset
maths on arrays; the tests check it against `deadlines.start_clock`). The worker's deadline marks
(`deadline_yellow` / `deadline_red`) are added where the worker would have made them, and
lateness stays below the worker's automatic escalation mark, so the history is one the live
worker could have produced. The plan is then cut at `end`: later steps have not happened yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from shanzhi.demo.history_plan import CHANNELS, DAY, MINUTE, US, Plan, rng_for
from shanzhi.events.catalog import catalog
from shanzhi.events.policy import routing
from shanzhi.events.workcal import WorkCalendar

HOUR = 3600 * US
SWEEP = MINUTE  # the worker notices a mark within a minute
RATINGS_ON_TIME = (0.01, 0.01, 0.05, 0.23, 0.70)  # 1 … 5 stars
RATINGS_LATE = (0.05, 0.08, 0.22, 0.35, 0.30)

SLOTS: tuple[tuple[str, str | None, str], ...] = (
    # (action, from status, to status)
    ("report", None, "reported"), ("accept", "reported", "accepted"), ("reject", "reported", "rejected"),
    ("on_the_spot", "reported", "closed"),
    ("dispatch", "accepted", "dispatched"), ("start", "dispatched", "in_progress"),  # before an escalation
    ("escalate", "in_progress", "accepted"),
    ("dispatch", "accepted", "dispatched"), ("return", "dispatched", "accepted"), ("dispatch", "accepted", "dispatched"),
    ("start", "dispatched", "in_progress"),
    ("request_extension", "in_progress", "in_progress"), ("approve_extension", "in_progress", "in_progress"),
    ("resolve", "in_progress", "resolved"), ("reopen", "resolved", "in_progress"), ("resolve", "in_progress", "resolved"),
    ("verify", "resolved", "verified"), ("close", "verified", "closed"), ("rate", "closed", "closed"),
)
(REPORT, ACCEPT, REJECT, SPOT, DISPATCH_V, START_V, ESCALATE, DISPATCH, RETURN, REDISPATCH, START, REQUEST,
 APPROVE, RESOLVE, REOPEN, RESOLVE2, VERIFY, CLOSE, RATE) = range(len(SLOTS))
NSLOTS = len(SLOTS)
# The worker's marks, per clock: the first, the one an escalation starts, the extended one.
MARKS = ("deadline_yellow", "deadline_red") * 3
NMARKS = len(MARKS)


class Clock:
    """`WorkCalendar`'s arithmetic on int64 arrays of UTC epoch microseconds, over a window of days.

    Working time is an offset: working microseconds since the window's first day, as
    `WorkCalendar._offset` / `_at_offset` count it from their own origin (which cancels out).
    """

    def __init__(self, cal: WorkCalendar, first: date, days: int) -> None:
        self.cal = cal
        offsets = {cal.tz.utcoffset(datetime.combine(first + timedelta(days=i), datetime.min.time()))
                   for i in range(0, days, 7)}
        if len(offsets) != 1:  # pragma: no cover - China keeps one offset all year
            raise ValueError(f"the calendar's time zone {cal.tz} changes its UTC offset in the window")
        self.tz = int(offsets.pop().total_seconds()) * US
        self.first = first
        self.origin = int(datetime.combine(first, datetime.min.time(), tzinfo=UTC).timestamp()) * US
        self.work = np.array([cal.is_workday(first + timedelta(days=i)) for i in range(days)])
        self.before = np.concatenate([[0], np.cumsum(self.work)])  # working days before day i
        self.workdays = np.flatnonzero(self.work)
        hours = cal.policy.working_hours
        self.starts = np.array([((p.start.hour * 60 + p.start.minute) * 60 + p.start.second) * US for p in hours])
        self.ends = np.array([((p.end.hour * 60 + p.end.minute) * 60 + p.end.second) * US for p in hours])
        self.lengths = self.ends - self.starts
        self.cum = np.cumsum(self.lengths)
        self.day_us = int(self.cum[-1])

    def local_date(self, us: int) -> date:
        return self.first + timedelta(days=(us + self.tz - self.origin) // DAY)

    def _split(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = t + self.tz - self.origin
        day = local // DAY
        if len(day) and (day.min() < 0 or day.max() >= len(self.work) - 1):
            raise ValueError("a moment outside the calendar window")
        return day, local - day * DAY

    def offset(self, t: np.ndarray) -> np.ndarray:
        day, tod = self._split(t)
        within = np.clip(tod[:, None] - self.starts[None, :], 0, self.lengths[None, :]).sum(axis=1)
        return self.before[day] * self.day_us + np.where(self.work[day], within, 0)

    def at(self, offset: np.ndarray) -> np.ndarray:
        n, rest = np.divmod(offset, self.day_us)
        boundary = rest == 0  # a boundary belongs to the period it closes (17:30, not 08:30)
        n, rest = np.where(boundary, n - 1, n), np.where(boundary, self.day_us, rest)
        day = self.workdays[np.minimum(n, len(self.workdays) - 1)]
        k = np.searchsorted(self.cum, rest, side="left")
        return self.origin + day * DAY + self.starts[k] + rest - (self.cum[k] - self.lengths[k]) - self.tz

    def add_workdays(self, t: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Same time of day, `days` working days on, from the next working moment."""
        day, tod = self._split(t)
        k = np.searchsorted(self.ends, tod, side="left")  # the first period not yet over
        today = self.work[day] & (k < len(self.ends))
        following = self.workdays[np.minimum(self.before[day + 1], len(self.workdays) - 1)]
        start_day = np.where(today, day, following)
        start_tod = np.where(today, np.maximum(tod, self.starts[np.minimum(k, len(self.starts) - 1)]), self.starts[0])
        target = self.workdays[np.minimum(self.before[start_day] + days, len(self.workdays) - 1)]
        return self.origin + target * DAY + start_tod - self.tz

    def deadline(self, start: np.ndarray, amount: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """`WorkCalendar.deadline`, element-wise; `unit` indexes history_plan.UNITS."""
        out = np.empty_like(start)
        for u in range(4):
            m = unit == u
            if u == 0:
                out[m] = self.at(self.offset(start[m]) + np.rint(amount[m] * HOUR).astype(np.int64))
            elif u == 1:
                out[m] = self.add_workdays(start[m], amount[m].astype(np.int64))
            else:
                out[m] = start[m] + np.rint(amount[m] * (HOUR if u == 2 else DAY)).astype(np.int64)
        return out

    def share(self, start: np.ndarray, due: np.ndarray, unit: np.ndarray, share: float) -> np.ndarray:
        """When `share` of the allowed time is used, counted as `deadlines._mark` counts it."""
        out = np.empty_like(start)
        wall = unit >= 2
        out[wall] = start[wall] + np.rint((due[wall] - start[wall]).astype(np.float64) * share).astype(np.int64)
        w = ~wall
        a, b = self.offset(start[w]), self.offset(due[w])
        amount = np.rint(((b - a) / HOUR) * share * HOUR).astype(np.int64)
        out[w] = np.where(amount == 0, start[w], self.at(a + amount))
        return out


def _minutes(rng: np.random.Generator, n: int, median: float, sigma: float, lo: float, hi: float) -> np.ndarray:
    """Log-normal durations of `median` minutes, clipped to [lo, hi] minutes, in whole seconds (as µs)."""
    x = np.clip(np.exp(rng.normal(np.log(median), sigma, n)), lo, hi)
    return np.rint(x * 60).astype(np.int64) * US


def _seconds(x: np.ndarray) -> np.ndarray:
    return (np.rint(x / US) * US).astype(np.int64)


def _between(lo: np.ndarray, x: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.maximum(lo, np.minimum(x, hi))


class Timeline:
    """Every event's planned steps (`at`: UTC µs per slot, -1 where none), deadlines and marks."""

    def __init__(self, plan: Plan, clock: Clock, end: int) -> None:
        p, rng, n = plan, plan.rng, plan.n
        self.plan, self.clock, self.end = plan, clock, end
        self.work = p.unit < 2
        normal = ~p.spot & ~p.reject
        at = np.full((n, NSLOTS), -1, dtype=np.int64)
        at[:, REPORT] = p.created
        # Accepted within minutes (hotline and department transfers queue longer); a working-hour
        # matter reported at night is accepted in the morning.
        queued = np.isin(p.channel, [CHANNELS.index("hotline"), CHANNELS.index("department")])
        delay = np.where(queued, _minutes(rng, n, 60, 0.8, 5, 480), _minutes(rng, n, 12, 0.9, 1, 180))
        delay = np.where(self.work, delay, _minutes(rng, n, 6, 0.7, 1, 45))
        c1 = self._to_clock(p.created, slice(None)) + delay
        t1 = self._from_clock(c1, slice(None))
        at[p.reject, REJECT] = t1[p.reject]
        at[normal, ACCEPT] = t1[normal]
        at[p.spot, SPOT] = p.created[p.spot] + _minutes(rng, int(p.spot.sum()), 12, 0.6, 3, 60)
        c = np.full((n, NSLOTS), -1, dtype=np.int64)  # handling steps in clock time
        c[normal, ACCEPT] = c1[normal]
        allowed = self._to_clock(clock.deadline(t1, p.amount, p.unit), slice(None)) - c1
        # escalated: dispatched and started at the first tier, escalated part-way through its time
        e = p.escalate
        c[e, DISPATCH_V] = (c1 + _between(MINUTE, _minutes(rng, n, 15, 0.8, 1, 120), allowed // 10))[e]
        c[e, START_V] = c[e, DISPATCH_V] + _between(MINUTE, _minutes(rng, n, 30, 0.8, 1, 240), allowed * 15 // 100)[e]
        escalated = np.maximum(c1 + _seconds(allowed * rng.uniform(0.3, 0.7, n)), c[:, START_V] + MINUTE)
        c[e, ESCALATE] = escalated[e]
        base = np.where(e, escalated, c1)
        if e.any():
            due2 = clock.deadline(self._from_clock(escalated[e], e), p.amount[e], p.unit[e])
            allowed[e] = self._to_clock(due2, e) - escalated[e]
        # How long handling takes: mostly near but within the limit; late ones stay short of the
        # worker's escalation mark (escalate_share of the allowed time).
        span = _seconds(allowed * (0.3 + 0.67 * rng.beta(3.5, 1.2, n)))
        overrun = routing().deadlines.escalate_share - 1
        over = _seconds(allowed * rng.uniform(0.05, 0.9 * overrun, n))
        span = np.where(p.late, allowed + over, span)
        x = p.extend
        if x.any():  # asked for more time before the deadline, got the limit again, used most of it
            due_ext = clock.deadline(self._from_clock(base[x] + allowed[x], x), p.amount[x], p.unit[x])
            room = self._to_clock(due_ext, x) - base[x]
            lo, hi = 1.02 * allowed[x], 0.95 * room
            span[x] = _seconds(np.where(hi > lo, lo + (hi - lo) * rng.random(x.sum()), 0.9 * room))
            c[x, REQUEST] = base[x] + _seconds(allowed[x] * rng.uniform(0.55, 0.75, x.sum()))
            c[x, APPROVE] = c[x, REQUEST] + _between(MINUTE, allowed[x] // 20, np.full(x.sum(), 2 * HOUR))
        span = np.maximum(span, 15 * MINUTE)
        c[normal, DISPATCH] = (base + _between(MINUTE, _minutes(rng, n, 10, 0.8, 1, 120), span * 8 // 100))[normal]
        r = p.returned
        c[r, RETURN] = c[r, DISPATCH] + _between(MINUTE, _minutes(rng, n, 40, 0.8, 2, 480), span // 10)[r]
        c[r, REDISPATCH] = c[r, RETURN] + _between(MINUTE, _minutes(rng, n, 10, 0.7, 1, 120), span // 20)[r]
        dispatched = np.where(r, c[:, REDISPATCH], c[:, DISPATCH])
        c[normal, START] = (dispatched + _between(MINUTE, _minutes(rng, n, 25, 0.9, 1, 480), span * 15 // 100))[normal]
        w = p.rework
        first_resolve = base + _seconds(span * np.where(w, rng.uniform(0.45, 0.6, n), rng.uniform(0.72, 0.9, n)))
        c[normal, RESOLVE] = first_resolve[normal]
        c[w, REOPEN] = (base + _seconds(span * rng.uniform(0.62, 0.7, n)))[w]
        c[w, RESOLVE2] = (base + _seconds(span * rng.uniform(0.8, 0.9, n)))[w]
        resolved = np.where(w, c[:, RESOLVE2], c[:, RESOLVE])
        verify = resolved + np.maximum(MINUTE, _seconds((base + span - resolved) * rng.uniform(0.3, 0.7, n)))
        c[normal, VERIFY] = verify[normal]
        c[normal, CLOSE] = (base + span)[normal]
        # strictly increasing, a minute apart at least
        prev = c[:, ACCEPT].copy()
        for s in range(DISPATCH_V, CLOSE + 1):
            has = c[:, s] >= 0
            c[has, s] = np.maximum(c[has, s], prev[has] + MINUTE) // US * US
            prev = np.where(has, c[:, s], prev)
            at[has, s] = self._from_clock(c[has, s], has)
        done = np.where(p.spot, at[:, SPOT], at[:, CLOSE])
        rated = p.rated & (done >= 0)
        at[rated, RATE] = done[rated] + _minutes(rng, int(rated.sum()), 360, 1.0, 30, 4320)
        self.at = at
        self._close_everything(p.always)
        self._clocks()
        self._marks()

    # clock time: working offsets for working-time limits, the wall clock for round-the-clock ones
    def _to_clock(self, t: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
        out = t.copy()
        w = self.work[rows]
        out[w] = self.clock.offset(t[w])
        return out

    def _from_clock(self, c: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
        out = c.copy()
        w = self.work[rows]
        out[w] = self.clock.at(c[w])
        return out

    def _close_everything(self, always: np.ndarray) -> None:
        """In ALWAYS_CLOSED towns an event that would still be open is handled in the time left:
        its steps spread evenly from the report to a minute before `end`, and it goes unrated."""
        at = self.at
        hurry = always & (at[:, :RATE].max(axis=1) > self.end - MINUTE)
        if not hurry.any():
            return
        at[hurry, RATE] = -1
        rows = at[hurry]
        has = rows[:, 1:RATE] >= 0
        k, m = np.cumsum(has, axis=1), has.sum(axis=1, keepdims=True)
        t0 = rows[:, :1]
        spread = t0 + ((self.end - MINUTE - t0) * k // (m + 1)) // US * US
        rows[:, 1:RATE] = np.where(has, spread, -1)
        at[hurry] = rows

    def _clocks(self) -> None:
        """Deadlines as the workflow set them from the steps' times: a clock starts on acceptance,
        another on escalation, and an approved extension moves the deadline of the last."""
        p, clock, at = self.plan, self.clock, self.at
        share = routing().deadlines.yellow_share

        def running_from(start: np.ndarray, due_of: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
            has = start >= 0 if due_of is None else due_of >= 0
            due, yellow = np.full(p.n, -1, dtype=np.int64), np.full(p.n, -1, dtype=np.int64)
            base = start if due_of is None else due_of
            due[has] = clock.deadline(base[has], p.amount[has], p.unit[has])
            yellow[has] = clock.share(start[has], due[has], p.unit[has], share)
            return due, yellow

        self.start1, self.start2 = at[:, ACCEPT], at[:, ESCALATE]
        self.due1, self.yellow1 = running_from(self.start1)
        self.due2, self.yellow2 = running_from(self.start2)
        second = self.start2 >= 0
        self.start_x = np.where(second, self.start2, self.start1)
        extended = np.where((at[:, APPROVE] >= 0), np.where(second, self.due2, self.due1), -1)
        self.due_x, self.yellow_x = running_from(self.start_x, extended)

    def _marks(self) -> None:
        """The worker's marks: yellow, then red, once per clock, while that clock runs."""
        at = self.at
        finish = np.where(at[:, CLOSE] >= 0, at[:, CLOSE], np.iinfo(np.int64).max)
        approve, escalate = at[:, APPROVE], at[:, ESCALATE]
        runs = (
            # (start, yellow, due, until): a clock runs until the next one starts or the event closes
            (self.start1, self.yellow1, self.due1,
             np.where(escalate >= 0, escalate, np.where(approve >= 0, approve, finish))),
            (self.start2, self.yellow2, self.due2, np.where(approve >= 0, approve, finish)),
            (approve, self.yellow_x, self.due_x, finish),
        )
        marks = np.full((self.plan.n, NMARKS), -1, dtype=np.int64)
        for k, (start, yellow, due, until) in enumerate(runs):
            has = (start >= 0) & (due >= 0)
            # An extension may be approved after the new yellow mark: the next sweep marks it.
            y = np.maximum(yellow, start) + SWEEP
            r = np.maximum(due, start) + SWEEP
            marks[has & (y < until), 2 * k] = y[has & (y < until)]
            marks[has & (r < until), 2 * k + 1] = r[has & (r < until)]
        self.marks = marks


class State:
    """The event row's fields as the workflow and the worker would have left them at `end`."""

    def __init__(self, tl: Timeline, seed: int) -> None:
        p, at, end = tl.plan, tl.at, tl.end
        n = p.n
        self.passed = passed = (at >= 0) & (at <= end)
        self.marked = marked = (tl.marks >= 0) & (tl.marks <= end)
        last = NSLOTS - 1 - np.argmax(passed[:, ::-1], axis=1)
        self.status = np.array([to for _, _, to in SLOTS], dtype=object)[last]
        self.updated = np.maximum(at[np.arange(n), last], np.where(marked, tl.marks, -1).max(axis=1))
        self.version = passed.sum(axis=1) + marked.sum(axis=1)
        esc, acc, ext = passed[:, ESCALATE], passed[:, ACCEPT], passed[:, APPROVE]
        spot, close, reject = passed[:, SPOT], passed[:, CLOSE], passed[:, REJECT]
        run = np.where(ext, 2, np.where(esc, 1, np.where(acc, 0, -1)))  # which clock runs
        self.clock_start = np.choose(run + 1, [np.full(n, -1), tl.start1, tl.start2, tl.start_x])
        self.due = np.choose(run + 1, [np.full(n, -1), tl.due1, tl.due2, tl.due_x])
        self.yellow = np.choose(run + 1, [np.full(n, -1), tl.yellow1, tl.yellow2, tl.yellow_x])
        k = np.maximum(run, 0)
        red_mark = (run >= 0) & marked[np.arange(n), 2 * k + 1]
        yellow_mark = (run >= 0) & marked[np.arange(n), 2 * k]
        self.deadline_state = np.where(run < 0, "none", np.where(red_mark, "red", np.where(yellow_mark, "yellow",
                                                                                            "normal")))
        default_tier = np.array([catalog().category(c).default_tier for c in p.cats], dtype=object)[p.category]
        self.tier = np.where(spot, default_tier, np.where(esc, p.tier2, np.where(acc, p.tier1, None)))
        self.proposed_tier = np.where(esc, p.tier2, np.where(acc, p.tier1, None))
        self.proposed_org = np.where(esc, p.org2, np.where(acc, p.org1, -1))
        # units: the first tier's before an escalation; the proposed one before a return
        self.org_now = np.where(p.escalate, p.org2, p.org1)
        self.unit_v = p.final1
        self.unit_f = np.where(p.escalate, p.final2, p.final1)
        self.unit_d = np.where(p.returned, self.org_now, self.unit_f)
        none = np.full(n, -1, dtype=np.int64)
        self.assigned = _latest(passed, [DISPATCH_V, ESCALATE, DISPATCH, RETURN, REDISPATCH],
                                [self.unit_v, none, self.unit_d, none, self.unit_f])
        self.dispatched_at = _latest(passed, [SPOT, DISPATCH_V, DISPATCH, REDISPATCH],
                                     [at[:, SPOT], at[:, DISPATCH_V], at[:, DISPATCH], at[:, REDISPATCH]])
        self.overridden = ((passed[:, DISPATCH_V] & (self.unit_v != p.org1))
                           | (passed[:, DISPATCH] & (self.unit_d != self.org_now))
                           | (passed[:, REDISPATCH] & (self.unit_f != self.org_now)))
        self.accepted_at = np.where(acc, at[:, ACCEPT], np.where(spot, at[:, SPOT], -1))
        self.resolved_at = _latest(passed, [SPOT, RESOLVE, REOPEN, RESOLVE2],
                                   [at[:, SPOT], at[:, RESOLVE], none, at[:, RESOLVE2]])
        self.has_result = spot | passed[:, RESOLVE]
        self.closed_at = _latest(passed, [REJECT, SPOT, CLOSE], [at[:, REJECT], at[:, SPOT], at[:, CLOSE]])
        self.closed = spot | close | reject
        self.on_time = np.where(close, at[:, CLOSE] <= self.due, self.closed)
        self.closed_tier = np.where(close | spot, self.tier, None)
        self.pending = passed[:, REQUEST] & ~ext
        self._next_check(tl, run)
        # ratings: mostly 4–5, lower when late
        u = rng_for(seed, 6).random(n)
        table = np.cumsum(np.array([RATINGS_ON_TIME, RATINGS_LATE]), axis=1)[np.where(self.on_time, 0, 1)]
        self.rating = np.where(passed[:, RATE], np.minimum((u[:, None] >= table).sum(axis=1) + 1, 5), -1)

    def _next_check(self, tl: Timeline, run: np.ndarray) -> None:
        """When the worker looks next (worker.next_check): yellow mark, deadline, escalation mark."""
        p = tl.plan
        watched = (run >= 0) & ~self.closed
        self.next_check = np.full(p.n, -1, dtype=np.int64)
        if not watched.any():
            return
        tiers = [t.code for t in catalog().tiers]
        climbs = np.array([t is not None and tiers.index(t) + 1 < len(tiers) for t in self.tier])
        mark = np.full(p.n, -1, dtype=np.int64)
        mark[watched] = tl.clock.share(self.clock_start[watched], self.due[watched], p.unit[watched],
                                       routing().deadlines.escalate_share)
        mark = np.where(mark > tl.end, mark, tl.end + DAY)
        red = np.where(climbs, mark, -1)
        state = self.deadline_state
        after = np.where(state == "red", red, np.where(state == "yellow", self.due, self.yellow))
        self.next_check = np.where(watched, after, -1)


def _latest(passed: np.ndarray, slots: list[int], values: list[np.ndarray]) -> np.ndarray:
    """Per event, the value belonging to the last of `slots` that has happened (-1 if none has)."""
    out = np.full(len(passed), -1, dtype=np.int64)
    for slot, value in zip(slots, values):
        out = np.where(passed[:, slot], value, out)
    return out
