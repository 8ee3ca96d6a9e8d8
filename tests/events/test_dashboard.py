"""The command center's panels, checked against a hand-built March 2026 in the lattice district.

"Now" is 2026-03-20 10:00 (Asia/Shanghai, as every time below). 第1镇 (330203101) holds villages
…101201 (V11) and …101202 (V12); 第2镇 (330203102) holds …102201 (V21).

  ev  village cat   status       reported     accepted  yellow     due        resolved   closed     on time tier  rating
  D1  V11     0101  closed       3-20 08:00   3-20 08:10 —         3-20 18:00 3-20 09:00 3-20 09:30 yes  village  5
  D2  V11     0101  reported     3-20 09:00   —          —          —          —          —          —    —        —
  D3  V12     0301  dispatched   3-18 09:00   3-18 10:00 3-19 05:00 3-19 10:00 —          —          —    —        —  red
  D4  V21     0301  in_progress  3-19 09:00   3-19 10:00 3-20 09:00 3-21 10:00 —          —          —    —        —  yellow
  D5  V21     0701  accepted     3-19 12:00   3-19 13:00 3-22 13:00 3-24 13:00 —          —          —    —        —
  D6  V12     0101  closed       3-05 09:00   3-05 09:10 —          3-06 09:00 3-06 12:00 3-06 13:00 no   town     3
  D9  V21     0101  rejected     3-10 09:00   —          —          —          —          3-10 10:00 —    —        —
  D7  V11     0701  closed       2-25 09:00   (in the 30-day trend, not in March)                    yes  village  4
  D8  V21     0101  closed       2-10 09:00   (before the trend's window: counted nowhere)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from builders import actor_of, bearer, lattice_tree, make_user

from shanzhi.errors import Forbidden
from shanzhi.events import dashboard, stats
from shanzhi.events.models import Event
from shanzhi.geo import service as geo

SH = ZoneInfo("Asia/Shanghai")
V11, V12, V21 = "330203101201", "330203101202", "330203102201"


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


NOW = sh(3, 20, 10)

# (name, village, category, status, reported, accepted, yellow, due, resolved, closed, on_time, closed_tier, rating)
EVENTS = [
    ("D1", V11, "0101", "closed", sh(3, 20, 8), sh(3, 20, 8, 10), None, sh(3, 20, 18), sh(3, 20, 9),
     sh(3, 20, 9, 30), True, "village", 5),
    ("D2", V11, "0101", "reported", sh(3, 20, 9), None, None, None, None, None, None, None, None),
    ("D3", V12, "0301", "dispatched", sh(3, 18, 9), sh(3, 18, 10), sh(3, 19, 5), sh(3, 19, 10), None, None,
     None, None, None),
    ("D4", V21, "0301", "in_progress", sh(3, 19, 9), sh(3, 19, 10), sh(3, 20, 9), sh(3, 21, 10), None, None,
     None, None, None),
    ("D5", V21, "0701", "accepted", sh(3, 19, 12), sh(3, 19, 13), sh(3, 22, 13), sh(3, 24, 13), None, None,
     None, None, None),
    ("D6", V12, "0101", "closed", sh(3, 5, 9), sh(3, 5, 9, 10), None, sh(3, 6, 9), sh(3, 6, 12), sh(3, 6, 13),
     False, "town", 3),
    ("D9", V21, "0101", "rejected", sh(3, 10, 9), None, None, None, None, sh(3, 10, 10), None, None, None),
    ("D7", V11, "0701", "closed", sh(2, 25, 9), sh(2, 25, 9, 10), None, sh(2, 26, 9), sh(2, 25, 12),
     sh(2, 25, 13), True, "village", 4),
    ("D8", V21, "0101", "closed", sh(2, 10, 9), sh(2, 10, 9, 10), None, sh(2, 11, 9), sh(2, 10, 12),
     sh(2, 10, 13), True, "village", 5),
]

# March 1–20 in the whole district, by the definitions of policy/metrics.toml:
MONTH = {
    "reported": 7,            # D1–D6, D9
    "registered": 5,          # accepted: D1, D3, D4, D5, D6
    "handled": 2,             # D1, D6
    "closed": 2,              # D1, D6
    "overdue_unhandled": 1,   # D3 (due 3-19 10:00); D4 and D5 are not due yet
    "rated": 2,               # D1, D6
    "handling_rate": 0.4,     # handled / registered = 2 / 5
    "close_rate": 0.6667,     # closed / should_close = 2 / (2 + 1)
    "handled_on_time_rate": 0.3333,  # D1 only (D6 resolved after its due time) / 3
    "closed_on_time_rate": 0.3333,   # D1 / 3
    "satisfaction_rate": 0.5,        # rated ≥ 4: D1 of D1, D6
    "village_containment": 0.5,      # village-tier 0101 closed: D1 (at village), D6 (went to the town)
    "town_containment": None,        # no town-tier (0301) event closed in March
    # 40·1/3 + 30·2/3 + 20·0.5 − 10·0 = 43.33, between −10 (worst) and 90 (best): 53.33
    "score": 53.33,
}


@pytest.fixture
def march(session):
    geo.import_regions(session, data=lattice_tree())
    for i, (name, village, cat, status, created, accepted, yellow, due, resolved, closed, on_time, closed_tier,
            rating) in enumerate(EVENTS):
        session.add(Event(
            code=f"HS-T-202603-{i:04d}", tracking_hash="x" * 64, text=f"{name} 测试事件", category_code=cat,
            category_source="chosen", channel="grid_worker", region_code=village + "001001",
            town_code=village[:9], village_code=village, status=status, created_at=created, accepted_at=accepted,
            yellow_at=yellow, due_at=due, resolved_at=resolved, closed_at=closed, closed_on_time=on_time,
            closed_tier=closed_tier, rating=rating,
        ))
    people = {
        "leader": make_user(session, role="district_leader", scope="330203", username="leader"),
        "dispatcher1": make_user(session, role="dispatcher", scope="330203101", username="dispatcher1"),
        "worker": make_user(session, role="grid_worker", scope=V11 + "001", username="worker"),
    }
    session.commit()
    return people


def panels(session, people, who: str) -> dict:
    return dashboard.dashboard(session, actor=actor_of(session, people[who]), now=NOW)


def expect(row: dict, expected: dict) -> None:
    for key, value in expected.items():
        assert row[key] == (None if value is None else pytest.approx(value, abs=1e-4)), key


def test_today_and_this_month_match_the_hand_computed_figures(session, march):
    d = panels(session, march, "leader")
    assert d["scope"] == {"code": "330203", "name": "测试区", "level": "district"}
    assert d["today"] == {"date": "2026-03-20", "reported": 2, "registered": 1, "closed": 1}  # D1, D2
    assert d["month"]["start"] == "2026-03-01"
    expect(d["month"], MONTH)
    assert d["labels"]["closed_on_time_rate"] == "按期结案率" and d["labels"]["handling_rate"] == "处置率"


def test_the_month_agrees_with_the_stats_service(session, march):
    d = panels(session, march, "leader")
    totals = stats.compute(session, actor=actor_of(session, march["leader"]), start=date(2026, 3, 1),
                           end=date(2026, 3, 21), now=NOW)["totals"]
    for key in ("reported", "registered", "handled", "closed", "overdue_unhandled", "rated", "close_rate",
                "handled_on_time_rate", "closed_on_time_rate", "satisfaction_rate", "village_containment",
                "town_containment", "score"):
        assert d["month"][key] == totals[key], key


def test_categories_statuses_and_the_open_backlog(session, march):
    d = panels(session, march, "leader")
    assert d["by_category"] == [{"code": "01", "name": "市容环卫", "count": 4},  # D1 D2 D6 D9
                                {"code": "03", "name": "城乡建设", "count": 2},  # D3 D4
                                {"code": "07", "name": "矛盾纠纷", "count": 1}]  # D5
    assert [(s["label"], s["count"]) for s in d["by_status"]] == [
        ("待受理", 1), ("已受理", 1), ("不予受理", 1), ("已派遣", 1), ("处置中", 1), ("已结案", 2)]
    # Open now: D2 (no deadline), D3 (overdue: red), D4 (past yellow: yellow), D5 (in time).
    assert (d["open"]["total"], d["open"]["red"], d["open"]["yellow"]) == (4, 1, 1)
    backlog = {s["status"]: s for s in d["open"]["by_status"]}
    assert (backlog["dispatched"]["red"], backlog["in_progress"]["yellow"], backlog["accepted"]["normal"],
            backlog["reported"]["none"]) == (1, 1, 1, 1)


def test_the_trend_covers_thirty_days_by_report_date(session, march):
    trend = panels(session, march, "leader")["trend"]
    assert len(trend) == 30 and trend[0]["day"] == "2026-02-19" and trend[-1]["day"] == "2026-03-20"
    by_day = {t["day"]: t for t in trend if t["reported"]}
    assert {day: (t["reported"], t["closed"]) for day, t in by_day.items()} == {
        "2026-02-25": (1, 1), "2026-03-05": (1, 1), "2026-03-10": (1, 0), "2026-03-18": (1, 0),
        "2026-03-19": (2, 0), "2026-03-20": (2, 1)}  # D8 (2-10) is before the window


def test_the_district_ranks_its_towns_and_a_town_its_villages(session, march):
    towns = panels(session, march, "leader")["ranking"]
    assert towns["level"] == "town"
    assert [(r["name"], r["reported"], r["score"]) for r in towns["items"]] == [
        ("第1镇", 4, pytest.approx(53.33)),  # D1 D2 D3 D6: the district's figures, as 第2镇 has none closed
        ("第2镇", 3, None),                   # D4 D5 D9: nothing handled or due yet, nothing to score
    ]
    d = panels(session, march, "dispatcher1")
    assert d["scope"]["name"] == "第1镇" and d["ranking"]["level"] == "village"
    # V11: D1 closed on time, rated 5 → 100. V12: D6 late and rated 3, D3 overdue:
    # 40·0 + 30·1/2 + 20·0 − 10·0 = 15 → 25.
    assert [(r["code"], r["score"]) for r in d["ranking"]["items"]] == [
        (V11, pytest.approx(100.0)), (V12, pytest.approx(25.0))]
    assert d["today"]["reported"] == 2 and d["month"]["reported"] == 4 and d["open"]["total"] == 2


def test_someone_without_the_statistics_permission_is_refused(session, march):
    with pytest.raises(Forbidden):
        panels(session, march, "worker")


def test_over_http_the_dashboard_answers_json_in_reach(client, session, march):
    r = client.get("/api/v1/command/dashboard", headers=bearer(session, march["dispatcher1"]))
    assert r.status_code == 200, r.text
    assert r.json()["scope"]["code"] == "330203101"
    assert client.get("/api/v1/command/dashboard", headers=bearer(session, march["worker"])).status_code == 403
