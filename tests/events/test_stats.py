"""The command center's metrics, checked against a hand-built March 2026 in the lattice district.

Two towns: 第1镇 (330203101) with villages …101201 and …101202, and 第2镇 (330203102) with
village …102201. Fourteen events with chosen timestamps (Asia/Shanghai below); twelve were
reported in March, one a minute before it and one at the first instant of April:

  ev   town  cat   status       accepted  due      resolved  closed   on time tier→closed  rework ext esc rating
  E1   1     0101  closed       3-01 0:00  —       3-01 0:30 3-01 0:30 yes    village→village  0  0  0   5   on the spot, at the first instant of March
  E2   1     0101  closed       3-03 9:00 3-05 9:00 3-04 9:00 3-04 12:00 yes  village→village  0  0  0   4
  E3   1     0301  closed       3-05 9:00 3-10 9:00 3-12 9:00 3-12 15:00 no   town→town        1  1  0   2
  E4   1     0701  closed       3-06 9:00 3-09 9:00 3-08 9:00 3-08 10:00 yes  village→village  0  0  0   —
  E5   1     0101  resolved     3-10 9:00 3-12 9:00 3-11 9:00  —         —    village          0  0  0   —
  E6   1     0301  dispatched   3-15 9:00 3-20 9:00  —         —         —    town             0  1  0   —   overdue
  E7   1     0101  reported      —         —         —         —         —    —                                 never accepted
  E8   2     0301  closed       3-02 10:00 3-07 10:00 3-04 10:00 3-04 12:00 yes district→district 0 0 1 5
  E9   2     0101  closed       3-08 9:00 3-18 9:00 3-18 21:00 3-19 9:00 no  district→district 2  0  2   3
  E10  2     0704  in_progress  3-25 9:00 3-31 9:00  —         —         —    town             1  0  0   —   overdue
  E11  2     0101  rejected      —         —         —        3-26 9:00  —    —                                 never accepted
  E12  2     0101  merged       3-27 9:00 3-29 9:00  —        3-27 10:00 —    —                                 a duplicate
  E0   1     0101  closed       reported 2-28 23:59 — outside the period
  E13  2     0101  closed       reported 4-01 0:00  — outside the period

"Now" is 2026-04-10 for the service; the API and the CLI run at the real time, which is later,
and no open event falls due in between, so all three agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from builders import actor_of, bearer, lattice_tree, make_units, make_user
from pydantic import ValidationError
from sqlalchemy import event as sa_event
from typer.testing import CliRunner

from shanzhi.config import get_settings
from shanzhi.errors import Forbidden, InvalidInput, NotFound
from shanzhi.events import stats, stats_api
from shanzhi.events.models import Event
from shanzhi.geo import service as geo

SH = ZoneInfo("Asia/Shanghai")
TOWN1, TOWN2 = "330203101", "330203102"
V11, V12, V21 = "330203101201", "330203101202", "330203102201"
NOW = datetime(2026, 4, 10, tzinfo=UTC)
MARCH = {"start": date(2026, 3, 1), "end": date(2026, 4, 1)}
MARCH_Q = "start=2026-03-01&end=2026-04-01"


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time in 2026, as the UTC instant it is stored as."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


# (name, village, category, status, created, accepted, due, resolved, closed, on_time, tier, closed_tier,
#  reworks, extensions, escalations, rating, unit (kind, region))
EVENTS = [
    ("E1", V11, "0101", "closed", sh(3, 1), sh(3, 1), None, sh(3, 1, 0, 30), sh(3, 1, 0, 30), True,
     "village", "village", 0, 0, 0, 5, ("grid_team", V11)),
    ("E2", V11, "0101", "closed", sh(3, 3, 8), sh(3, 3, 9), sh(3, 5, 9), sh(3, 4, 9), sh(3, 4, 12), True,
     "village", "village", 0, 0, 0, 4, ("grid_team", V11)),
    ("E3", V12, "0301", "closed", sh(3, 5, 8), sh(3, 5, 9), sh(3, 10, 9), sh(3, 12, 9), sh(3, 12, 15), False,
     "town", "town", 1, 1, 0, 2, ("enforcement_team", TOWN1)),
    ("E4", V12, "0701", "closed", sh(3, 6, 8), sh(3, 6, 9), sh(3, 9, 9), sh(3, 8, 9), sh(3, 8, 10), True,
     "village", "village", 0, 0, 0, None, ("village_mediation", V12)),
    ("E5", V11, "0101", "resolved", sh(3, 10, 8), sh(3, 10, 9), sh(3, 12, 9), sh(3, 11, 9), None, None,
     "village", None, 0, 0, 0, None, ("grid_team", V11)),
    ("E6", V11, "0301", "dispatched", sh(3, 15, 8), sh(3, 15, 9), sh(3, 20, 9), None, None, None,
     "town", None, 0, 1, 0, None, ("enforcement_team", TOWN1)),
    ("E7", V11, "0101", "reported", sh(3, 20, 8), None, None, None, None, None,
     None, None, 0, 0, 0, None, None),
    ("E8", V21, "0301", "closed", sh(3, 2, 9), sh(3, 2, 10), sh(3, 7, 10), sh(3, 4, 10), sh(3, 4, 12), True,
     "district", "district", 0, 0, 1, 5, ("district_department", "330203")),
    ("E9", V21, "0101", "closed", sh(3, 8, 8), sh(3, 8, 9), sh(3, 18, 9), sh(3, 18, 21), sh(3, 19, 9), False,
     "district", "district", 2, 0, 2, 3, ("district_department", "330203")),
    ("E10", V21, "0704", "in_progress", sh(3, 25, 8), sh(3, 25, 9), sh(3, 31, 9), None, None, None,
     "town", None, 1, 0, 0, None, ("town_office", TOWN2)),
    ("E11", V21, "0101", "rejected", sh(3, 26, 8), None, None, None, sh(3, 26, 9), True,
     None, None, 0, 0, 0, None, None),
    ("E12", V21, "0101", "merged", sh(3, 27, 8), sh(3, 27, 9), sh(3, 29, 9), None, sh(3, 27, 10), True,
     "village", None, 0, 0, 0, None, None),
    ("E0", V11, "0101", "closed", sh(2, 28, 23, 59), sh(3, 1, 8), sh(3, 2, 8), sh(3, 1, 9), sh(3, 1, 10), True,
     "village", "village", 0, 0, 0, 5, None),
    ("E13", V21, "0101", "closed", sh(4, 1), sh(4, 1, 8), sh(4, 2, 8), sh(4, 1, 9), sh(4, 1, 10), True,
     "village", "village", 0, 0, 0, 5, None),
]

# Totals over the twelve March events, by the definitions in policy/metrics.toml:
TOTALS = {
    "reported": 12,             # E1–E12
    "registered": 9,            # accepted, not merged: E1–E6, E8–E10 (not E7, E11 unaccepted; E12 merged)
    "handled": 7,               # resolved or closed: E1–E5, E8, E9
    "closed": 6,                # E1–E4, E8, E9
    "overdue_unhandled": 2,     # not handled and due before 4-10: E6 (3-20), E10 (3-31)
    "should_close": 9,          # 7 handled + 2 overdue
    "closed_on_time": 4,        # E1, E2, E4, E8
    "handled_on_time": 5,       # resolved ≤ due, or no deadline: E1 (none), E2, E4, E5, E8 (E3, E9 late)
    "reworked": 3,              # E3, E9, E10
    "extended": 2,              # E3, E6
    "escalated": 2,             # E8, E9
    "rated": 5,                 # E1, E2, E3, E8, E9
    "rating_sum": 19,           # 5 + 4 + 2 + 5 + 3
    "satisfied": 3,             # rated ≥ 4: E1, E2, E8
    "closed_default_village": 4,  # closed 0101/0701 (village by default): E1, E2, E4, E9
    "contained_village": 3,     # of those, closed at village tier: E1, E2, E4 (E9 went to the district)
    "closed_default_town": 2,   # closed 0301 (town by default): E3, E8
    "contained_town": 1,        # of those, closed at town or below: E3 (E8 went to the district)
    "close_rate": 0.6667,       # 6 / 9
    "closed_on_time_rate": 0.4444,  # 4 / 9
    "handled_on_time_rate": 0.5556,  # 5 / 9
    "rework_rate": 0.3333,      # 3 / 9
    "extension_rate": 0.2222,   # 2 / 9
    "satisfaction_rate": 0.6,   # 3 / 5
    "avg_rating": 3.8,          # 19 / 5
    "village_containment": 0.75,  # 3 / 4
    "town_containment": 0.5,    # 1 / 2
    # hours accepted → resolved: E1 0.5, E2 24, E3 168, E4 48, E5 24, E8 48, E9 252
    "avg_handling_hours": 80.64,  # 564.5 / 7
    "p90_handling_hours": 201.6,  # sorted [0.5 24 24 48 48 168 252], rank 0.9·6 = 5.4: 168 + 0.4·(252 − 168)
    # 40·4/9 + 30·6/9 + 20·0.6 − 10·3/9 = 46.444; placed between −10 (worst) and 90 (best): (46.444 + 10) / 100
    "score": 56.44,
}
TOWN1_ROW = {
    "reported": 7, "registered": 6, "handled": 5, "closed": 4,  # E1–E7; E1–E6; E1–E5; E1–E4
    "overdue_unhandled": 1, "should_close": 6,  # E6; 5 + 1
    "closed_on_time": 3, "handled_on_time": 4,  # E1 E2 E4; E1 E2 E4 E5
    "reworked": 1, "extended": 2, "escalated": 0,  # E3; E3 E6
    "rated": 3, "rating_sum": 11, "satisfied": 2,  # E1 E2 E3: 5 + 4 + 2; E1 E2
    "closed_default_village": 3, "contained_village": 3, "closed_default_town": 1, "contained_town": 1,
    "close_rate": 0.6667, "closed_on_time_rate": 0.5, "handled_on_time_rate": 0.6667,  # 4/6, 3/6, 4/6
    "rework_rate": 0.1667, "extension_rate": 0.3333, "satisfaction_rate": 0.6667,  # 1/6, 2/6, 2/3
    "avg_rating": 3.6667, "village_containment": 1.0, "town_containment": 1.0,  # 11/3, 3/3, 1/1
    "avg_handling_hours": 52.9,  # (0.5 + 24 + 168 + 48 + 24) / 5
    "p90_handling_hours": 120.0,  # sorted [0.5 24 24 48 168], rank 3.6: 48 + 0.6·120
    "score": 61.67,  # 40·0.5 + 30·4/6 + 20·2/3 − 10·1/6 = 51.667; + 10
}
TOWN2_ROW = {
    "reported": 5, "registered": 3, "handled": 2, "closed": 2,  # E8–E12; E8 E9 E10; E8 E9; E8 E9
    "overdue_unhandled": 1, "should_close": 3,  # E10; 2 + 1
    "closed_on_time": 1, "handled_on_time": 1,  # E8; E8
    "reworked": 2, "extended": 0, "escalated": 2,  # E9 E10; —; E8 E9
    "rated": 2, "rating_sum": 8, "satisfied": 1,  # E8 E9: 5 + 3; E8
    "closed_default_village": 1, "contained_village": 0, "closed_default_town": 1, "contained_town": 0,
    "close_rate": 0.6667, "closed_on_time_rate": 0.3333, "handled_on_time_rate": 0.3333,  # 2/3, 1/3, 1/3
    "rework_rate": 0.6667, "extension_rate": 0.0, "satisfaction_rate": 0.5,  # 2/3, 0/3, 1/2
    "avg_rating": 4.0, "village_containment": 0.0, "town_containment": 0.0,  # 8/2, 0/1, 0/1
    "avg_handling_hours": 150.0,  # (48 + 252) / 2
    "p90_handling_hours": 231.6,  # rank 0.9: 48 + 0.9·204
    "score": 46.67,  # 40/3 + 30·2/3 + 20·0.5 − 10·2/3 = 36.667; + 10
}


@pytest.fixture
def march(session):
    geo.import_regions(session, data=lattice_tree())
    units = make_units(session)
    for i, (name, village, cat, status, created, accepted, due, resolved, closed, on_time, tier, closed_tier,
            reworks, extensions, escalations, rating, unit) in enumerate(EVENTS):
        session.add(Event(
            code=f"HS-T-202603-{i:04d}", tracking_hash="x" * 64, text=f"{name} 测试事件", category_code=cat,
            category_source="chosen", channel="grid_worker", region_code=village + "001001",
            town_code=village[:9], village_code=village, status=status, tier=tier, closed_tier=closed_tier,
            created_at=created, accepted_at=accepted, due_at=due, resolved_at=resolved, closed_at=closed,
            closed_on_time=on_time, reworks=reworks, extensions=extensions, escalations=escalations,
            rating=rating, assigned_org_id=units[unit] if unit else None,
        ))
    people = {
        "leader": make_user(session, role="district_leader", scope="330203", username="leader"),
        "dispatcher1": make_user(session, role="dispatcher", scope=TOWN1, username="dispatcher1"),
        "worker": make_user(session, role="grid_worker", scope=V11 + "001", username="worker"),
    }
    session.commit()
    return people


@pytest.fixture
def api(client):
    return client


def expect(row: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, abs=1e-4), key


def district(session, people):
    return actor_of(session, people["leader"])


# -- the figures -------------------------------------------------------------------------------


def test_every_count_rate_and_the_score_match_the_hand_computed_values(session, march):
    result = stats.compute(session, actor=district(session, march), region="330203", now=NOW, **MARCH)
    expect(result["totals"], TOTALS)
    assert result["period"]["start_at"] == "2026-02-28T16:00:00+00:00"  # Shanghai midnight, in UTC
    assert result["period"]["end_at"] == "2026-03-31T16:00:00+00:00"
    assert result["region"] == "330203" and result["region_name"] == "测试区"
    assert result["groups"] == []
    # Every key of the response is documented with a Chinese label.
    labels = {**result["definitions"]["counts"], **result["definitions"]["extra"],
              **{m["key"]: m["label"] for m in result["definitions"]["metrics"]}}
    assert set(result["totals"]) == set(labels)
    assert labels["should_close"] == "应结案数" and labels["closed_on_time_rate"] == "按期结案率"


def test_grouping_by_town_gives_one_row_per_town_that_add_up_to_the_totals(session, march):
    result = stats.compute(session, actor=district(session, march), region="330203", group_by="town", now=NOW,
                           **MARCH)
    assert [(g["key"], g["label"]) for g in result["groups"]] == [(TOWN1, "第1镇"), (TOWN2, "第2镇")]
    expect(result["groups"][0], TOWN1_ROW)
    expect(result["groups"][1], TOWN2_ROW)
    expect(result["totals"], TOTALS)
    for name in result["definitions"]["counts"]:
        assert result["groups"][0][name] + result["groups"][1][name] == result["totals"][name], name


def test_an_open_event_is_overdue_only_once_its_deadline_has_passed(session, march):
    # On 3-25 08:00 E6 (due 3-20) is overdue but E10 (due 3-31) is not yet.
    result = stats.compute(session, actor=district(session, march), now=sh(3, 25, 8), **MARCH)
    assert result["totals"]["overdue_unhandled"] == 1
    assert result["totals"]["should_close"] == 8  # 7 + 1
    assert result["totals"]["close_rate"] == pytest.approx(0.75)  # 6 / 8


def test_grouping_by_day_covers_every_day_in_shanghai_time(session, march):
    result = stats.compute(session, actor=district(session, march), group_by="day", now=NOW, **MARCH)
    days = {g["key"]: g for g in result["groups"]}
    assert list(days) == [f"2026-03-{d:02d}" for d in range(1, 32)]  # days without events too
    assert days["2026-03-01"]["reported"] == 1  # E1 at 00:00 (UTC: still February)
    assert days["2026-03-02"]["reported"] == 1 and days["2026-03-02"]["closed"] == 1  # E8
    assert days["2026-03-04"]["reported"] == 0 and days["2026-03-04"]["close_rate"] is None
    assert sum(g["reported"] for g in result["groups"]) == 12


def test_grouping_by_category_tier_unit_and_village(session, march):
    actor = district(session, march)
    by = {g: stats.compute(session, actor=actor, group_by=g, now=NOW, **MARCH)["groups"]
          for g in ("category", "tier", "unit", "village")}
    cats = {g["key"]: g for g in by["category"]}
    assert cats["0101"]["label"] == "暴露垃圾/垃圾堆放"
    assert cats["0101"]["reported"] == 7  # E1 E2 E5 E7 E9 E11 E12
    assert cats["0101"]["registered"] == 4  # E1 E2 E5 E9
    # Tiers in their order, lowest first; unrouted events last.
    assert [(g["key"], g["reported"]) for g in by["tier"]] == [
        ("village", 5), ("town", 3), ("district", 2), (None, 2)]  # E1 E2 E4 E5 E12 | E3 E6 E10 | E8 E9 | E7 E11
    units = {g["key"]: g for g in by["unit"]}
    assert units[f"grid_team-{V11}"]["registered"] == 3  # E1 E2 E5
    assert units[f"grid_team-{V11}"]["handled_on_time_rate"] == pytest.approx(1.0)  # 3 / 3
    assert units[None]["reported"] == 3 and units[None]["label"] == "（未派遣）"  # E7 E11 E12
    villages = {g["key"]: g["reported"] for g in by["village"]}
    assert villages == {V11: 5, V12: 2, V21: 5, "330203102202": 0}  # E1 E2 E5 E6 E7 | E3 E4 | E8–E12 | none


def test_filters_by_unit_and_category(session, march):
    actor = district(session, march)
    unit = stats.compute(session, actor=actor, unit=f"enforcement_team-{TOWN1}", now=NOW, **MARCH)["totals"]
    assert (unit["registered"], unit["closed"], unit["overdue_unhandled"]) == (2, 1, 1)  # E3 E6; E3; E6
    towns = stats.compute(session, actor=actor, category="03", now=NOW, **MARCH)["totals"]
    assert (towns["reported"], towns["closed"]) == (3, 2)  # E3 E6 E8; E3 E8


def test_counts_take_one_query_however_many_groups(session, march, engine):
    actor = district(session, march)
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if "FROM events" in statement:
            seen.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        for group_by in (None, "town", "village", "day", "unit"):
            seen.clear()
            stats.compute(session, actor=actor, group_by=group_by, now=NOW, **MARCH)
            assert len(seen) == 2, (group_by, seen)  # the counts, and the handling times
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


# -- scope -------------------------------------------------------------------------------------


def test_a_town_dispatcher_sees_only_his_towns_numbers(api, session, march):
    h = bearer(session, march["dispatcher1"])
    whole = api.get(f"/api/v1/stats?region=330203&{MARCH_Q}&group_by=town", headers=h)
    assert whole.status_code == 200, whole.text
    expect(whole.json()["totals"], TOWN1_ROW)
    assert [g["key"] for g in whole.json()["groups"]] == [TOWN1]  # 第2镇 is not his to rank
    own = api.get(f"/api/v1/stats?{MARCH_Q}", headers=h).json()
    assert own["region"] == TOWN1
    expect(own["totals"], TOWN1_ROW)
    other = api.get(f"/api/v1/stats?region={TOWN2}&{MARCH_Q}", headers=h)
    assert other.status_code == 404
    assert "管辖范围" in other.json()["error"]["message_zh"]


def test_a_grid_worker_without_stats_read_is_refused(api, session, march):
    r = api.get(f"/api/v1/stats?{MARCH_Q}", headers=bearer(session, march["worker"]))
    assert r.status_code == 403
    assert r.json()["error"]["message_zh"] == "您无权执行“查看统计”操作"
    with pytest.raises(Forbidden):
        stats.compute(session, actor=actor_of(session, march["worker"]), **MARCH)


def test_an_anonymous_caller_is_asked_to_sign_in(api, march):
    assert api.get(f"/api/v1/stats?{MARCH_Q}").status_code == 401


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("region=999999&" + MARCH_Q, 404, "region_not_found"),
        ("start=2026-04-01&end=2026-03-01", 422, "invalid_period"),
        ("start=2026-03-01&end=2026-03-01", 422, "invalid_period"),
        ("start=2025-01-01&end=2026-03-01", 422, "period_too_long"),
        ("group_by=week&" + MARCH_Q, 422, "unknown_group_by"),
        ("category=99&" + MARCH_Q, 422, "unknown_major"),
        ("category=abc&" + MARCH_Q, 422, "invalid_category"),
        ("unit=nobody&" + MARCH_Q, 404, "unit_not_found"),
        ("start=2026-13-01", 422, "invalid_input"),
    ],
)
def test_bad_input_is_answered_with_a_clear_4xx_in_both_languages(api, session, march, query, status, code):
    r = api.get(f"/api/v1/stats?{query}", headers=bearer(session, march["leader"]))
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert error["message"] and error["message_zh"]


def test_a_period_of_exactly_four_hundred_days_is_allowed(session, march):
    actor = district(session, march)
    stats.compute(session, actor=actor, start=date(2025, 3, 1), end=date(2026, 4, 5), now=NOW)
    with pytest.raises(InvalidInput):
        stats.compute(session, actor=actor, start=date(2025, 3, 1), end=date(2026, 4, 6), now=NOW)
    with pytest.raises(NotFound):
        stats.compute(session, actor=actor, region="330299", now=NOW, **MARCH)


# -- policy ------------------------------------------------------------------------------------


@pytest.fixture
def district_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A district's own metrics.toml: 结案率 as 结案数 / 处置数, and a score of two halves."""
    shipped = (Path(stats.__file__).parent.parent / "policy" / "metrics.toml").read_text(encoding="utf-8")
    text = shipped.replace('numerator = "closed"\ndenominator = "should_close"',
                           'numerator = "closed"\ndenominator = "handled"')
    head, _, _ = text.partition("[score.weights]")
    (tmp_path / "metrics.toml").write_text(head + "[score.weights]\nclose_rate = 50\nsatisfaction_rate = 50\n",
                                           encoding="utf-8")
    monkeypatch.setenv("SHANZHI_POLICY_DIR", str(tmp_path))
    get_settings.cache_clear()
    stats.metrics_policy.cache_clear()
    yield tmp_path
    monkeypatch.delenv("SHANZHI_POLICY_DIR")
    get_settings.cache_clear()
    stats.metrics_policy.cache_clear()


