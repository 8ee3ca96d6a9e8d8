"""The registry over HTTP: buildings and units in the grid worker's reach, tenancies registered and
ended (never deleted), personal data encrypted at rest and masked in every answer, history."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, inspect, select, text

from housing_helpers import IN_MG2, IN_OTHER_TOWN, MG1, building_body, make_id, tenant_body
from shanzhi.audit.models import AuditEntry
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Person, Registration


def _building(client, hs, **over):
    r = client.post("/api/v1/housing/buildings", json=building_body(**over), headers=hs["worker"])
    assert r.status_code == 201, r.text
    return r.json()


def test_a_grid_worker_registers_a_building_with_its_units_owner_and_manager(client, hs):
    b = _building(client, hs)
    assert b["region_code"] == MG1 and b["code"].startswith("FW330203101201-")
    assert [c["level"] for c in b["chain"]] == ["district", "town", "village", "grid", "microgrid"]
    assert [u["number"] for u in b["units"]] == ["101", "102", "201"]
    assert b["owner"] == {"kind": "person", "id": b["owner"]["id"], "name": "王建国", "phone": "137****0001"}
    assert b["manager"]["kind"] == "org" and b["manager"]["name"] == "甬安物业服务有限公司"
    assert [d["label"] for d in b["manager_duties"]] == ["消防安全巡查", "租客信息登记与变更报告"]
    assert b["use_label"] == "混合（住人兼经营）"
    found = client.get("/api/v1/housing/buildings", params={"q": "河东路"}, headers=hs["worker"]).json()
    assert [x["id"] for x in found["items"]] == [b["id"]] and found["items"][0]["units"] == 3
    box = client.get("/api/v1/housing/buildings", params={"bbox": "121.30,29.80,121.32,29.82"},
                     headers=hs["worker"]).json()
    assert box["total"] == 1
    assert client.get("/api/v1/housing/buildings", params={"bbox": "121.33,29.80,121.34,29.82"},
                      headers=hs["worker"]).json()["total"] == 0


def test_a_grid_worker_cannot_see_or_register_outside_their_micro_grid(client, hs):
    b = _building(client, hs)
    assert client.get(f"/api/v1/housing/buildings/{b['id']}", headers=hs["worker2"]).status_code == 404
    assert client.get("/api/v1/housing/buildings", headers=hs["worker2"]).json()["total"] == 0
    r = client.post("/api/v1/housing/buildings", json=building_body(IN_MG2), headers=hs["worker"])
    assert r.status_code == 404
    outside = client.post("/api/v1/housing/buildings", json=building_body((122.5, 30.5)), headers=hs["admin"])
    assert outside.status_code == 422 and outside.json()["error"]["code"] == "outside_jurisdiction"
    # The district leader reads everything but changes nothing.
    assert client.get(f"/api/v1/housing/buildings/{b['id']}", headers=hs["leader"]).status_code == 200
    assert client.post("/api/v1/housing/buildings", json=building_body(IN_OTHER_TOWN),
                       headers=hs["leader"]).status_code == 403


def test_registering_and_ending_a_tenancy_keeps_the_row_and_moves_the_unit_status(client, session, hs):
    b = _building(client, hs)
    unit = b["units"][0]
    r = client.post("/api/v1/housing/registrations", json=tenant_body(unit["id"], 1), headers=hs["worker"])
    assert r.status_code == 201, r.text
    reg = r.json()
    assert reg["status"] == "active" and reg["person"]["id_number"] == make_id(1)[:4] + "*" * 10 + make_id(1)[-4:]
    assert reg["person"]["phone"] == "138****0001" and reg["person"]["residence"] == "流动人口"
    detail = client.get(f"/api/v1/housing/buildings/{b['id']}", headers=hs["worker"]).json()
    first = detail["units"][0]
    assert first["rental_status"] == "rented" and first["occupants"] == 1 and first["occupant_limit"] == 2
    assert [t["id"] for t in first["tenancies"]] == [reg["id"]]

    again = client.post("/api/v1/housing/registrations", json=tenant_body(unit["id"], 1), headers=hs["worker"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_registered"

    ended = client.post(f"/api/v1/housing/registrations/{reg['id']}/end",
                        json={"reason": "合同到期搬离", "version": reg["version"]}, headers=hs["worker"])
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended" and ended.json()["ended_on"] == today_local().isoformat()
    stale = client.post(f"/api/v1/housing/registrations/{reg['id']}/end", json={"reason": "再次注销"},
                        headers=hs["worker"])
    assert stale.status_code == 409
    assert session.scalar(select(func.count()).select_from(Registration)) == 1, "an ended tenancy is kept"
    detail = client.get(f"/api/v1/housing/buildings/{b['id']}", headers=hs["worker"]).json()
    assert detail["units"][0]["rental_status"] == "vacant" and detail["units"][0]["tenancies"] == []


def test_a_tenant_registered_elsewhere_is_moved_not_duplicated(client, session, hs):
    b = _building(client, hs)
    first = client.post("/api/v1/housing/registrations", json=tenant_body(b["units"][0]["id"], 7),
                        headers=hs["worker"]).json()
    moved = client.post("/api/v1/housing/registrations",
                        json=tenant_body(b["units"][2]["id"], 7, person={"phone": "13905749999"}),
                        headers=hs["worker"]).json()
    assert moved["person"]["id"] == first["person"]["id"] and moved["person"]["phone"] == "139****9999"
    assert session.scalar(select(func.count()).select_from(Person).where(Person.name == first["person"]["name"])) == 1
    statuses = dict(session.execute(select(Registration.id, Registration.status)).all())
    assert statuses == {first["id"]: "ended", moved["id"]: "active"}


def test_renewal_continues_the_stay_and_overdue_ones_are_listed(client, hs):
    b = _building(client, hs)
    start, end = today_local() - timedelta(days=400), today_local() - timedelta(days=20)
    reg = client.post("/api/v1/housing/registrations",
                      json=tenant_body(b["units"][2]["id"], 3, start_date=start.isoformat(), end_date=end.isoformat()),
                      headers=hs["worker"]).json()
    overdue = client.get("/api/v1/housing/registrations", params={"overdue": "true"}, headers=hs["cadre"]).json()
    assert [x["id"] for x in overdue["items"]] == [reg["id"]] and overdue["items"][0]["overdue"] is True
    new_end = (today_local() + timedelta(days=365)).isoformat()
    renewed = client.post(f"/api/v1/housing/registrations/{reg['id']}/renew", json={"end_date": new_end},
                          headers=hs["worker"]).json()
    assert renewed["renewed_from_id"] == reg["id"] and renewed["start_date"] == (end + timedelta(days=1)).isoformat()
    assert client.get("/api/v1/housing/registrations", params={"overdue": "true"},
                      headers=hs["cadre"]).json()["total"] == 0


def test_bad_input_is_refused_with_a_clear_message_and_nothing_written(client, session, hs):
    b = _building(client, hs)
    unit_id = b["units"][0]["id"]
    bad_id = make_id(5)[:-1] + ("0" if make_id(5)[-1] != "0" else "1")
    r = client.post("/api/v1/housing/registrations", json=tenant_body(unit_id, 5, person={"id_number": bad_id}),
                    headers=hs["worker"])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_id_checksum" and "校验码错误" in err["message_zh"]
    assert bad_id not in r.text, "the message must not repeat the full ID number"
    for person, code in (({"id_number": ""}, "id_number_required"), ({"phone": "12345"}, "invalid_phone"),
                         ({"name": ""}, "invalid_name")):
        r = client.post("/api/v1/housing/registrations", json=tenant_body(unit_id, 6, person=person),
                        headers=hs["worker"])
        assert (r.status_code, r.json()["error"]["code"]) == (422, code)
    r = client.post("/api/v1/housing/registrations", json=tenant_body(unit_id, 6, purpose="tourism"),
                    headers=hs["worker"])
    assert r.json()["error"]["code"] == "invalid_purposes"
    r = client.post("/api/v1/housing/buildings", json=building_body(use="castle"), headers=hs["worker"])
    assert r.status_code == 422 and "房屋用途" in r.json()["error"]["message_zh"]
    assert session.scalar(select(func.count()).select_from(Registration)) == 0


def test_changes_are_versioned_with_who_what_and_when(client, hs):
    b = _building(client, hs)
    unit = b["units"][1]
    r = client.patch(f"/api/v1/housing/units/{unit['id']}", json={"version": unit["version"], "area_m2": 25.0},
                     headers=hs["worker"])
    assert r.status_code == 200 and r.json()["area_m2"] == 25.0
    stale = client.patch(f"/api/v1/housing/units/{unit['id']}", json={"version": unit["version"], "area_m2": 30.0},
                         headers=hs["worker"])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_version"
    moved = client.patch(f"/api/v1/housing/buildings/{b['id']}",
                         json={"version": b["version"], "floors": 5, "address": "藕缆桥村河东路 12-1 号"},
                         headers=hs["worker"])
    assert moved.status_code == 200 and moved.json()["floors"] == 5
    client.post("/api/v1/housing/registrations", json=tenant_body(unit["id"], 2), headers=hs["worker"])
    history = client.get(f"/api/v1/housing/buildings/{b['id']}/history", headers=hs["cadre"]).json()["items"]
    actions = [h["action"] for h in history]
    assert actions[0] == "housing.registration.create" and "housing.building.update" in actions
    assert actions[-1] == "housing.building.create" and actions.count("housing.unit.create") == 3
    update = next(h for h in history if h["action"] == "housing.building.update")
    assert update["actor_name"] == "grid_worker@" + MG1
    assert update["summary"]["before"]["floors"] == 4 and update["summary"]["after"]["floors"] == 5
    unit_change = next(h for h in history if h["action"] == "housing.unit.update")
    assert unit_change["summary"]["before"] == {"area_m2": 20.0} and unit_change["at"]


def _raw_cells(session) -> list[str]:
    """Every value of every table, as text (bytes decoded loosely), read with plain SQL."""
    out: list[str] = []
    conn = session.connection()
    for table in inspect(conn).get_table_names():
        for row in conn.execute(text(f'SELECT * FROM "{table}"')):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    out.append(bytes(value).decode("latin-1"))
                elif value is not None:
                    out.append(str(value))
    return out


def test_the_database_holds_no_plain_id_numbers_or_phones_and_answers_are_masked(client, session, hs):
    b = _building(client, hs)
    reg = client.post("/api/v1/housing/registrations", json=tenant_body(b["units"][0]["id"], 42),
                      headers=hs["worker"]).json()
    session.flush()
    secrets = [make_id(42), "13805740042", make_id(901, prefix="330203"), "13705740001"]
    cells = _raw_cells(session)
    assert any("李" in c for c in cells), "the scan reads the tables"
    for secret in secrets:
        assert not [c for c in cells if secret in c], f"{secret[:4]}… is stored in plain text"
    person = session.get(Person, reg["person"]["id"])
    assert person.id_number_encrypted.startswith(b"k0:") and len(person.id_number_digest) == 64
    # The audit trail names people by id, never by name.
    summaries = " ".join(session.scalars(select(AuditEntry.summary)))
    assert "李" not in summaries and "王建国" not in summaries
    answers = [
        client.get(f"/api/v1/housing/buildings/{b['id']}", headers=hs["cadre"]).text,
        client.get(f"/api/v1/housing/people/{person.id}", headers=hs["cadre"]).text,
        client.get("/api/v1/housing/people", params={"id_number": make_id(42)}, headers=hs["cadre"]).text,
        client.get("/api/v1/housing/registrations", headers=hs["cadre"]).text,
        client.get(f"/api/v1/housing/buildings/{b['id']}/history", headers=hs["admin"]).text,
    ]
    for body in answers:
        for secret in secrets:
            assert secret not in body
    found = client.get("/api/v1/housing/people", params={"phone": "13805740042"}, headers=hs["cadre"]).json()
    assert [p["id"] for p in found["items"]] == [person.id] and found["items"][0]["phone"] == "138****0042"


def test_a_family_is_a_household_and_each_person_shows_registered_and_actual_residence(client, hs):
    b = _building(client, hs)
    flat = b["units"][2]
    head = client.post("/api/v1/housing/registrations", json=tenant_body(flat["id"], 51), headers=hs["worker"]).json()
    wife = client.post("/api/v1/housing/registrations", json=tenant_body(flat["id"], 52), headers=hs["worker"]).json()
    made = client.post("/api/v1/housing/households", json={"kind": "floating", "head_person_id": head["person"]["id"],
                                                           "unit_id": flat["id"]}, headers=hs["worker"])
    assert made.status_code == 201, made.text
    household = made.json()
    r = client.post(f"/api/v1/housing/households/{household['id']}/members",
                    json={"person_id": wife["person"]["id"], "relation": "spouse"}, headers=hs["worker"])
    assert r.status_code == 200
    members = r.json()["members"]
    assert [(m["id"], m["relation_label"]) for m in members] == [(head["person"]["id"], "户主"),
                                                                 (wife["person"]["id"], "配偶")]
    assert all("*" in m["id_number"] for m in members)
    second_head = client.post(f"/api/v1/housing/households/{household['id']}/members",
                              json={"person_id": wife["person"]["id"], "relation": "head"}, headers=hs["worker"])
    assert second_head.status_code == 409
    person = client.get(f"/api/v1/housing/people/{wife['person']['id']}", headers=hs["worker"]).json()
    assert person["registered_address"] == "贵州省毕节市七星关区某镇某村" and person["residence"] == "流动人口"
    assert person["actual_residence"]["address"] == b["address"] and person["actual_residence"]["unit"] == "201"
    assert person["household_id"] == household["id"] and [x["id"] for x in person["registrations"]] == [wife["id"]]
    assert client.get(f"/api/v1/housing/households/{household['id']}", headers=hs["worker2"]).status_code == 404


def test_a_member_leaves_the_household_with_a_reason_and_the_head_leaves_last(client, hs, session):
    b = _building(client, hs)
    flat = b["units"][2]
    head, son = (client.post("/api/v1/housing/registrations", json=tenant_body(flat["id"], n),
                             headers=hs["worker"]).json()["person"]["id"] for n in (61, 62))
    household = client.post("/api/v1/housing/households", json={"kind": "floating", "head_person_id": head,
                                                                 "unit_id": flat["id"]}, headers=hs["worker"]).json()
    url = f"/api/v1/housing/households/{household['id']}/members"
    client.post(url, json={"person_id": son, "relation": "child"}, headers=hs["worker"])
    assert client.post(f"{url}/{son}/leave", json={"reason": " "}, headers=hs["worker"]).status_code == 422
    first = client.post(f"{url}/{head}/leave", json={"reason": "回老家"}, headers=hs["worker"])
    assert first.status_code == 409 and first.json()["error"]["code"] == "head_leaves_last"
    assert client.post(f"{url}/{son}/leave", json={"reason": "外出务工"}, headers=hs["worker2"]).status_code == 404
    left = client.post(f"{url}/{son}/leave", json={"reason": "外出务工"}, headers=hs["worker"])
    assert left.status_code == 200 and [m["id"] for m in left.json()["members"]] == [head]
    person = client.get(f"/api/v1/housing/people/{son}", headers=hs["worker"]).json()
    assert person["household_id"] is None and person["name"]  # the person stays, only the link ends
    assert client.post(f"{url}/{son}/leave", json={"reason": "再次移出"}, headers=hs["worker"]).status_code == 404
    row = json.loads(session.scalar(select(AuditEntry.summary).where(AuditEntry.action == "housing.household.leave")))
    assert row["detail"]["reason"] == "外出务工" and row["before"]["relation"] == "child"
    # The last member, the head, may leave; the household is then empty.
    assert client.post(f"{url}/{head}/leave", json={"reason": "全家迁出"}, headers=hs["worker"]).json()["members"] == []
