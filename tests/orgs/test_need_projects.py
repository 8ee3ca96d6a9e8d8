"""The lists end to end: a village raises a need (or an event becomes one), a coordinator
confirms a match, the owning unit runs the project and reports the outcome, and the need is met."""

from __future__ import annotations

from sqlalchemy import select

from builders import make_event
from orgs_world import V1, V3, make_org
from shanzhi.audit.models import AuditEntry
from shanzhi.orgs.list_models import Need


def hospital_resource(client, world, **over):
    body = {"org": "HS-RMYY", "kind": "medical", "title": "专家巡回义诊", "capacity": 12, "unit": "场",
            "available_from": "2024-01-01", "available_until": "2099-12-31", **over}
    return client.post("/api/v1/resources", json=body, headers=world.headers["hospital"])


def test_a_need_becomes_a_project_and_its_outcome_meets_the_need(client, world):
    r = hospital_resource(client, world)
    assert r.status_code == 201, r.text  # the alliance unit publishes for its own organization
    res = r.json()["code"]
    r = client.post("/api/v1/needs", json={"kind": "medical", "title": "留守老人慢病随访", "region": V1,
                                           "requester": "village", "quantity": 4, "urgency": "high"},
                    headers=world.headers["cadre"])
    assert r.status_code == 201, r.text
    need = r.json()
    assert (need["status"], need["urgency_label"], need["flagged"]) == ("open", "较急", False)

    proposals = client.get(f"/api/v1/needs/{need['code']}/proposals", headers=world.headers["dispatcher"]).json()
    assert proposals["items"][0]["resource"]["code"] == res
    # A cadre may raise needs but not confirm matches.
    body = {"resources": [{"code": res, "quantity": 4}], "owner_name": "王主任",
            "milestones": [{"title": "首次义诊", "due_on": "2099-01-15"}]}
    assert client.post(f"/api/v1/needs/{need['code']}/match", json=body,
                       headers=world.headers["cadre"]).status_code == 403
    too_much = client.post(f"/api/v1/needs/{need['code']}/match",
                           json={**body, "resources": [{"code": res, "quantity": 13}]}, headers=world.headers["dispatcher"])
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "capacity_exceeded"
    r = client.post(f"/api/v1/needs/{need['code']}/match", json=body, headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    project = r.json()
    assert (project["status"], project["owner"]["code"], project["resources"][0]["quantity"]) == ("planned", "HS-RMYY", 4)
    again = client.post(f"/api/v1/needs/{need['code']}/match", json=body, headers=world.headers["dispatcher"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "need_not_open"
    assert client.get(f"/api/v1/resources/{res}", headers=world.headers["cadre"]).json()["remaining"] == 8

    # The owning unit (reach: its own projects) runs it.
    h = world.headers["hospital"]
    code = project["code"]
    assert client.post(f"/api/v1/projects/{code}/start", json={"started_on": "2026-01-05"}, headers=h).status_code == 200
    milestone = project["milestones"][0]["id"]
    assert client.post(f"/api/v1/projects/{code}/milestones/{milestone}/done", headers=h).status_code == 200
    r = client.post(f"/api/v1/projects/{code}/notes", json={"text": "已完成 2 场义诊，随访 31 人", "progress": 50}, headers=h)
    assert r.status_code == 201 and r.json()["notes"][0]["progress"] == 50
    done = client.post(f"/api/v1/projects/{code}/complete",
                       json={"outcome": "建立慢病随访档案 62 份", "beneficiaries": 62, "beneficiaries_note": "留守老人"},
                       headers=h)
    assert done.status_code == 200, done.text
    assert client.post(f"/api/v1/projects/{code}/complete", json={"outcome": "再次完成"}, headers=h).status_code == 409
    rated = client.post(f"/api/v1/projects/{code}/rate", json={"rating": 5}, headers=world.headers["cadre"])
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    met = client.get(f"/api/v1/needs/{need['code']}", headers=world.headers["cadre"]).json()
    assert met["status"] == "met" and met["met_at"] is not None and met["matched_at"] is not None
    actions = [e.action for e in world.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "project")
                                                       .order_by(AuditEntry.seq))]
    assert actions == ["match.confirm", "project.start", "project.milestone_done", "project.note", "project.complete",
                       "project.rate"]


def test_cancelling_the_only_project_opens_the_need_again_and_frees_the_capacity(client, world):
    res = hospital_resource(client, world, capacity=2).json()["code"]
    need = client.post("/api/v1/needs", json={"kind": "medical", "title": "义诊", "region": V1},
                       headers=world.headers["cadre"]).json()["code"]
    project = client.post(f"/api/v1/needs/{need}/match", json={"resources": [{"code": res, "quantity": 2}]},
                          headers=world.headers["dispatcher"]).json()["code"]
    assert client.get(f"/api/v1/needs/{need}", headers=world.headers["cadre"]).json()["status"] == "matched"
    r = client.post(f"/api/v1/projects/{project}/cancel", json={"reason": "医院排班冲突"}, headers=world.headers["dispatcher"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = client.get(f"/api/v1/needs/{need}", headers=world.headers["cadre"]).json()
    assert (again["status"], again["matched_at"]) == ("open", None)
    assert client.get(f"/api/v1/resources/{res}", headers=world.headers["cadre"]).json()["remaining"] == 2


def test_a_unit_publishes_only_its_own_resources_and_a_cadre_raises_needs_only_at_home(client, world):
    make_org(world.session, "QY-1", region=V1)
    assert hospital_resource(client, world, org="QY-1").status_code == 403  # in the directory, not its own
    r = client.post("/api/v1/needs", json={"kind": "medical", "title": "义诊", "region": V3},
                    headers=world.headers["cadre"])
    assert r.status_code == 404
    bad = client.post("/api/v1/needs", json={"kind": "medical", "title": "义诊", "region": V1, "requester": "grid"},
                      headers=world.headers["cadre"])
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "wrong_level"  # a grid's need sits at a grid
    assert world.session.scalar(select(Need.id)) is None


def test_an_employment_event_becomes_an_employment_need_in_one_step(client, world):
    submitted = make_event(world.session, actor=world.cadre, text="村里返乡青年小王想找工作，希望推荐岗位",
                           category="1004", lon=121.32, lat=29.81)
    event = submitted.event
    r = client.post("/api/v1/needs/from-event", json={"event": event.code, "quantity": 1},
                    headers=world.headers["cadre"])
    assert r.status_code == 201, r.text
    need = r.json()
    assert (need["kind"], need["event"], need["region"]["code"]) == ("employment", event.code, event.region_code)
    assert need["title"].startswith("就业需求：") and need["position"] == [121.32, 29.81]
    twice = client.post("/api/v1/needs/from-event", json={"event": event.code}, headers=world.headers["cadre"])
    assert twice.status_code == 409 and event.code in twice.json()["error"]["message_zh"]

    litter = make_event(world.session, actor=world.cadre, category="0101", lon=121.32, lat=29.81).event
    r = client.post("/api/v1/needs/from-event", json={"event": litter.code}, headers=world.headers["cadre"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "kind_required"
    r = client.post("/api/v1/needs/from-event", json={"event": litter.code, "kind": "volunteers"},
                    headers=world.headers["cadre"])
    assert r.status_code == 201
    # Someone who cannot read the event cannot turn it into a need.
    assert client.post("/api/v1/needs/from-event", json={"event": event.code},
                       headers=world.headers["cadre2"]).status_code == 404


def test_a_need_unmatched_past_the_policy_days_is_flagged(client, world):
    from datetime import timedelta

    from shanzhi.db import utcnow

    codes = [client.post("/api/v1/needs", json={"kind": "funding", "title": t, "region": V1},
                         headers=world.headers["cadre"]).json()["code"] for t in ("路灯改造资金", "新需求")]
    old = world.session.get(Need, int(codes[0][2:]))
    old.raised_at = utcnow() - timedelta(days=15)  # policy: flagged after 14 days without a match
    world.session.flush()
    flagged = client.get("/api/v1/needs", params={"flagged": "true"}, headers=world.headers["cadre"]).json()
    assert [n["code"] for n in flagged["items"]] == [codes[0]] and flagged["items"][0]["days_open"] == 15
    closed = client.post(f"/api/v1/needs/{codes[0]}/close", json={"reason": "村集体自筹解决"}, headers=world.headers["cadre"])
    assert closed.status_code == 200 and closed.json()["flagged"] is False
