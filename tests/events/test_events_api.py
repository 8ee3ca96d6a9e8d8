"""Events over HTTP: intake with idempotency, every kind of bad input, scoped lists, tracking."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from builders import bearer, lattice_tree, make_units, make_user
from shanzhi.events.models import Event
from shanzhi.geo import coords
from shanzhi.geo import service as geo

REPORT = {"text": "村口垃圾桶满了，垃圾堆到路上", "category": "0101", "lon": 121.31, "lat": 29.81,
          "channel": "grid_worker"}


@pytest.fixture
def hs(session, client):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    worker = make_user(session, username="qianxiao", role="grid_worker", scope="330203101201001001")
    dispatcher = make_user(session, username="wangfang", role="dispatcher", scope="330203101")
    other = make_user(session, username="zhaoyi", role="dispatcher", scope="330203102")
    session.commit()
    return {"worker": bearer(session, worker), "dispatcher": bearer(session, dispatcher),
            "other": bearer(session, other)}


def events(session) -> int:
    return session.scalar(select(func.count()).select_from(Event))


def test_a_grid_worker_reports_and_the_dispatcher_sees_it_with_a_readable_code(client, session, hs):
    r = client.post("/api/v1/events", json=REPORT, headers=hs["worker"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"].startswith("HS-D-") and len(body["secret"]) == 6
    assert body["region_code"] == "330203101201001001" and body["status"] == "reported"
    listed = client.get("/api/v1/events", headers=hs["dispatcher"]).json()
    assert [e["code"] for e in listed["items"]] == [body["code"]]
    assert client.get("/api/v1/events", headers=hs["other"]).json()["total"] == 0
    assert client.get(f"/api/v1/events/{body['code']}", headers=hs["other"]).status_code == 404
    detail = client.get(f"/api/v1/events/{body['code']}", headers=hs["dispatcher"]).json()
    assert [s["action"] for s in detail["timeline"]] == ["report"]


def test_a_retried_submission_with_the_same_key_makes_one_event(client, session, hs):
    headers = {**hs["worker"], "Idempotency-Key": "phone-7f3a-0001"}
    first = client.post("/api/v1/events", json=REPORT, headers=headers)
    again = client.post("/api/v1/events", json=REPORT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["code"] == again.json()["code"] and "secret" not in again.json()
    changed = client.post("/api/v1/events", json={**REPORT, "text": "另一件事：路灯坏了好几天"}, headers=headers)
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "idempotency_mismatch"
    assert events(session) == 1


def test_a_phone_reporting_gcj02_is_located_where_it_really_is(client, hs):
    lon, lat = coords.wgs84_to_gcj02(121.31, 29.81)
    body = client.post("/api/v1/events", json={**REPORT, "lon": lon, "lat": lat, "crs": "gcj02"},
                       headers=hs["worker"]).json()
    assert abs(body["lon"] - 121.31) < 1e-5 and body["region_code"] == "330203101201001001"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"category": "9999"}, 422, "unknown_category"),
        ({"lon": 116.4, "lat": 39.9}, 422, "outside_jurisdiction"),
        ({"lon": 200}, 422, "invalid_input"),
        ({"text": "短"}, 422, "invalid_text"),
        ({"text": ""}, 422, "invalid_input"),
        ({"lon": None, "lat": None}, 422, "location_required"),
        ({"lat": None}, 422, "invalid_coordinates"),
        ({"urgency": "panic"}, 422, "invalid_urgency"),
        ({"channel": "pigeon"}, 422, "unknown_channel"),
        ({"crs": "mars"}, 422, "unknown_crs"),
        ({"region": "999999999", "lon": None, "lat": None}, 404, "region_not_found"),
        ({"text": "字" * 2001}, 422, "invalid_input"),
    ],
)
def test_bad_reports_are_refused_clearly_and_write_nothing(client, session, hs, change, status, code):
    r = client.post("/api/v1/events", json={**REPORT, **change}, headers=hs["worker"])
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message_zh"]
    assert events(session) == 0


def test_a_grid_worker_cannot_report_outside_his_grid_scope(client, session, hs):
    r = client.post("/api/v1/events", json={**REPORT, "lon": 121.45, "lat": 29.85}, headers=hs["worker"])
    assert r.status_code == 404 and events(session) == 0


def test_steps_over_http_answer_409_for_the_wrong_state_and_a_stale_version(client, hs):
    code = client.post("/api/v1/events", json=REPORT, headers=hs["worker"]).json()["code"]
    url = f"/api/v1/events/{code}/steps"
    accepted = client.post(f"{url}/accept", json={}, headers=hs["dispatcher"])
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert accepted.json()["due_at"] and accepted.json()["deadline_state"] == "normal"
    again = client.post(f"{url}/accept", json={}, headers=hs["dispatcher"])
    assert again.status_code == 409 and "不能执行「受理」" in again.json()["error"]["message_zh"]
    stale = client.post(f"{url}/dispatch", json={"version": 1}, headers=hs["dispatcher"])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    unknown = client.post(f"{url}/teleport", json={}, headers=hs["dispatcher"])
    assert unknown.status_code == 422
    assert client.post(f"{url}/dispatch", json={}, headers=hs["worker"]).status_code == 403


def test_a_resident_follows_the_event_by_code_and_secret_and_rates_it_once_closed(client, session, hs):
    body = client.post("/api/v1/events", json=REPORT, headers=hs["worker"]).json()
    code, secret = body["code"], body["secret"]
    assert client.get(f"/api/v1/track/{code}", params={"secret": "WRONG1"}).status_code == 404
    tracked = client.get(f"/api/v1/track/{code}", params={"secret": secret.lower()}).json()
    assert tracked["status_label"] == "待受理" and "reporter_name" not in tracked
    assert all(set(s) == {"at", "action", "label", "to_status", "note"} for s in tracked["timeline"])
    early = client.post(f"/api/v1/track/{code}/rating", json={"secret": secret, "rating": 5})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_closed"
    for step, payload in (("accept", {}), ("dispatch", {}), ("resolve", {"result": "已清运"}), ("verify", {}),
                          ("close", {})):
        assert client.post(f"/api/v1/events/{code}/steps/{step}", json=payload,
                           headers=hs["dispatcher"] if step != "resolve" else hs["worker"]).status_code == 200, step
    rated = client.post(f"/api/v1/track/{code}/rating", json={"secret": secret, "rating": 4, "comment": "处理及时"})
    assert rated.status_code == 200 and rated.json()["rating"] == 4 and rated.json()["result"] == "已清运"
    twice = client.post(f"/api/v1/track/{code}/rating", json={"secret": secret, "rating": 1})
    assert twice.status_code == 409
    assert client.post(f"/api/v1/track/{code}/rating", json={"secret": secret, "rating": 9}).status_code == 422


def test_event_codes_use_the_letters_the_policy_names_before_pinyin():
    from shanzhi.events.codes import initials, letters

    assert initials("古林镇") == "GL" and initials("鼓楼街道") == "GL"  # the clash policy resolves
    assert letters("330203002", "鼓楼街道") == "GLJ" and letters("330203103", "古林镇") == "GL"
    assert letters("330203001", "江厦街道") == "JX" and letters("330203", "海曙区") == "HS"