def test_a_district_policy_redefines_a_rate_and_the_score(api, session, march, district_policy):
    r = api.get(f"/api/v1/stats?region=330203&{MARCH_Q}&group_by=town", headers=bearer(session, march["leader"]))
    body = r.json()
    assert body["totals"]["close_rate"] == pytest.approx(0.8571, abs=1e-4)  # 6 closed / 7 handled
    assert [g["close_rate"] for g in body["groups"]] == [0.8, 1.0]  # 4 / 5, 2 / 2
    # Score: 50·6/7 + 50·0.6 = 72.857 out of 100.
    assert body["totals"]["score"] == pytest.approx(72.86)
    assert body["definitions"]["score"]["weights"] == {"close_rate": 50, "satisfaction_rate": 50}
    # The counts are the same counts.
    assert body["totals"]["should_close"] == 9 and body["totals"]["closed_on_time_rate"] == pytest.approx(0.4444,
                                                                                                          abs=1e-4)


def _policy(**over) -> dict:
    return {"version": "t", "metrics": [{"key": "close_rate", "label": "结案率", "numerator": "closed",
                                         "denominator": "should_close", **over}],
            "score": {"weights": {"close_rate": 1}}}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (_policy(numerator="closd"), "unknown count 'closd'"),
        (_policy(denominator="应结案数"), "unknown count '应结案数'"),
        (_policy(key="closed"), "taken by a count"),
        (_policy(colour="red"), "colour"),
        ({**_policy(), "score": {"weights": {"speed": 10}}}, "unknown metric 'speed'"),
        ({**_policy(), "score": {"weights": {"close_rate": 0}}}, "is 0"),
    ],
)
def test_a_bad_metrics_policy_fails_on_load(data, fragment):
    with pytest.raises(ValidationError, match=fragment):
        stats.MetricsPolicy.model_validate(data)


