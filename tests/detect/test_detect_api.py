"""Detection over HTTP: a duplicate found, merged and closed end to end with every reporter told;
dispatchers' corrections kept for retraining; hotspots, alerts, suggestions and unit patterns."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from builders import bearer, lattice_tree, make_units, make_user
from sqlalchemy import select

from shanzhi.detect.corrections import export_corrections
from shanzhi.detect.models import CategoryCorrection
from shanzhi.events.models import Event, Notification
from shanzhi.geo import service as geo
from shanzhi.orgs.models import Organization

LON, LAT = 121.31, 29.81
PILE = "小区门口路边有一堆暴露垃圾，气味很大"


@pytest.fixture
def hs(session, client):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    users = {
        "worker1": make_user(session, username="qianxiao", role="grid_worker", scope="330203101201001001"),
        "worker2": make_user(session, username="sunli", role="grid_worker", scope="330203101201001001"),
        "dispatcher": make_user(session, username="wangfang", role="dispatcher", scope="330203101"),
        "other": make_user(session, username="zhaoyi", role="dispatcher", scope="330203102"),
        "cadre": make_user(session, username="lijun", role="village_cadre", scope="330203101201"),
        "handler": make_user(session, username="chen", role="handler", scope="330203101201",
                             org="grid_team-330203101201"),
    }
    session.commit()
    return {k: bearer(session, u) for k, u in users.items()} | {"ids": {k: u.id for k, u in users.items()}}


def report(client, headers, text: str, lon: float = LON, category: str | None = "0101") -> dict:
    r = client.post("/api/v1/events", json={"text": text, "category": category, "lon": lon, "lat": LAT,
                                            "channel": "grid_worker"}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def step(client, headers, code: str, name: str, **body) -> dict:
    r = client.post(f"/api/v1/events/{code}/steps/{name}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def inbox(session, user_id: int) -> list[str]:
    return list(session.scalars(select(Notification.kind).where(Notification.user_id == user_id)
                                .order_by(Notification.id)))


def test_a_duplicate_is_found_merged_and_shares_the_result_with_every_reporter(session, client, hs):
    first = report(client, hs["worker1"], PILE)
    second = report(client, hs["worker2"], "小区门口那堆垃圾还在路边，很臭", lon=LON + 0.0002)
    found = client.get(f"/api/v1/events/{second['code']}/duplicates", headers=hs["dispatcher"]).json()
    assert [c["code"] for c in found["items"]] == [first["code"]] and found["items"][0]["score"] > 0.4

    step(client, hs["dispatcher"], second["code"], "merge", into=first["code"])
    assert inbox(session, hs["ids"]["worker2"]) == ["merged"]

    code = first["code"]
    step(client, hs["dispatcher"], code, "accept")
    step(client, hs["dispatcher"], code, "dispatch")
    step(client, hs["handler"], code, "resolve", result="已清运垃圾并冲洗路面")
    step(client, hs["dispatcher"], code, "verify")
    closed = step(client, hs["dispatcher"], code, "close")
    assert closed["status"] == "closed"

    assert inbox(session, hs["ids"]["worker2"]) == ["merged", "merged_closed"]
    told = session.scalar(select(Notification.message).where(Notification.user_id == hs["ids"]["worker2"],
                                                             Notification.kind == "merged_closed"))
    assert "已清运垃圾并冲洗路面" in told and code in told
    tracked = client.get(f"/api/v1/track/{second['code']}", params={"secret": second["secret"]}).json()
    assert tracked["merged_into"] == code and tracked["result"] == "已清运垃圾并冲洗路面"
    timeline = client.get(f"/api/v1/events/{second['code']}", headers=hs["dispatcher"]).json()["timeline"]
    assert [s["action"] for s in timeline][-1] == "share_result"


def test_a_dispatchers_correction_is_kept_and_exported_for_retraining(session, client, hs, tmp_path):
    done = report(client, hs["worker1"], "晚上十点多工地还在打桩，吵得孩子睡不着", category="0503")
    accepted = step(client, hs["dispatcher"], done["code"], "accept", category="0302")
    assert accepted["category"]["code"] == "0302" and accepted["category_source"] == "corrected"
    row = session.scalar(select(CategoryCorrection))
    assert (row.previous_code, row.previous_source, row.chosen_code) == ("0503", "chosen", "0302")
    path, n = export_corrections(session, tmp_path / "corrections.jsonl")
    assert n == 1 and json.loads(path.read_text(encoding="utf-8")) == {"text": row.text, "code": "0302"}

    other = report(client, hs["worker1"], PILE)
    r = client.post(f"/api/v1/events/{other['code']}/steps/accept", json={"category": "9999"}, headers=hs["dispatcher"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_category"


def test_category_suggestions_for_a_text_and_for_an_event(session, client, hs):
    r = client.post("/api/v1/detect/classify", json={"text": "楼道里好几辆电瓶车在充电，电线从窗户拉进来"},
                    headers=hs["worker1"])
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 3 and items[0]["code"] == "0602" and items[0]["probability"] >= items[1]["probability"]
    for bad in ({"text": "The street lamp is broken"}, {"text": "好" * 2001}, {"text": ""}):
        r = client.post("/api/v1/detect/classify", json=bad, headers=hs["worker1"])
        assert r.status_code == 422 and r.json()["error"]["message_zh"], bad
    done = report(client, hs["worker1"], "路边的垃圾桶满了好几天没人来收，垃圾都堆到马路上了", category=None)
    got = client.get(f"/api/v1/events/{done['code']}/suggestions", headers=hs["dispatcher"]).json()
    assert got["items"][0]["code"] == "0101" and got["source"] == "suggested"
    assert client.get(f"/api/v1/events/{done['code']}/suggestions", headers=hs["other"]).status_code == 404


def test_hotspots_and_alerts_respect_the_reach(session, client, hs):
    for week in range(5):
        done = report(client, hs["worker1"], PILE, lon=LON + week * 0.00005)
        event = session.scalar(select(Event).where(Event.code == done["code"]))
        event.created_at -= timedelta(days=7 * week + 1)
    session.commit()
    got = client.get("/api/v1/detect/hotspots", headers=hs["dispatcher"]).json()
    assert got["region"] == "330203101" and [h["count"] for h in got["items"]] == [5]
    assert client.get("/api/v1/detect/hotspots", params={"region": "330203101"}, headers=hs["other"]).status_code == 404
    assert client.get("/api/v1/detect/hotspots", headers=hs["worker1"]).status_code == 403
    assert client.get("/api/v1/detect/trends", headers=hs["dispatcher"]).json()["items"] == []

    from shanzhi.detect import alerts

    for finding in alerts.findings(session):
        alerts.raise_alert(session, finding)
    session.commit()
    mine = client.get("/api/v1/detect/alerts", headers=hs["dispatcher"]).json()["items"]
    assert [a["kind"] for a in mine] == ["hotspot"] and "5 起" in mine[0]["reason"]
    assert client.get("/api/v1/detect/alerts", headers=hs["other"]).json()["items"] == []
    assert client.post(f"/api/v1/detect/alerts/{mine[0]['id']}/dismiss", headers=hs["other"]).status_code == 404
    assert client.post(f"/api/v1/detect/alerts/{mine[0]['id']}/dismiss", headers=hs["dispatcher"]).json()["dismissed"]
    assert client.get("/api/v1/detect/alerts", headers=hs["dispatcher"]).json()["items"] == []


def test_unit_patterns_show_who_closes_fastest_and_who_returns_work(session, client, hs):
    for _ in range(2):
        code = report(client, hs["worker1"], PILE)["code"]
        step(client, hs["dispatcher"], code, "accept")
        step(client, hs["dispatcher"], code, "dispatch")
    step(client, hs["handler"], code, "return", reason="不属于本单位")
    got = client.get("/api/v1/detect/units", params={"region": "330203101", "category": "01"},
                     headers=hs["dispatcher"]).json()["items"]
    assert [(u["unit_code"], u["dispatched"], u["return_rate"]) for u in got] == [("grid_team-330203101201", 2, 0.5)]
    assert client.get("/api/v1/detect/units", params={"region": "330203101", "category": "01"},
                      headers=hs["other"]).status_code == 404


def test_units_are_ranked_by_their_median_hours_so_one_stuck_case_does_not_sink_a_quick_unit(session, client, hs):
    units = {o.code: o.id for o in session.scalars(select(Organization))}
    # (unit, hours from dispatch to resolution): the team is quick but one case waited 100 h.
    handled = [("grid_team-330203101201", h) for h in (1, 2, 100)] + \
              [("town_office-330203101", h) for h in (5, 5, 6)]
    for unit, hours in handled:
        event = session.scalar(select(Event).where(Event.code == report(client, hs["worker1"], PILE)["code"]))
        event.assigned_org_id = units[unit]
        event.dispatched_at = event.created_at
        event.resolved_at = event.created_at + timedelta(hours=hours)
    session.commit()
    got = client.get("/api/v1/detect/units", params={"region": "330203101", "category": "0101"},
                     headers=hs["dispatcher"]).json()["items"]
    assert [(u["unit_code"], u["closed"], u["median_hours"], u["mean_hours"]) for u in got] == [
        ("grid_team-330203101201", 3, 2.0, 34.3), ("town_office-330203101", 3, 5.0, 5.3)]
