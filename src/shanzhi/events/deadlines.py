"""Deadlines: the clock starts on acceptance, in the category's unit, on the working calendar."""

from __future__ import annotations

from datetime import datetime

from shanzhi.db import as_utc
from shanzhi.events.catalog import Category, TimeLimit
from shanzhi.events.models import Event
from shanzhi.events.policy import routing
from shanzhi.events.workcal import work_calendar


def limit_for(category: Category | None, urgency: str) -> TimeLimit:
    if category is None:
        return routing().deadlines.default_limit
    if urgency == "urgent" and category.urgent_time_limit is not None:
        return category.urgent_time_limit
    return category.time_limit


def _mark(event: Event, start: datetime, due: datetime, unit: str) -> None:
    """Yellow at the policy's share of the allowed time, counted as the unit counts time."""
    cal = work_calendar()
    share = routing().deadlines.yellow_share
    if unit in ("calendar_hours", "calendar_days"):
        yellow = start + (due - start) * share
    else:
        yellow = cal.add_work_hours(start, cal.work_hours_between(start, due) * share)
    event.yellow_at, event.due_at = yellow, due
    event.deadline_state = "normal"
    event.next_check_at = yellow


def start_clock(event: Event, category: Category | None, now: datetime) -> None:
    limit = limit_for(category, event.urgency)
    event.limit_amount, event.limit_unit = float(limit.amount), limit.unit
    event.clock_started_at = now
    _mark(event, now, work_calendar().deadline(now, limit.amount, limit.unit), limit.unit)


def extend(event: Event, amount: float) -> None:
    """Push the deadline by `amount` in the event's own unit, from the current deadline."""
    assert event.due_at is not None and event.limit_unit is not None and event.clock_started_at is not None
    due = work_calendar().deadline(as_utc(event.due_at), amount, event.limit_unit)
    _mark(event, as_utc(event.clock_started_at), due, event.limit_unit)


def progress(event: Event, now: datetime) -> float | None:
    if event.due_at is None or event.clock_started_at is None or event.limit_unit is None:
        return None
    return work_calendar().progress_for(as_utc(event.clock_started_at), as_utc(event.due_at), now, event.limit_unit)


def state_at(event: Event, now: datetime) -> str:
    """normal / yellow / red as of now (the stored state is what the worker last marked)."""
    p = progress(event, now)
    if p is None:
        return "none"
    if now > as_utc(event.due_at):
        return "red"
    return "yellow" if p >= routing().deadlines.yellow_share else "normal"