def test_the_shipped_policy_is_valid_and_weighs_only_its_own_metrics():
    policy = stats.metrics_policy()
    assert {m.key for m in policy.metrics} >= set(policy.score.weights)
    assert policy.score.weights == {"closed_on_time_rate": 40, "close_rate": 30, "satisfaction_rate": 20,
                                    "rework_rate": -10}


def test_the_score_runs_from_zero_at_worst_to_one_hundred_at_best():
    policy = stats.metrics_policy()
    best = {"closed_on_time_rate": 1, "close_rate": 1, "satisfaction_rate": 1, "rework_rate": 0}
    worst = {"closed_on_time_rate": 0, "close_rate": 0, "satisfaction_rate": 0, "rework_rate": 1}
    assert stats.composite_score(best, policy) == pytest.approx(100)
    assert stats.composite_score(worst, policy) == pytest.approx(0)
    # Nothing rated: satisfaction is left out and the rest re-scaled (−10 … 70).
    assert stats.composite_score({**best, "satisfaction_rate": None}, policy) == pytest.approx(100)
    assert stats.composite_score({}, policy) is None


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli(session, monkeypatch: pytest.MonkeyPatch, wide_terminal: None):
    """`shanzhi stats` on its own Typer app, reading the test's transaction."""
    app = typer.Typer()
    stats_api.register(app)

    @app.callback()
    def _root() -> None:  # keeps `stats` a named subcommand, as in the real CLI
        pass

    @contextmanager
    def scope() -> Iterator:
        yield session

    monkeypatch.setattr(stats_api, "session_scope", scope)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["stats", *args])


