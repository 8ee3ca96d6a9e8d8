"""1+X alliances and pairings: one mechanism. Leaders, members joining and leaving with dates
(history kept, rejoining adds a spell), villages covered, scopes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from orgs_world import TOWN1, TOWN2, V1, V2, V3, make_org
from shanzhi.orgs import alliances
from shanzhi.orgs.alliance_models import AllianceMember


def setup_orgs(session):
    make_org(session, "DW-T1", "party_org", name="中共第1镇委员会", level="town", region=TOWN1)
    make_org(session, "DW-V1", "party_org", name="中共1村委员会", level="village", region=V1)
    make_org(session, "DW-D", "party_org", name="中共测试区委员会", level="district", region="330203")
    make_org(session, "QY-1", name="甬新电器有限公司")
    make_org(session, "QY-2", "state_enterprise", name="宁波水务集团第1镇分公司")
    make_org(session, "ZX-1", "cppcc_member", name="政协委员·陈海")


def alliance_body(**over):
    return {"name": "第1镇党建联建", "lead": "DW-T1", "villages": [V1, V2], "started_on": "2024-01-01",
            "charter": "共建共治共享", "members": [{"org": "QY-1", "joined_on": "2024-01-01", "role": "就业岗位"}], **over}


def test_a_member_leaves_and_rejoins_and_the_history_keeps_both_spells(client, world):
    setup_orgs(world.session)
    h = world.headers["dispatcher"]
    created = client.post("/api/v1/alliances", json=alliance_body(), headers=h)
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    assert code == f"LJ-{TOWN1}-1" and created.json()["lead"]["name"] == "中共第1镇委员会"

    assert client.post(f"/api/v1/alliances/{code}/members", json={"org": "QY-2", "joined_on": "2024-03-01"},
                       headers=h).status_code == 201
    again = client.post(f"/api/v1/alliances/{code}/members", json={"org": "QY-2", "joined_on": "2024-04-01"}, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_member"
    early = client.post(f"/api/v1/alliances/{code}/members/QY-2/leave", json={"left_on": "2024-02-01"}, headers=h)
    assert early.status_code == 422  # before it joined
    assert client.post(f"/api/v1/alliances/{code}/members/QY-2/leave", json={"left_on": "2024-06-30"},
                       headers=h).status_code == 200
    before_left = client.post(f"/api/v1/alliances/{code}/members", json={"org": "QY-2", "joined_on": "2024-05-01"},
                              headers=h)
    assert before_left.status_code == 422  # rejoining cannot precede the last leaving
    rejoined = client.post(f"/api/v1/alliances/{code}/members", json={"org": "QY-2", "joined_on": "2025-01-01"},
                           headers=h)
    assert rejoined.status_code == 201
    body = rejoined.json()
    assert [m["org"]["code"] for m in body["members"]] == ["QY-1", "QY-2"]
    assert [(m["org"]["code"], m["joined_on"], m["left_on"]) for m in body["history"]] == [
        ("QY-1", "2024-01-01", None), ("QY-2", "2024-03-01", "2024-06-30"), ("QY-2", "2025-01-01", None)]
    assert world.session.scalar(select(func.count()).select_from(AllianceMember)) == 3

    alliance = alliances.get_alliance(world.session, actor=world.admin, code=code)
    assert alliances.members_on(world.session, alliance=alliance, day=date(2024, 5, 1)) == ["QY-1", "QY-2"]
    assert alliances.members_on(world.session, alliance=alliance, day=date(2024, 8, 1)) == ["QY-1"]
    assert alliances.members_on(world.session, alliance=alliance, day=date(2023, 12, 31)) == []


def test_only_a_town_or_village_party_organization_leads_an_alliance(client, world):
    setup_orgs(world.session)
    h = world.headers["admin"]
    for lead, code in (("QY-1", "invalid_lead"), ("DW-D", "invalid_lead"), (None, "lead_required")):
        r = client.post("/api/v1/alliances", json=alliance_body(lead=lead), headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (422, code), lead
    led_by_village = client.post("/api/v1/alliances", json=alliance_body(lead="DW-V1", villages=[V1]), headers=h)
    assert led_by_village.status_code == 201 and led_by_village.json()["region"]["code"] == V1
    # The lead is the "1", not one of the X.
    r = client.post(f"/api/v1/alliances/{led_by_village.json()['code']}/members", json={"org": "DW-V1"}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "is_lead"


def test_a_pairing_is_the_same_mechanism_with_one_member_and_one_village(client, world):
    setup_orgs(world.session)
    h = world.headers["dispatcher"]
    body = {"kind": "pairing", "name": "陈海委员结对1村", "villages": [V1], "members": [{"org": "ZX-1"}]}
    r = client.post("/api/v1/alliances", json=body, headers=h)
    assert r.status_code == 201, r.text
    pairing = r.json()
    assert (pairing["code"], pairing["kind_label"], pairing["lead"]) == (f"JD-{V1}-1", "结对", None)
    second = client.post(f"/api/v1/alliances/{pairing['code']}/members", json={"org": "QY-1"}, headers=h)
    assert second.status_code == 409 and second.json()["error"]["code"] == "too_many_members"
    two = client.post("/api/v1/alliances", json={**body, "villages": [V1, V2]}, headers=h)
    assert two.status_code == 422 and two.json()["error"]["code"] == "too_many_villages"
    led = client.post("/api/v1/alliances", json={**body, "lead": "DW-T1"}, headers=h)
    assert led.status_code == 422 and led.json()["error"]["code"] == "no_lead"
    # The village page sees it among the village's arrangements, with the paired unit.
    summary = client.get(f"/api/v1/village-summary/{V1}", headers=world.headers["cadre"]).json()
    assert [p["code"] for p in summary["pairings"]] == [pairing["code"]]
    assert summary["paired_units"] == [{"code": "ZX-1", "name": "政协委员·陈海", "kind": "cppcc_member"}]


def test_ending_an_alliance_ends_its_members_spells_and_stops_its_coverage(client, world):
    setup_orgs(world.session)
    h = world.headers["dispatcher"]
    code = client.post("/api/v1/alliances", json=alliance_body(), headers=h).json()["code"]
    coverage = client.get("/api/v1/alliances/coverage", params={"region": TOWN1}, headers=h).json()["villages"]
    assert [a["code"] for a in coverage[V1]] == [code] and coverage[V1][0]["members_count"] == 1
    stale = client.patch(f"/api/v1/alliances/{code}", json={"status": "ended", "version": 99}, headers=h)
    assert stale.status_code == 409
    ended = client.patch(f"/api/v1/alliances/{code}", json={"status": "ended", "ended_on": "2025-06-30"}, headers=h)
    assert ended.status_code == 200, ended.text
    assert ended.json()["members"] == [] and ended.json()["history"][0]["left_on"] == "2025-06-30"
    assert client.post(f"/api/v1/alliances/{code}/members", json={"org": "QY-2"}, headers=h).status_code == 409
    coverage = client.get("/api/v1/alliances/coverage", params={"region": TOWN1}, headers=h).json()["villages"]
    assert coverage == {V1: [], V2: []}


def test_alliances_are_read_where_they_sit_or_cover_and_managed_only_within_scope(client, world):
    setup_orgs(world.session)
    code = client.post("/api/v1/alliances", json=alliance_body(villages=[V1]), headers=world.headers["admin"]).json()["code"]
    # 1村's cadre reads the town's alliance because it covers 1村; 第2镇's cadre does not see it.
    assert client.get(f"/api/v1/alliances/{code}", headers=world.headers["cadre"]).status_code == 200
    assert client.get(f"/api/v1/alliances/{code}", headers=world.headers["cadre2"]).status_code == 404
    listed = client.get("/api/v1/alliances", headers=world.headers["cadre2"]).json()
    assert listed["total"] == 0
    # A cadre does not manage alliances; the town dispatcher cannot cover another town's village.
    assert client.post(f"/api/v1/alliances/{code}/members", json={"org": "QY-2"},
                       headers=world.headers["cadre"]).status_code == 403
    r = client.patch(f"/api/v1/alliances/{code}", json={"villages": [V1, V3]}, headers=world.headers["dispatcher"])
    assert r.status_code == 404
    make_org(world.session, "DW-T2", "party_org", level="town", region=TOWN2)
    r = client.post("/api/v1/alliances", json=alliance_body(lead="DW-T2", villages=[V3]),
                    headers=world.headers["dispatcher"])
    assert r.status_code == 404
