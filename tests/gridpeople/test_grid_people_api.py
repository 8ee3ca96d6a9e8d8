"""Grid people over HTTP: recording them, their phones (encrypted, masked, revealed only with a
permission and a reason, audited), their assignments over time, and bad input."""

from __future__ import annotations

import json

import pytest
from gp_builders import G111, M1111, TOWN1, V11, V21, WORKER_PHONE, add_person, days_ago
from sqlalchemy import select

from shanzhi.audit.models import AuditEntry
from shanzhi.gridpeople.models import GridAssignment, GridPerson


def audit_rows(session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


def test_a_cadre_records_a_person_whose_phone_is_stored_encrypted_and_shown_masked(client, session, lattice):
    body = {"name": "李桂芳", "home_region": V11, "phone": "13812345678", "org_code": f"village_mediation-{V11}"}
    r = client.post("/api/v1/grid-people", json=body, headers=lattice["h"]["cadre"])
    assert r.status_code == 201, r.text
    person = r.json()
    assert person["phone"] == "138****5678"
    assert person["home_region"]["code"] == V11
    assert person["organization"]["kind"] == "village_mediation"
    stored = session.get(GridPerson, person["id"])
    assert b"13812345678" not in stored.phone_encrypted and b"5678" not in stored.phone_encrypted
    listed = client.get(f"/api/v1/grid-people?region={V11}", headers=lattice["h"]["cadre"]).json()
    assert {p["name"]: p["phone"] for p in listed["items"]} == {"钱晓": "139****1234", "李桂芳": "138****5678"}
    assert "13812345678" not in json.dumps(listed) and "13812345678" not in json.dumps(
        [json.loads(e.summary) for e in audit_rows(session, "gridpeople.create")])


def test_reveal_needs_the_permission_and_a_reason_and_leaves_an_audit_row(client, session, lattice):
    pid = lattice["worker_person"].id
    url = f"/api/v1/grid-people/{pid}/reveal-phone"
    reason = {"reason": "核实巡查上报的垃圾堆放情况"}
    # The district leader reads grid people but may not reveal phones: 403, and the denial is recorded.
    assert client.get(f"/api/v1/grid-people/{pid}", headers=lattice["h"]["leader"]).json()["phone"] == "139****1234"
    r = client.post(url, json=reason, headers=lattice["h"]["leader"])
    assert r.status_code == 403 and r.json()["error"]["message_zh"]
    assert [e.outcome for e in audit_rows(session, "person.reveal")] == ["denied"]
    # The grid worker herself holds no person.reveal either; another town's cadre cannot even see her.
    assert client.post(url, json=reason, headers=lattice["h"]["worker"]).status_code == 403
    assert client.post(url, json=reason, headers=lattice["h"]["cadre2"]).status_code == 404
    # Her own cadre may, but only saying why.
    assert client.post(url, json={}, headers=lattice["h"]["cadre"]).status_code == 422
    assert client.post(url, json={"reason": " "}, headers=lattice["h"]["cadre"]).status_code == 422
    r = client.post(url, json=reason, headers=lattice["h"]["cadre"])
    assert r.status_code == 200 and r.json() == {"phone": WORKER_PHONE}
    allowed = [e for e in audit_rows(session, "person.reveal") if e.outcome == "allowed"]
    assert len(allowed) == 1
    entry = allowed[0]
    assert entry.actor_id == lattice["cadre"].id and entry.target_id == str(pid) and entry.region_code == V11
    assert json.loads(entry.summary)["detail"] == {"field": "phone", "reason": "核实巡查上报的垃圾堆放情况"}


def test_an_ended_assignment_stays_in_the_history_and_frees_the_grid_for_a_successor(client, session, lattice):
    h = lattice["h"]["cadre"]
    first = client.post("/api/v1/grid-people", json={"name": "周建国", "home_region": V11}, headers=h).json()
    second = client.post("/api/v1/grid-people", json={"name": "俞海燕", "home_region": V11}, headers=h).json()
    start = days_ago(400).isoformat()
    r = client.post(f"/api/v1/grid-people/{first['id']}/assignments",
                    json={"role": "grid_leader", "region": G111, "start_date": start}, headers=h)
    assert r.status_code == 201, r.text
    aid = r.json()["assignments"][0]["id"]
    # Asking again is not a second assignment.
    again = client.post(f"/api/v1/grid-people/{first['id']}/assignments",
                        json={"role": "grid_leader", "region": G111}, headers=h)
    assert again.status_code == 200 and len(again.json()["assignments"]) == 1
    # A grid has one 网格长: the successor waits until the first one's term is ended.
    taken = client.post(f"/api/v1/grid-people/{second['id']}/assignments",
                        json={"role": "grid_leader", "region": G111}, headers=h)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "role_taken" and "周建国" in taken.json()["error"]["message_zh"]
    end = days_ago(30).isoformat()
    ended = client.post(f"/api/v1/grid-people/{first['id']}/assignments/{aid}/end",
                        json={"end_date": end, "reason": "调任镇平安办"}, headers=h)
    assert ended.status_code == 200, ended.text
    assert client.post(f"/api/v1/grid-people/{first['id']}/assignments/{aid}/end", json={},
                       headers=h).json()["error"]["code"] == "already_ended"
    assert client.post(f"/api/v1/grid-people/{second['id']}/assignments",
                       json={"role": "grid_leader", "region": G111, "start_date": days_ago(29).isoformat()},
                       headers=h).status_code == 201
    history = client.get(f"/api/v1/grid-people/{first['id']}", headers=h).json()["assignments"]
    assert [(a["role_label"], a["region"]["code"], a["start_date"], a["end_date"], a["end_reason"], a["current"])
            for a in history] == [("网格长", G111, start, end, "调任镇平安办", False)]
    assert session.scalar(select(GridAssignment).where(GridAssignment.id == aid)).end_date.isoformat() == end
    roster = client.get(f"/api/v1/grid-people/roster?region={G111}", headers=h).json()
    leaders = next(r for r in roster["roles"] if r["role"] == "grid_leader")["people"]
    assert [p["person"]["name"] for p in leaders] == ["俞海燕"]
    # The current list shows 周建国 only through his home village; with former roles, both terms show.
    current = client.get(f"/api/v1/grid-people?region={G111}&role=grid_leader", headers=h).json()
    assert [p["name"] for p in current["items"]] == ["俞海燕"]
    former = client.get(f"/api/v1/grid-people?region={G111}&role=grid_leader&include_former=true", headers=h).json()
    assert sorted(p["name"] for p in former["items"]) == ["俞海燕", "周建国"]
    assert [e.action for e in audit_rows(session, "gridpeople.unassign")] == ["gridpeople.unassign"]


def test_a_role_is_handed_over_in_one_step_and_a_refused_handover_changes_nothing(client, session, lattice):
    h = lattice["h"]["cadre"]
    first = client.post("/api/v1/grid-people", json={"name": "周建国", "home_region": V11}, headers=h).json()
    second = client.post("/api/v1/grid-people", json={"name": "俞海燕", "home_region": V11}, headers=h).json()
    aid = client.post(f"/api/v1/grid-people/{first['id']}/assignments",
                      json={"role": "grid_leader", "region": G111, "start_date": days_ago(400).isoformat()},
                      headers=h).json()["assignments"][0]["id"]
    # Someone beyond the cadre's reach cannot take over: the old term stays open.
    outsider = add_person(session, "郑远", V21)
    session.commit()
    refused = client.post(f"/api/v1/grid-assignments/{aid}/hand-over", json={"successor_id": outsider.id},
                          headers=h)
    assert refused.status_code == 404
    assert session.get(GridAssignment, aid).end_date is None
    same = client.post(f"/api/v1/grid-assignments/{aid}/hand-over", json={"successor_id": first["id"]}, headers=h)
    assert same.status_code == 422 and same.json()["error"]["code"] == "same_person"
    day = days_ago(3).isoformat()
    done = client.post(f"/api/v1/grid-assignments/{aid}/hand-over", json={"successor_id": second["id"], "on": day},
                       headers=h)
    assert done.status_code == 201, done.text
    assert [(a["role_label"], a["region"]["code"], a["start_date"], a["current"])
            for a in done.json()["assignments"]] == [("网格长", G111, day, True)]
    old = session.get(GridAssignment, aid)
    session.refresh(old)
    assert (old.end_date.isoformat(), old.end_reason) == (day, "交接给俞海燕")
    roster = client.get(f"/api/v1/grid-people/roster?region={G111}", headers=h).json()
    leaders = next(r for r in roster["roles"] if r["role"] == "grid_leader")["people"]
    assert [p["person"]["name"] for p in leaders] == ["俞海燕"]
    assert client.post(f"/api/v1/grid-assignments/{aid}/hand-over", json={"successor_id": second["id"]},
                       headers=h).json()["error"]["code"] == "already_ended"


def test_a_cadre_assigns_only_inside_her_village_and_at_the_levels_the_policy_allows(client, session, lattice):
    h = lattice["h"]["cadre"]
    pid = client.post("/api/v1/grid-people", json={"name": "孙丽", "home_region": V11}, headers=h).json()["id"]
    url = f"/api/v1/grid-people/{pid}/assignments"
    wrong_level = client.post(url, json={"role": "grid_leader", "region": M1111}, headers=h)
    assert wrong_level.status_code == 422 and wrong_level.json()["error"]["code"] == "wrong_level"
    assert client.post(url, json={"role": "mediator", "region": G111}, headers=h).status_code == 422
    unknown = client.post(url, json={"role": "captain", "region": G111}, headers=h)
    assert unknown.json()["error"]["code"] == "unknown_role"
    assert client.post(url, json={"role": "liaison", "region": V21 + "001"}, headers=h).status_code == 404
    assert client.post(url, json={"role": "liaison", "region": "330203101299"}, headers=h).status_code == 404
    future = client.post(url, json={"role": "liaison", "region": G111, "start_date": days_ago(-3).isoformat()},
                         headers=h)
    assert future.status_code == 422 and future.json()["error"]["code"] == "invalid_date"
    # A town's mediator is named by the town, not by a village cadre.
    assert client.post(url, json={"role": "mediator", "region": TOWN1}, headers=h).status_code == 404
    r = client.post(url, json={"role": "mediator", "region": TOWN1}, headers=lattice["h"]["dispatcher"])
    assert r.status_code == 201 and r.json()["assignments"][0]["region"]["level"] == "town"
    # Nothing of the refused attempts was written.
    assert session.scalar(select(GridAssignment.role).where(GridAssignment.person_id == pid)) == "mediator"


def test_ending_checks_its_date_and_the_assigners_reach(client, session, lattice):
    person = add_person(session, "徐志强", V11, ("liaison", G111), since=10)
    session.commit()
    aid = session.scalar(select(GridAssignment.id).where(GridAssignment.person_id == person.id))
    url = f"/api/v1/grid-people/{person.id}/assignments/{aid}/end"
    h = lattice["h"]["cadre"]
    assert client.post(url, json={"end_date": days_ago(11).isoformat()}, headers=h).status_code == 422
    assert client.post(url, json={"end_date": days_ago(-1).isoformat()}, headers=h).status_code == 422
    assert client.post(url, json={}, headers=lattice["h"]["cadre2"]).status_code == 404
    assert client.post(url, json={}, headers=lattice["h"]["leader"]).status_code == 403
    assert client.post(f"/api/v1/grid-people/{person.id}/assignments/999999/end", json={}, headers=h).status_code == 404
    r = client.post(url, json={}, headers=h)
    assert r.status_code == 200 and r.json()["assignments"][0]["end_date"] == days_ago(0).isoformat()


def test_linking_an_account_and_editing_with_a_stale_version(client, session, lattice):
    h = lattice["h"]["cadre"]
    person = client.post("/api/v1/grid-people", json={"name": "毛雪梅", "home_region": V11}, headers=h).json()
    url = f"/api/v1/grid-people/{person['id']}"
    # 钱晓's account is linked to her own record already.
    taken = client.patch(url, json={"user_id": lattice["worker"].id}, headers=h)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "user_linked"
    # An account in another town is out of reach.
    assert client.patch(url, json={"user_id": lattice["cadre2"].id}, headers=h).status_code == 404
    r = client.patch(url, json={"phone": "0574-87654321", "version": person["version"]}, headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "057******4321"
    stale = client.patch(url, json={"name": "毛雪", "version": person["version"]}, headers=h)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    cleared = client.patch(url, json={"phone": None}, headers=h).json()
    assert cleared["phone"] is None and cleared["name"] == "毛雪梅"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"home_region": V11}, 422, "invalid_input"),
    ({"name": "", "home_region": V11}, 422, "invalid_input"),
    ({"name": "   ", "home_region": V11}, 422, "invalid_name"),
    ({"name": "张三", "home_region": V11, "phone": "12345"}, 422, "invalid_phone"),
    ({"name": "张三", "home_region": "abc"}, 422, "invalid_input"),
    ({"name": "张三", "home_region": V11, "nickname": "三哥"}, 422, "invalid_input"),
    ({"name": "张三", "home_region": V11, "org_code": "no-such-org"}, 404, "org_not_found"),
    ({"name": "张三", "home_region": V21}, 404, "not_found"),
    ({"name": "张三", "home_region": "330203101299"}, 404, "region_not_found"),
])
def test_bad_input_is_refused_with_a_message_in_both_languages_and_nothing_is_written(
    client, session, lattice, body, status, code,
):
    before = session.scalar(select(GridPerson.id).order_by(GridPerson.id.desc()).limit(1))
    r = client.post("/api/v1/grid-people", json=body, headers=lattice["h"]["cadre"])
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and error["message_zh"]
    assert session.scalar(select(GridPerson.id).order_by(GridPerson.id.desc()).limit(1)) == before


def test_lists_are_scoped_paged_and_refuse_bad_paging(client, session, lattice):
    add_person(session, "郑红", V21, ("liaison", V21))
    session.commit()
    mine = client.get("/api/v1/grid-people", headers=lattice["h"]["cadre"]).json()
    assert [p["name"] for p in mine["items"]] == ["钱晓"] and mine["total"] == 1
    everyone = client.get("/api/v1/grid-people?size=1", headers=lattice["h"]["leader"]).json()
    assert everyone["total"] == 2 and len(everyone["items"]) == 1
    assert client.get("/api/v1/grid-people?size=501", headers=lattice["h"]["leader"]).status_code == 422
    assert client.get(f"/api/v1/grid-people?region={V21}", headers=lattice["h"]["cadre"]).status_code == 404
    assert client.get("/api/v1/grid-people?role=boss", headers=lattice["h"]["cadre"]).status_code == 422
    assert client.get("/api/v1/grid-people/999999", headers=lattice["h"]["cadre"]).status_code == 404
    assert client.get("/api/v1/grid-people").status_code == 401
