"""The working-day calendar deadlines are counted on: holidays, make-up workdays, working hours.

The dates and hours are policy (policy/calendar.toml, validated on load); this module only
counts. All counting is arithmetic on working time measured in integer microseconds from a
fixed origin (the "offset" of a moment), so adding N hours and measuring them back agree
exactly, and a 30-day deadline costs a few bisections, not a walk over minutes or days.
"""

from __future__ import annotations

import math
import tomllib
from bisect import bisect_left
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shanzhi.policy.loader import policy_path

Unit = Literal["hours", "days", "calendar_days", "calendar_hours"]

_US = 1_000_000
_HOUR_US = 3600 * _US
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class _Strict(BaseModel):
    # A misspelt key ("makeup_days") would otherwise vanish silently and shift every deadline.
    model_config = ConfigDict(extra="forbid", frozen=True)


class HolidayPeriod(_Strict):
    name: str = Field(min_length=1)
    first: date
    last: date

    @model_validator(mode="after")
    def _ordered(self) -> HolidayPeriod:
        if self.last < self.first:
            raise ValueError(f"holiday {self.name} ends ({self.last}) before it starts ({self.first})")
        return self

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


class YearCalendar(_Strict):
    source: str = Field(min_length=1)
    url: str | None = None
    # True until the State Council notice for the year is out; see calendar.toml.
    provisional: bool = False
    holidays: list[HolidayPeriod]
    makeup_workdays: list[date] = Field(default_factory=list)


class WorkingPeriod(_Strict):
    start: time
    end: time


class CalendarPolicy(_Strict):
    version: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    working_hours: list[WorkingPeriod] = Field(min_length=1)
    years: dict[int, YearCalendar]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r}") from e
        return value

    @field_validator("working_hours")
    @classmethod
    def _increasing_hours(cls, periods: list[WorkingPeriod]) -> list[WorkingPeriod]:
        bounds = [t for p in periods for t in (p.start, p.end)]
        if any(t.tzinfo is not None for t in bounds):
            raise ValueError("working hours are local times and must not carry a time zone")
        for earlier, later in pairwise(bounds):
            if later <= earlier:
                shown = ", ".join(f"{p.start:%H:%M}–{p.end:%H:%M}" for p in periods)
                raise ValueError(f"working hours must be increasing, got {shown}")
        return periods

    @model_validator(mode="after")
    def _consistent(self) -> CalendarPolicy:
        holidays: list[HolidayPeriod] = []
        makeups: dict[date, int] = {}
        for year, cal in self.years.items():
            # A holiday may start in December of the year before (元旦); anything further off
            # is a typo in the year.
            dates = [d for p in cal.holidays for d in (p.first, p.last)] + cal.makeup_workdays
            for d in dates:
                if abs(d.year - year) > 1:
                    raise ValueError(f"{year}: date {d} is not near the year it is listed under")
            for d in cal.makeup_workdays:
                if d.weekday() < 5:
                    raise ValueError(
                        f"{year}: make-up workday {d} is a {_WEEKDAYS[d.weekday()]},"
                        " not a Saturday or Sunday"
                    )
                if d in makeups:
                    raise ValueError(f"make-up workday {d} is listed twice ({makeups[d]}, {year})")
                makeups[d] = year
            holidays.extend(cal.holidays)
        holidays.sort(key=lambda p: p.first)
        for a, b in pairwise(holidays):
            if b.first <= a.last:
                raise ValueError(
                    f"holidays {a.name} ({a.first}–{a.last}) and {b.name} ({b.first}–{b.last}) overlap"
                )
        for p in holidays:
            for d in p.days():
                if d in makeups:
                    raise ValueError(f"{d} is both a holiday ({p.name}) and a make-up workday")
        return self