def test_the_api_and_the_cli_agree(api, session, march, cli):
    headers = bearer(session, march["leader"])
    for by in (None, "town", "day"):
        query = f"region=330203&{MARCH_Q}" + (f"&group_by={by}" if by else "")
        from_api = api.get(f"/api/v1/stats?{query}", headers=headers).json()
        args = ["--region", "330203", "--start", "2026-03-01", "--end", "2026-04-01", "--json"]
        out = cli(*args, *(["--by", by] if by else []))
        assert out.exit_code == 0, out.output
        from_cli = json.loads(out.output)
        assert from_cli["totals"] == from_api["totals"]
        assert from_cli["groups"] == from_api["groups"]
    expect(from_api["totals"], TOTALS)


def test_the_cli_prints_a_chinese_table(session, march, cli):
    out = cli("--region", "330203", "--start", "2026-03-01", "--end", "2026-04-01", "--by", "town")
    assert out.exit_code == 0, out.output
    assert "测试区（330203） 2026-03-01 至 2026-03-31" in out.output
    lines = out.output.splitlines()
    town1 = next(line for line in lines if "第1镇" in line)
    assert "66.7%" in town1 and "50.0%" in town1 and "61.67" in town1  # 结案率, 按期结案率, 评分
    total = next(line for line in lines if "合计" in line)
    assert "44.4%" in total and "56.44" in total
    assert "按期结案率" in out.output and "综合评分" in out.output
    listed = cli("--region", "330203", "--start", "2026-03-01", "--end", "2026-04-01")
    assert "应结案数" in listed.output and "80.64" in listed.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--start", "2026-04-01", "--end", "2026-03-01"), "须晚于开始日期"),
        (("--start", "2026-13-01"), "应为日期"),
        (("--by", "week"), "未知的分组方式"),
        (("--region", "999999"), "区域 999999 不存在"),
    ],
)
def test_the_cli_rejects_bad_input_with_one_clear_line(session, march, cli, args, fragment):
    out = cli(*args)
    assert out.exit_code == 1
    assert fragment in out.output and "Traceback" not in out.output
