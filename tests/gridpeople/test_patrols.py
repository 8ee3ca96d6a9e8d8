"""Patrol and visit logs: located like events, append-only and audited; a finding becomes an event
in one step, once; bad input and out-of-reach places are refused and leave nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from builders import bearer, make_user
from gp_builders import G111, M1111, V11, V21, add_person
from sqlalchemy import func, select

from shanzhi.audit.models import AuditEntry
from shanzhi.events.models import Event
from shanzhi.gridpeople.models import PatrolLog

INSIDE = {"lon": 121.31, "lat": 29.81}  # in M1111, grid G111 of V11
FOUND = "河道边有人倾倒建筑垃圾，约两车，气味较大"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def actions(session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_a_grid_worker_logs_a_patrol_located_to_her_micro_grid(client, session, lattice):
    r = client.post("/api/v1/patrols", json={"text": "巡查正常，未发现问题", **INSIDE}, headers=lattice["h"]["worker"])
    assert r.status_code == 201, r.text
    log = r.json()
    assert log["person"]["name"] == "钱晓" and log["kind_label"] == "巡查"
    assert log["region"]["code"] == M1111 and log["event"] is None
    stored = session.get(PatrolLog, log["id"])
    assert (stored.village_code, stored.town_code, stored.logged_by) == (V11, V11[:9], lattice["worker"].id)
    assert actions(session)[-1] == "patrol.log"
    # Visits may be placed by a region code instead of a point, and entered a few days late.
    at = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    r = client.post("/api/v1/patrols", json={"text": "走访独居老人，身体尚好", "kind": "visit", "region": G111,
                                             "at": at.isoformat()}, headers=lattice["h"]["worker"])
    assert r.status_code == 201 and r.json()["region"]["code"] == G111 and r.json()["at"] == at.isoformat()
    listed = client.get(f"/api/v1/patrols?region={V11}", headers=lattice["h"]["cadre"]).json()
    assert [p["kind"] for p in listed["items"]] == ["patrol", "visit"] and listed["total"] == 2
    assert client.get("/api/v1/patrols?kind=visit", headers=lattice["h"]["cadre"]).json()["total"] == 1
    assert client.get(f"/api/v1/patrols?region={V21}", headers=lattice["h"]["cadre2"]).json()["total"] == 0
    assert client.get(f"/api/v1/patrols/{log['id']}", headers=lattice["h"]["cadre2"]).status_code == 404


def test_a_finding_becomes_an_event_in_the_same_step(client, session, lattice):
    events_before = count(session, Event)
    r = client.post("/api/v1/patrols", json={"text": FOUND, "category": "0101", "report_event": True, **INSIDE},
                    headers=lattice["h"]["worker"])
    assert r.status_code == 201, r.text
    log = r.json()
    assert log["category"] == {"code": "0101", "name": "暴露垃圾/垃圾堆放"}
    code = log["event"]["code"]
    event = client.get(f"/api/v1/events/{code}", headers=lattice["h"]["worker"]).json()
    assert event["channel"] == "grid_worker" and event["text"] == FOUND
    assert event["category"]["code"] == "0101" and event["region_code"] == M1111
    stored = session.scalar(select(Event).where(Event.code == code))
    assert stored.reporter_name == "钱晓" and stored.reporter_id == lattice["worker"].id
    assert session.get(PatrolLog, log["id"]).event_id == stored.id
    assert count(session, Event) == events_before + 1
    assert actions(session)[-1] == "patrol.to_event"
    reported = client.get("/api/v1/patrols?reported=true", headers=lattice["h"]["cadre"]).json()
    assert [p["event"]["code"] for p in reported["items"]] == [code]


def test_a_retried_post_logs_once_and_reports_once(client, session, lattice):
    logs, events, audits = count(session, PatrolLog), count(session, Event), len(actions(session))
    body = {"text": FOUND, "category": "0101", "report_event": True, **INSIDE}
    headers = {**lattice["h"]["worker"], "Idempotency-Key": "phone-7f3a"}
    first = client.post("/api/v1/patrols", json=body, headers=headers)
    again = client.post("/api/v1/patrols", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["event"] == first.json()["event"]
    assert (count(session, PatrolLog), count(session, Event)) == (logs + 1, events + 1)
    assert actions(session)[audits:] == ["patrol.log", "event.report", "patrol.to_event"]
    # The key in the body works the same; reusing it for another finding is refused, not merged.
    assert client.post("/api/v1/patrols", json={**body, "idempotency_key": "phone-7f3a"},
                       headers=lattice["h"]["worker"]).json()["id"] == first.json()["id"]
    other = client.post("/api/v1/patrols", json={**body, "text": "另一处发现：路灯不亮"}, headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_mismatch"
    # Keys are per account: another worker's identical key is a new log of hers.
    colleague = make_user(session, role="grid_worker", scope=G111, username="sun-worker")
    add_person(session, "孙丽", V11, ("grid_worker", G111), user_id=colleague.id)
    session.commit()
    mine = client.post("/api/v1/patrols", json={"text": "巡查正常，未发现问题", **INSIDE},
                       headers={**bearer(session, colleague), "Idempotency-Key": "phone-7f3a"})
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]
    assert count(session, PatrolLog) == logs + 2


def test_a_cadre_turns_a_logged_finding_into_an_event_once(client, session, lattice):
    log = client.post("/api/v1/patrols", json={"text": FOUND, **INSIDE}, headers=lattice["h"]["worker"]).json()
    url = f"/api/v1/patrols/{log['id']}/event"
    assert client.post(url, json={}, headers=lattice["h"]["cadre2"]).status_code == 404
    assert client.post(url, json={"category": "9999"}, headers=lattice["h"]["cadre"]).status_code == 422
    r = client.post(url, json={"category": "0101", "urgency": "urgent"}, headers=lattice["h"]["cadre"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["event"]["urgency"] == "urgent" and body["patrol"]["event"]["code"] == body["event"]["code"]
    # The log itself is not rewritten: its own (absent) category stays.
    assert body["patrol"]["category"] is None
    again = client.post(url, json={}, headers=lattice["h"]["cadre"])
    assert again.status_code == 409 and again.json()["error"]["details"] == {"event": body["event"]["code"]}
    assert session.scalar(select(func.count()).select_from(Event).where(Event.channel == "grid_worker")) == 1


def test_a_failed_event_leaves_no_log_behind(client, session, lattice):
    logs, events = count(session, PatrolLog), count(session, Event)
    # Two characters make a log but not an event (intake wants five): the whole step is refused.
    r = client.post("/api/v1/patrols", json={"text": "积水", "report_event": True, **INSIDE},
                    headers=lattice["h"]["worker"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_text"
    r = client.post("/api/v1/patrols", json={"text": FOUND, "report_event": True, "urgency": "now", **INSIDE},
                    headers=lattice["h"]["worker"])
    assert r.status_code == 422
    assert (count(session, PatrolLog), count(session, Event)) == (logs, events)


def test_a_cadre_types_up_a_volunteers_paper_log_but_a_worker_cannot_log_for_others(client, session, lattice):
    volunteer = add_person(session, "老周", V11, ("liaison", G111))
    session.commit()
    h = lattice["h"]["cadre"]
    unlinked = client.post("/api/v1/patrols", json={"text": FOUND, **INSIDE}, headers=h)
    assert unlinked.status_code == 422 and unlinked.json()["error"]["code"] == "person_required"
    r = client.post("/api/v1/patrols", json={"text": FOUND, "person_id": volunteer.id, **INSIDE}, headers=h)
    assert r.status_code == 201 and r.json()["person"]["name"] == "老周" and r.json()["logged_by"] == lattice["cadre"].id
    worker = lattice["h"]["worker"]
    assert client.post("/api/v1/patrols", json={"text": FOUND, "person_id": volunteer.id, **INSIDE},
                       headers=worker).status_code == 403


def test_a_person_without_a_current_role_cannot_log(client, session, lattice):
    pid = lattice["worker_person"].id
    aid = client.get(f"/api/v1/grid-people/{pid}", headers=lattice["h"]["cadre"]).json()["assignments"][0]["id"]
    assert client.post(f"/api/v1/grid-people/{pid}/assignments/{aid}/end", json={},
                       headers=lattice["h"]["cadre"]).status_code == 200
    r = client.post("/api/v1/patrols", json={"text": FOUND, **INSIDE}, headers=lattice["h"]["worker"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_serving"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"text": FOUND, "kind": "fishing", **INSIDE}, 422, "unknown_kind"),
    ({"text": " ", **INSIDE}, 422, "invalid_text"),
    ({"text": FOUND, "category": "0000", **INSIDE}, 422, "unknown_category"),
    ({"text": FOUND, "lon": 121.31}, 422, "invalid_coordinates"),
    ({"text": FOUND}, 422, "location_required"),
    ({"text": FOUND, "lon": 120.0, "lat": 29.0}, 422, "outside_jurisdiction"),
    ({"text": FOUND, "region": "330203101299"}, 404, "region_not_found"),
    ({"text": FOUND, "lon": 121.45, "lat": 29.81}, 404, "not_found"),  # the other town: out of her reach
    ({"text": FOUND, "at": "2099-01-01T08:00:00+08:00", **INSIDE}, 422, "invalid_time"),
    ({"text": FOUND, "at": "2020-01-01T08:00:00", **INSIDE}, 422, "invalid_time"),
    ({"text": FOUND, "at": "yesterday", **INSIDE}, 422, "invalid_input"),
    ({"text": FOUND, "lat": 95, "lon": 121.31}, 422, "invalid_input"),
    ({"text": FOUND, "weather": "晴", **INSIDE}, 422, "invalid_input"),
])
def test_bad_input_is_refused_and_nothing_is_logged(client, session, lattice, body, status, code):
    r = client.post("/api/v1/patrols", json=body, headers=lattice["h"]["worker"])
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and error["message_zh"]
    assert count(session, PatrolLog) == 0


def test_only_patrolling_roles_log_and_logs_cannot_be_edited(client, session, lattice):
    r = client.post("/api/v1/patrols", json={"text": FOUND, "person_id": lattice["worker_person"].id, **INSIDE},
                    headers=lattice["h"]["leader"])
    assert r.status_code == 403
    log = client.post("/api/v1/patrols", json={"text": FOUND, **INSIDE}, headers=lattice["h"]["worker"]).json()
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"/api/v1/patrols/{log['id']}", headers=lattice["h"]["cadre"]).status_code == 405
    backwards = "/api/v1/patrols?start=2026-02-01&end=2026-01-01"
    assert client.get(backwards, headers=lattice["h"]["cadre"]).status_code == 422
    assert client.get("/api/v1/patrols?size=0", headers=lattice["h"]["cadre"]).status_code == 422