def _us_of(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


class WorkCalendar:
    """Working days and hours in the policy's time zone; datetimes in and out are aware (UTC out).

    Years not in the policy fall back to plain Monday–Friday (`covers` says whether a day is
    covered), so a deadline into an unpublished year is still computed, never refused.
    """

    def __init__(self, policy: CalendarPolicy) -> None:
        self.policy = policy
        self.version = policy.version
        self.tz = ZoneInfo(policy.timezone)
        self._periods = [(_us_of(p.start), _us_of(p.end)) for p in policy.working_hours]
        self._day_us = sum(end - start for start, end in self._periods)
        self._holidays = {d: p.name for y in policy.years.values() for p in y.holidays for d in p.days()}
        self._makeups = {d for y in policy.years.values() for d in y.makeup_workdays}
        # Only exceptions that change a Monday–Friday count matter for counting: holidays on
        # weekdays (one fewer) and make-up weekend days (one more). Sorted for bisection.
        self._weekday_holidays = sorted(d.toordinal() for d in self._holidays if d.weekday() < 5)
        self._makeup_ordinals = sorted(d.toordinal() for d in self._makeups)

    # --- days -------------------------------------------------------------------------------

    def covers(self, day: date) -> bool:
        """Whether the day's year is in the policy; if not, the calendar is plain Monday–Friday."""
        return day.year in self.policy.years

    def is_workday(self, day: date) -> bool:
        if day in self._makeups:
            return True
        if day in self._holidays:
            return False
        return day.weekday() < 5

    def _workdays_before(self, ordinal: int) -> int:
        """Working days in [0001-01-01, the day with this ordinal)."""
        weeks, rest = divmod(ordinal - 1, 7)  # ordinal 1, 0001-01-01, is a Monday
        plain = weeks * 5 + min(rest, 5)
        return (
            plain
            - bisect_left(self._weekday_holidays, ordinal)
            + bisect_left(self._makeup_ordinals, ordinal)
        )

    def _nth_workday(self, n: int) -> date:
        """The working day with n working days before it (the inverse of _workdays_before)."""
        lo, hi = 1, date.max.toordinal()
        while lo < hi:
            mid = (lo + hi) // 2
            if self._workdays_before(mid + 1) > n:
                hi = mid
            else:
                lo = mid + 1
        return date.fromordinal(lo)

    # --- moments ----------------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment}: pass a timezone-aware one (stored in UTC)")
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def _offset(self, local: datetime) -> int:
        """Working microseconds from the origin up to this local moment."""
        day = local.date()
        base = self._workdays_before(day.toordinal()) * self._day_us
        if not self.is_workday(day):
            return base
        now = _us_of(local.time())
        return base + sum(min(max(now - start, 0), end - start) for start, end in self._periods)

    def _at_offset(self, offset: int) -> datetime:
        """The local moment at a working offset. A boundary belongs to the period it closes,
        so a deadline reads 17:30 (or 12:00), not 08:30 next morning (or 13:30)."""
        n, rest = divmod(offset, self._day_us)
        if rest == 0:
            n, rest = n - 1, self._day_us
        midnight = datetime.combine(self._nth_workday(n), time())
        for start, end in self._periods:
            if rest <= end - start:
                return midnight + timedelta(microseconds=start + rest)
            rest -= end - start
        raise AssertionError("unreachable: rest never exceeds a working day")

    def _next_working_moment(self, local: datetime) -> datetime:
        day, now = local.date(), _us_of(local.time())
        if self.is_workday(day):
            for start, end in self._periods:
                if now <= end:
                    if now >= start:
                        return local
                    return datetime.combine(day, time()) + timedelta(microseconds=start)
        following = self._nth_workday(self._workdays_before(day.toordinal() + 1))
        return datetime.combine(following, time()) + timedelta(microseconds=self._periods[0][0])

    # --- public arithmetic ------------------------------------------------------------------

    def add_workdays(self, start: datetime, days: int) -> datetime:
        """The same time of day, `days` working days later. A start outside working time counts
        from the next working moment (Sunday 20:00 + 1 day → Tuesday 08:30)."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError(f"working days must be a whole number ≥ 0, got {days!r}")
        local = self._next_working_moment(self._local(start))
        target = self._nth_workday(self._workdays_before(local.date().toordinal()) + days)
        return self._utc(datetime.combine(target, local.time()))

    def add_work_hours(self, start: datetime, hours: float) -> datetime:
        """The moment when `hours` of working time after `start` have passed."""
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"working hours must be a finite number ≥ 0, got {hours!r}")
        local = self._local(start)
        amount = round(hours * _HOUR_US)
        if amount == 0:
            return start.astimezone(UTC)
        return self._utc(self._at_offset(self._offset(local) + amount))

    def work_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from a to b (negative when b is before a)."""
        return (self._offset(self._local(b)) - self._offset(self._local(a))) / _HOUR_US

    def deadline(self, start: datetime, amount: float, unit: Unit) -> datetime:
        if unit == "hours":
            return self.add_work_hours(start, amount)
        if unit == "days":
            if isinstance(amount, bool) or not float(amount).is_integer():
                raise ValueError(f"a deadline in working days needs a whole number, got {amount!r}")
            return self.add_workdays(start, int(amount))
        if unit in ("calendar_days", "calendar_hours"):
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"{unit} must be a finite number ≥ 0, got {amount!r}")
            # Round the clock (a fire on a Saturday night cannot wait for Monday); local
            # wall-clock arithmetic, so "3 days" keeps the time of day in any zone.
            step = timedelta(days=amount) if unit == "calendar_days" else timedelta(hours=amount)
            return self._utc(self._local(start) + step)
        raise ValueError(f"unknown deadline unit {unit!r}; use hours, days, calendar_days or calendar_hours")

    def progress_for(self, start: datetime, due: datetime, now: datetime, unit: Unit) -> float:
        """Progress as the unit counts time: round-the-clock units by the wall clock."""
        if unit in ("calendar_days", "calendar_hours"):
            s, d, n = (self._local(x) for x in (start, due, now))
            if d <= s:
                raise ValueError(f"the deadline {due} is not after the start {start}")
            return max(0.0, (n - s) / (d - s))
        return self.progress(start, due, now)

    def progress(self, start: datetime, due: datetime, now: datetime) -> float:
        """Share of the allowed working time used: 0 at start, 1 at the deadline, > 1 once
        working time past the deadline has been spent (a weekend after it adds nothing)."""
        s, d, n = self._local(start), self._local(due), self._local(now)
        if d <= s:
            raise ValueError(f"the deadline {due} is not after the start {start}")
        allowed = self._offset(d) - self._offset(s)
        if allowed == 0:
            # No working time in the window (a calendar-day limit inside a holiday): wall-clock
            # share instead, so the reading still goes 0 → 1 → beyond.
            return max(0.0, (n - s) / (d - s))
        return max(0.0, (self._offset(n) - self._offset(s)) / allowed)


def load_calendar(path: Path) -> WorkCalendar:
    with path.open("rb") as f:
        return WorkCalendar(CalendarPolicy.model_validate(tomllib.load(f)))


@lru_cache
def work_calendar() -> WorkCalendar:
    """The calendar in force: the district's own calendar.toml if it has one, else the shipped one."""
    return load_calendar(policy_path("calendar.toml"))
