"""Golden cases for the working-day calendar that event deadlines are counted on."""

from __future__ import annotations

import copy
import random
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shanzhi.config import get_settings
from shanzhi.events.workcal import CalendarPolicy, WorkCalendar, work_calendar
from shanzhi.policy.loader import DEFAULTS

SH = ZoneInfo("Asia/Shanghai")
SHIPPED = DEFAULTS / "calendar.toml"


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Shanghai wall-clock moment, as the aware datetime the calendar takes."""
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    with SHIPPED.open("rb") as f:
        return WorkCalendar(CalendarPolicy.model_validate(tomllib.load(f)))


# --- working days ---------------------------------------------------------------------------

WORKDAY_CASES = [
    # (day, working?, why)
    (date(2025, 10, 1), False, "国庆 first day"),
    (date(2025, 10, 8), False, "国庆、中秋 last day (8-day week)"),
    (date(2025, 10, 9), True, "back to work Thursday"),
    (date(2025, 10, 11), True, "Saturday make-up day"),
    (date(2025, 9, 28), True, "Sunday make-up day"),
    (date(2025, 1, 26), True, "Sunday make-up before 春节"),
    (date(2025, 5, 5), False, "劳动节 Monday"),
    (date(2026, 1, 2), False, "元旦 Friday"),
    (date(2026, 1, 4), True, "Sunday make-up after 元旦"),
    (date(2026, 2, 14), True, "Saturday make-up before 春节"),
    (date(2026, 2, 23), False, "春节 last day, a Monday"),
    (date(2026, 2, 24), True, "first day back after 春节"),
    (date(2026, 2, 28), True, "Saturday make-up after 春节"),
    (date(2026, 5, 9), True, "Saturday make-up after 劳动节"),
    (date(2026, 9, 20), True, "Sunday make-up before 国庆"),
    (date(2026, 9, 25), False, "中秋 Friday"),
    (date(2026, 10, 7), False, "国庆 last day"),
    (date(2026, 10, 8), True, "Thursday after 国庆"),
    (date(2026, 11, 27), True, "an ordinary Friday"),
    (date(2026, 11, 28), False, "an ordinary Saturday"),
]


@pytest.mark.parametrize(("day", "working", "why"), WORKDAY_CASES)
def test_it_knows_holidays_and_make_up_days(cal: WorkCalendar, day: date, working: bool, why: str):
    assert cal.is_workday(day) is working, why


ADD_WORKDAYS_CASES = [
    # (start, working days, expected, why)
    (sh(2025, 9, 30, 10), 3, sh(2025, 10, 11, 10), "国庆 week: 10/9, 10/10, then Saturday make-up 10/11"),
    (sh(2025, 9, 26, 16), 3, sh(2025, 9, 30, 16), "Friday 16:00: Sunday make-up 9/28 counts, then 9/29, 9/30"),
    (sh(2025, 9, 26, 16), 4, sh(2025, 10, 9, 16), "the fourth day jumps the whole 8-day holiday"),
    (sh(2026, 4, 30, 16), 3, sh(2026, 5, 8, 16), "Thursday before 劳动节: 5/6, 5/7, 5/8"),
    (sh(2026, 4, 30, 16), 4, sh(2026, 5, 9, 16), "…and the fourth is the Saturday make-up 5/9"),
    (sh(2026, 2, 13, 10), 1, sh(2026, 2, 14, 10), "春节 2026: Saturday 2/14 is a working day"),
    (sh(2026, 2, 13, 10), 2, sh(2026, 2, 24, 10), "…then nothing until Tuesday 2/24"),
    (sh(2026, 2, 24, 10), 4, sh(2026, 2, 28, 10), "2/25, 2/26, 2/27 and the Saturday make-up 2/28"),
    (sh(2026, 2, 24, 10), 5, sh(2026, 3, 2, 10), "Sunday 3/1 is a plain weekend day"),
    (sh(2026, 3, 8, 20), 1, sh(2026, 3, 10, 8, 30), "Sunday evening counts from Monday 08:30"),
    (sh(2026, 3, 9, 19), 1, sh(2026, 3, 11, 8, 30), "after hours counts from the next morning"),
    (sh(2026, 3, 9, 12, 30), 2, sh(2026, 3, 11, 13, 30), "in the lunch break counts from 13:30"),
    (sh(2026, 3, 9, 17, 30), 1, sh(2026, 3, 10, 17, 30), "closing time itself is still working time"),
    (sh(2026, 2, 16, 9), 1, sh(2026, 2, 25, 8, 30), "a start inside 春节 counts from 2/24 08:30"),
    (sh(2026, 3, 2, 9), 30, sh(2026, 4, 14, 9), "30 working days jump 清明 (4/6 Monday off)"),
    (sh(2026, 3, 9, 10), 0, sh(2026, 3, 9, 10), "zero days is the start itself"),
]


@pytest.mark.parametrize(("start", "days", "expected", "why"), ADD_WORKDAYS_CASES)
def test_it_adds_working_days_at_the_same_time_of_day(
    cal: WorkCalendar, start: datetime, days: int, expected: datetime, why: str
):
    got = cal.add_workdays(start, days)
    assert got == expected, why
    assert got.tzinfo is UTC


def test_the_national_day_golden_case_is_returned_in_utc(cal: WorkCalendar):
    start = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert cal.add_workdays(start, 3) == datetime(2025, 10, 11, 2, 0, tzinfo=UTC)


# --- working hours --------------------------------------------------------------------------

ADD_HOURS_CASES = [
    # (start, hours, expected, why)
    (sh(2026, 3, 2, 16), 4, sh(2026, 3, 3, 11), "1.5 h Monday, 2.5 h Tuesday morning"),
    (sh(2026, 3, 2, 11), 2, sh(2026, 3, 2, 14, 30), "across the lunch break"),
    (sh(2026, 3, 2, 11), 1, sh(2026, 3, 2, 12), "ending exactly at noon stays before lunch"),
    (sh(2026, 3, 2, 16), 1.5, sh(2026, 3, 2, 17, 30), "ending at closing time stays that evening"),
    (sh(2026, 3, 2, 12, 30), 1, sh(2026, 3, 2, 14, 30), "a start in the lunch break waits for 13:30"),
    (sh(2026, 3, 2, 6), 1, sh(2026, 3, 2, 9, 30), "a start before opening waits for 08:30"),
    (sh(2026, 3, 6, 16), 4, sh(2026, 3, 9, 11), "Friday afternoon over the weekend"),
    (sh(2026, 3, 8, 20), 2, sh(2026, 3, 9, 10, 30), "Sunday evening starts Monday morning"),
    (sh(2026, 3, 2, 8, 30), 7.5, sh(2026, 3, 2, 17, 30), "one full working day"),
    (sh(2026, 3, 2, 8, 30), 37.5, sh(2026, 3, 6, 17, 30), "one full working week"),
    (sh(2026, 2, 13, 17), 1, sh(2026, 2, 14, 9), "春节 2026: into the Saturday make-up day"),
    (sh(2026, 2, 14, 17), 1, sh(2026, 2, 24, 9), "…then over all nine days off"),
    (sh(2025, 9, 30, 17), 1, sh(2025, 10, 9, 9), "over the 2025 国庆、中秋 week"),
    (sh(2026, 3, 2, 9, 15), 0.25, sh(2026, 3, 2, 9, 30), "a quarter of an hour"),
]


@pytest.mark.parametrize(("start", "hours", "expected", "why"), ADD_HOURS_CASES)
def test_only_time_inside_working_hours_counts(
    cal: WorkCalendar, start: datetime, hours: float, expected: datetime, why: str
):
    got = cal.add_work_hours(start, hours)
    assert got == expected, why
    assert got.tzinfo is UTC


BETWEEN_CASES = [
    (sh(2026, 3, 2, 8, 30), sh(2026, 3, 2, 17, 30), 7.5),
    (sh(2026, 3, 2, 0, 0), sh(2026, 3, 3, 0, 0), 7.5),
    (sh(2026, 3, 2, 11), sh(2026, 3, 2, 14), 1.5),
    (sh(2026, 3, 6, 16), sh(2026, 3, 9, 11), 4.0),
    (sh(2026, 3, 7, 9), sh(2026, 3, 8, 18), 0.0),
    (sh(2026, 2, 14, 0), sh(2026, 2, 25, 0), 15.0),  # make-up 2/14 and 2/24 only
    (sh(2026, 3, 9, 11), sh(2026, 3, 6, 16), -4.0),
]


@pytest.mark.parametrize(("a", "b", "hours"), BETWEEN_CASES)
def test_it_measures_working_hours_between_two_moments(
    cal: WorkCalendar, a: datetime, b: datetime, hours: float
):
    assert cal.work_hours_between(a, b) == pytest.approx(hours)


def test_measuring_undoes_adding_for_hundreds_of_random_moments(cal: WorkCalendar):
    rng = random.Random(20261127)
    span = int((datetime(2028, 1, 1, tzinfo=UTC) - datetime(2025, 1, 1, tzinfo=UTC)).total_seconds())
    for _ in range(400):
        a = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(span))
        h = rng.choice([rng.uniform(0.01, 8), rng.uniform(8, 300), float(rng.randint(1, 60))])
        end = cal.add_work_hours(a, h)
        assert cal.work_hours_between(a, end) == pytest.approx(h, abs=1e-9), (a, h)
        # The deadline itself always lies on a working day, inside (or closing) working hours.
        local = end.astimezone(SH)
        assert cal.is_workday(local.date()), (a, h, local)
        assert time(8, 30) <= local.time() <= time(12) or time(13, 30) <= local.time() <= time(17, 30)


# --- deadlines and progress -----------------------------------------------------------------

DEADLINE_CASES = [
    (sh(2025, 9, 30, 10), 3, "days", sh(2025, 10, 11, 10)),
    (sh(2025, 9, 30, 10), 3, "calendar_days", sh(2025, 10, 3, 10)),
    (sh(2026, 3, 2, 16), 4, "hours", sh(2026, 3, 3, 11)),
    (sh(2026, 3, 2, 9), 10, "hours", sh(2026, 3, 3, 11, 30)),
    (sh(2026, 3, 2, 9), 2.0, "days", sh(2026, 3, 4, 9)),
]


@pytest.mark.parametrize(("start", "amount", "unit", "expected"), DEADLINE_CASES)
def test_a_deadline_is_counted_in_its_unit(
    cal: WorkCalendar, start: datetime, amount: float, unit: Any, expected: datetime
):
    assert cal.deadline(start, amount, unit) == expected


def test_it_rejects_an_unknown_unit_and_a_fractional_day(cal: WorkCalendar):
    with pytest.raises(ValueError, match="unknown deadline unit 'weeks'"):
        cal.deadline(sh(2026, 3, 2, 9), 1, "weeks")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole number"):
        cal.deadline(sh(2026, 3, 2, 9), 1.5, "days")
    with pytest.raises(ValueError, match="≥ 0"):
        cal.add_work_hours(sh(2026, 3, 2, 9), -1)


PROGRESS_START = sh(2026, 3, 2, 9)  # Monday; 10 working hours → due Tuesday 11:30
PROGRESS_DUE = sh(2026, 3, 3, 11, 30)
PROGRESS_CASES = [
    (PROGRESS_START, 0.0, "nothing used at the start"),
    (sh(2026, 3, 2, 6), 0.0, "before the start is never negative"),
    (sh(2026, 3, 2, 13), 0.3, "3 h of 10 by lunch (the break itself is free)"),
    (sh(2026, 3, 2, 23), 0.7, "the night costs nothing"),
    (sh(2026, 3, 3, 9, 30), 0.8, "8 of 10 hours: yellow"),
    (PROGRESS_DUE, 1.0, "at the deadline"),
    (sh(2026, 3, 3, 12, 45), 1.05, "the lunch break after the deadline adds nothing"),
    (sh(2026, 3, 3, 14, 30), 1.15, "overdue: red"),
]


@pytest.mark.parametrize(("now", "share", "why"), PROGRESS_CASES)
def test_progress_is_the_share_of_working_time_used(
    cal: WorkCalendar, now: datetime, share: float, why: str
):
    assert cal.deadline(PROGRESS_START, 10, "hours") == PROGRESS_DUE
    assert cal.progress(PROGRESS_START, PROGRESS_DUE, now) == pytest.approx(share), why


def test_a_weekend_after_a_friday_deadline_is_not_yet_overdue_time(cal: WorkCalendar):
    start, due = sh(2026, 3, 6, 9), sh(2026, 3, 6, 17, 30)
    assert cal.progress(start, due, sh(2026, 3, 7, 12)) == pytest.approx(1.0)
    assert cal.progress(start, due, sh(2026, 3, 9, 9, 12)) == pytest.approx(1.1)


def test_progress_without_any_working_time_falls_back_to_the_wall_clock(cal: WorkCalendar):
    start, due = sh(2026, 2, 16, 9), sh(2026, 2, 18, 9)  # both inside 春节
    assert cal.progress(start, due, sh(2026, 2, 17, 9)) == pytest.approx(0.5)
    assert cal.progress(start, due, sh(2026, 2, 24, 9)) > 1


def test_progress_refuses_a_deadline_before_the_start(cal: WorkCalendar):
    with pytest.raises(ValueError, match="not after the start"):
        cal.progress(sh(2026, 3, 3, 9), sh(2026, 3, 2, 9), sh(2026, 3, 3, 10))


@pytest.mark.parametrize(
    "call",
    [
        lambda c, n: c.add_workdays(n, 1),
        lambda c, n: c.add_work_hours(n, 1),
        lambda c, n: c.work_hours_between(n, n),
        lambda c, n: c.deadline(n, 1, "calendar_days"),
        lambda c, n: c.progress(n, n + timedelta(hours=1), n),
    ],
)
def test_it_refuses_naive_datetimes(cal: WorkCalendar, call: Any):
    with pytest.raises(ValueError, match="naive datetime"):
        call(cal, datetime(2026, 3, 2, 9))


# --- outside the covered years --------------------------------------------------------------


def test_outside_the_covered_years_it_falls_back_to_monday_to_friday(cal: WorkCalendar):
    assert cal.covers(date(2026, 10, 1))
    assert not cal.covers(date(2024, 10, 1))
    assert not cal.covers(date(2028, 10, 2))
    assert cal.is_workday(date(2024, 10, 1))  # a Tuesday, though it was National Day
    assert cal.is_workday(date(2028, 10, 2))  # a Monday
    assert not cal.is_workday(date(2028, 10, 7))  # a Saturday
    assert cal.add_workdays(sh(2028, 9, 29, 10), 1) == sh(2028, 10, 2, 10)
    assert cal.add_work_hours(sh(2024, 12, 31, 17), 1) == sh(2025, 1, 2, 9)  # 元旦 2025 is covered
    assert cal.work_hours_between(sh(2024, 12, 30, 0), sh(2025, 1, 3, 0)) == pytest.approx(22.5)


def test_thousands_of_working_days_cross_uncovered_years_without_trouble(cal: WorkCalendar):
    start = sh(2024, 1, 2, 10)
    end = cal.add_workdays(start, 2500)
    assert cal.work_hours_between(start, end) == pytest.approx(2500 * 7.5)


def test_2027_is_provisional_until_the_notice_is_out(cal: WorkCalendar):
    assert cal.policy.years[2027].provisional
    assert cal.policy.years[2027].makeup_workdays == []
    assert not cal.is_workday(date(2027, 2, 6))  # 春节, 农历正月初一
    assert not cal.is_workday(date(2027, 6, 9))  # 端午, a Wednesday: that day only
    assert cal.is_workday(date(2027, 6, 10))


# --- the shipped data -----------------------------------------------------------------------


def _shipped() -> dict[str, Any]:
    with SHIPPED.open("rb") as f:
        return tomllib.load(f)


def test_every_shipped_make_up_day_is_a_weekend_day_and_never_a_holiday():
    data = _shipped()
    holidays = {
        p["first"] + timedelta(days=i)
        for y in data["years"].values()
        for p in y["holidays"]
        for i in range((p["last"] - p["first"]).days + 1)
    }
    makeups = [d for y in data["years"].values() for d in y["makeup_workdays"]]
    assert makeups, "the shipped calendar has make-up days"
    for d in makeups:
        assert d.weekday() in (5, 6), f"{d} is not a Saturday or Sunday"
        assert d not in holidays, f"{d} is both a holiday and a make-up day"


@pytest.mark.parametrize(
    ("year", "days_off", "makeups", "provisional"),
    [(2025, 28, 5, False), (2026, 33, 6, False), (2027, 28, 0, True)],
)
def test_the_shipped_years_match_their_notices(year: int, days_off: int, makeups: int, provisional: bool):
    y = _shipped()["years"][str(year)]
    assert sum((p["last"] - p["first"]).days + 1 for p in y["holidays"]) == days_off
    assert len(y["makeup_workdays"]) == makeups
    assert y.get("provisional", False) is provisional
    assert "国务院办公厅" in y["source"] or provisional


def test_the_cached_calendar_prefers_a_district_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    own = SHIPPED.read_text(encoding="utf-8").replace("17:30:00", "18:00:00")
    (tmp_path / "calendar.toml").write_text(own, encoding="utf-8")
    monkeypatch.setenv("SHANZHI_POLICY_DIR", str(tmp_path))
    get_settings.cache_clear()
    work_calendar.cache_clear()
    try:
        assert work_calendar().add_work_hours(sh(2026, 3, 2, 17), 1) == sh(2026, 3, 2, 18)
    finally:
        monkeypatch.delenv("SHANZHI_POLICY_DIR")
        get_settings.cache_clear()
        work_calendar.cache_clear()
    assert work_calendar().add_work_hours(sh(2026, 3, 2, 17), 1) == sh(2026, 3, 3, 9)


# --- validation -----------------------------------------------------------------------------

VALID: dict[str, Any] = {
    "version": "test-1",
    "timezone": "Asia/Shanghai",
    "working_hours": [{"start": "08:30", "end": "12:00"}, {"start": "13:30", "end": "17:30"}],
    "years": {
        "2025": {
            "source": "国办发明电〔2024〕12号",
            "holidays": [
                {"name": "春节", "first": "2025-01-28", "last": "2025-02-04"},
                {"name": "清明节", "first": "2025-04-04", "last": "2025-04-06"},
            ],
            "makeup_workdays": ["2025-01-26", "2025-02-08"],
        }
    },
}


def _with(change) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    change(data)
    return data


def test_the_valid_sample_builds_a_calendar():
    cal = WorkCalendar(CalendarPolicy.model_validate(VALID))
    assert not cal.is_workday(date(2025, 1, 28))
    assert cal.is_workday(date(2025, 2, 8))


INVALID_CASES = [
    (
        lambda d: d["years"]["2025"]["holidays"].append(
            {"name": "元宵", "first": "2025-02-04", "last": "2025-02-05"}
        ),
        r"holidays 春节 \(2025-01-28–2025-02-04\) and 元宵 \(2025-02-04–2025-02-05\) overlap",
    ),
    (
        lambda d: d["years"]["2025"]["makeup_workdays"].append("2025-01-27"),
        "make-up workday 2025-01-27 is a Monday, not a Saturday or Sunday",
    ),
    (
        lambda d: d["years"]["2025"]["makeup_workdays"].append("2025-02-01"),
        r"2025-02-01 is both a holiday \(春节\) and a make-up workday",
    ),
    (
        lambda d: d["years"]["2025"]["makeup_workdays"].append("2025-01-26"),
        "make-up workday 2025-01-26 is listed twice",
    ),
    (
        lambda d: d.update(working_hours=[{"start": "13:30", "end": "17:30"}, {"start": "08:30", "end": "12:00"}]),
        "working hours must be increasing, got 13:30–17:30, 08:30–12:00",
    ),
    (
        lambda d: d.update(working_hours=[{"start": "12:00", "end": "08:30"}]),
        "working hours must be increasing",
    ),
    (lambda d: d.update(working_hours=[]), "working_hours"),
    (
        lambda d: d["years"]["2025"]["holidays"].append({"name": "清明", "first": "2025-04-07", "last": "2025-04-05"}),
        r"holiday 清明 ends \(2025-04-05\) before it starts \(2025-04-07\)",
    ),
    (lambda d: d.update(timezone="Asia/Peking"), "unknown time zone 'Asia/Peking'"),
    (
        lambda d: d["years"]["2025"]["holidays"].append({"name": "国庆节", "first": "2052-10-01", "last": "2052-10-07"}),
        "2025: date 2052-10-01 is not near the year",
    ),
    (lambda d: d["years"]["2025"].update(makeup_days=[]), "makeup_days"),
]


@pytest.mark.parametrize(("change", "message"), INVALID_CASES)
def test_it_rejects_bad_calendar_data_naming_the_problem(change: Any, message: str):
    with pytest.raises(ValueError, match=message):
        CalendarPolicy.model_validate(_with(change))


def test_round_the_clock_hours_ignore_nights_weekends_and_holidays_and_progress_by_the_clock():
    cal = work_calendar()
    # A gas leak reported at 23:00 on Saturday 2025-10-04, in the National Day holiday.
    start = datetime(2025, 10, 4, 15, 0, tzinfo=UTC)
    due = cal.deadline(start, 1, "calendar_hours")
    assert due == datetime(2025, 10, 4, 16, 0, tzinfo=UTC)
    assert cal.progress_for(start, due, datetime(2025, 10, 4, 15, 48, tzinfo=UTC), "calendar_hours") == pytest.approx(0.8)
    assert cal.progress_for(start, due, datetime(2025, 10, 4, 17, 0, tzinfo=UTC), "calendar_hours") == pytest.approx(2.0)
    # Every catalog unit is one the calendar can count.
    from shanzhi.events.catalog import TIME_UNITS

    for unit in TIME_UNITS:
        assert cal.deadline(start, 2, unit) > start
