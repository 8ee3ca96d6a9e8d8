"""Organizations: kinds from policy, places (point or region), the villages they serve, and
contacts whose phones are encrypted, masked, and revealed only with a permission, a reason and
an audit row."""

from __future__ import annotations

from sqlalchemy import select

from orgs_world import TOWN1, TOWN2, V1, V2, make_org
from shanzhi.audit.models import AuditEntry
from shanzhi.orgs.models import Organization, OrgContact


def party_org(**over):
    return {"code": "DQ-V1", "name": "中共1村委员会", "kind": "party_org", "level": "village", "region": V1, **over}


def test_a_dispatcher_registers_a_village_party_organization_with_a_contact(client, world):
    body = party_org(villages=[V1, V2], contacts=[{"name": "陈书记", "title": "书记", "phone": "13905741234"}])
    r = client.post("/api/v1/orgs", json=body, headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    org = r.json()
    assert (org["kind_label"], org["level"], org["region"]["code"]) == ("党组织", "village", V1)
    assert [v["code"] for v in org["villages"]] == [V1, V2]
    assert org["contacts"] == [{"id": org["contacts"][0]["id"], "name": "陈书记", "title": "书记", "phone": "139****1234"}]
    stored = world.session.scalar(select(OrgContact))
    assert b"13905741234" not in stored.phone_encrypted  # encrypted at rest
    # The directory lists it for anyone in the district holding org.read, phones still masked.
    listed = client.get("/api/v1/orgs", params={"kind": "party_org"}, headers=world.headers["cadre2"]).json()
    assert [o["code"] for o in listed["items"]] == ["DQ-V1"] and "contacts" not in listed["items"][0]
    detail = client.get("/api/v1/orgs/DQ-V1", headers=world.headers["cadre2"]).json()
    assert detail["contacts"][0]["phone"] == "139****1234"


def test_a_party_organization_needs_its_level_and_other_kinds_have_none(client, world):
    h = world.headers["dispatcher"]
    missing = client.post("/api/v1/orgs", json=party_org(level=None), headers=h)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "invalid_level"
    wrong = client.post("/api/v1/orgs", json=party_org(level="town"), headers=h)  # 1村 is not a town
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_level"
    unknown = client.post("/api/v1/orgs", json=party_org(kind="secret_society"), headers=h)
    assert unknown.status_code == 422 and unknown.json()["error"]["message_zh"].startswith("未知的组织类型")
    enterprise = client.post("/api/v1/orgs", json=party_org(code="QY-1", kind="private_enterprise", level="village"),
                             headers=h)
    assert enterprise.status_code == 422


def test_a_point_places_an_organization_in_its_village_and_must_agree_with_a_given_region(client, world):
    h = world.headers["dispatcher"]
    r = client.post("/api/v1/orgs", json={"code": "QY-1", "name": "甬新电器有限公司", "kind": "private_enterprise",
                                          "lon": 121.32, "lat": 29.81}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["region"]["code"] == V1 and r.json()["point"] == [121.32, 29.81]
    clash = client.post("/api/v1/orgs", json={"code": "QY-2", "name": "某公司", "kind": "private_enterprise",
                                              "region": V2, "lon": 121.32, "lat": 29.81}, headers=h)
    assert clash.status_code == 422 and clash.json()["error"]["code"] == "point_outside_region"
    # The catalog's handler kinds are organization kinds too (events routing finds them by kind).
    unit = client.post("/api/v1/orgs", json={"code": "ZFD-1", "name": "第1镇综合行政执法队", "kind": "enforcement_team",
                                             "region": TOWN1}, headers=h)
    assert unit.status_code == 201 and unit.json()["kind_label"] == "综合行政执法队"


def test_a_town_dispatcher_cannot_register_or_change_organizations_of_another_town(client, world):
    h = world.headers["dispatcher"]
    r = client.post("/api/v1/orgs", json={"code": "QY-9", "name": "外镇企业", "kind": "private_enterprise",
                                          "region": TOWN2}, headers=h)
    assert r.status_code == 404
    make_org(world.session, "QY-T2", region=TOWN2)
    # It is in the district's directory, so no secret: 403, not 404.
    assert client.patch("/api/v1/orgs/QY-T2", json={"name": "改名"}, headers=h).status_code == 403
    # A village cadre reads the directory but does not manage it.
    assert client.patch("/api/v1/orgs/HS-RMYY", json={"name": "改名"}, headers=world.headers["cadre"]).status_code == 403
    assert world.session.scalar(select(Organization.name).where(Organization.code == "QY-T2")) == "QY-T2"


def test_changing_an_organization_keeps_what_was_not_sent_and_is_audited(client, world):
    make_org(world.session, "QY-1", name="旧名", region=V1, address="1村 8 号", villages=[V1])
    r = client.patch("/api/v1/orgs/QY-1", json={"name": "新名", "villages": [V2]}, headers=world.headers["dispatcher"])
    assert r.status_code == 200, r.text
    org = r.json()
    assert (org["name"], org["address"], [v["code"] for v in org["villages"]]) == ("新名", "1村 8 号", [V2])
    entry = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "org.update")).one()
    assert "旧名" in entry.summary and "新名" in entry.summary


def reveal(client, world, who: str, reason: str | None = "联系结对帮扶事宜"):
    contact = world.session.scalar(select(OrgContact))
    return client.post(f"/api/v1/orgs/QY-1/contacts/{contact.id}/reveal", json={"reason": reason} if reason else {},
                       headers=world.headers[who])


def test_a_phone_is_revealed_only_with_the_permission_and_a_reason_and_every_reveal_is_audited(client, world):
    from shanzhi.orgs.service import ContactIn

    make_org(world.session, "QY-1", region=V1, contacts=[ContactIn("周经理", "经理", "13812345678")])
    denied = reveal(client, world, "dispatcher")  # sees the directory, lacks org.reveal
    assert denied.status_code == 403
    assert reveal(client, world, "chief", reason=None).status_code == 422
    assert reveal(client, world, "chief", reason=" ").json()["error"]["code"] == "reason_required"
    ok = reveal(client, world, "chief")
    assert ok.status_code == 200 and ok.json() == {"phone": "13812345678"}
    rows = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "org.reveal")
                                 .order_by(AuditEntry.seq)).all()
    assert [r.outcome for r in rows] == ["denied", "allowed"]
    assert "联系结对帮扶事宜" in rows[-1].summary and rows[-1].actor_name == "duty_chief@330203101"
    assert "13812345678" not in rows[-1].summary  # the trail records the reveal, not the number


def test_the_org_kinds_list_holds_the_policy_kinds_and_the_handler_types(client, world):
    kinds = {k["code"]: k for k in client.get("/api/v1/org-kinds", headers=world.headers["cadre"]).json()["items"]}
    assert kinds["cppcc_member"]["label"] == "政协委员" and kinds["cppcc_member"]["individual"]
    assert kinds["new_local_elite"]["label"] == "新乡贤"
    assert kinds["party_org"]["levels"] == ["district", "town", "village"]
    assert kinds["village_committee"]["handler"]
