"""The numbers for a region match a fixture counted by hand, for the district and each town."""

from __future__ import annotations

from datetime import date, timedelta

from orgs_world import TOWN1, TOWN2, V1, V2, V3, make_org
from shanzhi.accounts.service import system_actor
from shanzhi.db import utcnow
from shanzhi.orgs import alliances, needs, projects, resources
from shanzhi.orgs.common import readable
from shanzhi.orgs.list_models import Need

V4 = "330203102202"


def build(session):
    """第1镇: one town alliance over 1村 and 2村 (members A, B; C joined and left), one village
    alliance in 1村 (member B again, D), a pairing 政协委员 → 2村, an ended alliance (member E).
    第2镇: one village alliance in its first village (member F). Resources: 3 in 第1镇 (one
    withdrawn), 1 in 第2镇. Needs in 第1镇: met (raised 30 days ago, matched after 10, met after
    30), met (raised 20 days ago, matched after 4, met after 20), matched (matched after 7,
    project in progress), open ×2 (one raised 20 days ago: flagged); in 第2镇: closed ×1."""
    admin = system_actor(session)
    for code, kind, level, region in (("DW-T1", "party_org", "town", TOWN1), ("DW-V1", "party_org", "village", V1),
                                      ("DW-V3", "party_org", "village", V3), ("ZX-1", "cppcc_member", None, "330203")):
        make_org(session, code, kind, level=level, region=region)
    for code in "ABCDEF":
        make_org(session, f"U{code}", region=TOWN2 if code == "F" else TOWN1)
    start = date(2024, 1, 1)

    def alliance(lead, villages, members, **over):
        return alliances.create_alliance(session, actor=admin, kind=over.pop("kind", "alliance"),
                                         name=over.pop("name", "联建"), lead=lead, villages=villages, started_on=start,
                                         members=[alliances.MemberIn(m) for m in members], **over)

    town = alliance("DW-T1", [V1, V2], ["UA", "UB", "UC"])
    alliances.remove_member(session, actor=admin, code=town.code, org="UC", left_on=date(2024, 6, 1))
    alliance("DW-V1", [V1], ["UB", "UD"])
    alliance(None, [V2], ["ZX-1"], kind="pairing", name="结对")
    old = alliance("DW-T1", [V1], ["UE"], code="LJ-OLD")
    alliances.update_alliance(session, actor=admin, code=old.code, status="ended")
    alliance("DW-V3", [V3], ["UF"])

    res = [resources.create_resource(session, actor=admin, org=o, kind="employment", title="岗位", capacity=50)
           for o in ("UA", "UB", "UD", "UF")]
    resources.update_resource(session, actor=admin, code=readable("resource", res[2].id), status="withdrawn")
    ra = readable("resource", res[0].id)

    def need(region, title):
        return readable("need", needs.raise_need(session, actor=admin, kind="employment", title=title,
                                                 region=region).id)

    def backdate(code, raised_days_ago, matched_after=None, met_after=None):
        row = session.get(Need, int(code[2:]))
        raised = utcnow() - timedelta(days=raised_days_ago)
        row.raised_at = raised
        row.matched_at = raised + timedelta(days=matched_after) if matched_after is not None else None
        row.met_at = raised + timedelta(days=met_after) if met_after is not None else None
        session.flush()

    for title, days, match, met, beneficiaries in (("一", 30, 10, 30, 12), ("二", 20, 4, 20, 30)):
        code = need(V1, title)
        p = projects.confirm_match(session, actor=admin, need=code, picks=[projects.Pick(ra, 2)])
        projects.complete_project(session, actor=admin, code=readable("project", p.id), outcome="已安置",
                                  beneficiaries=beneficiaries)
        backdate(code, days, match, met)
    code = need(V2, "三")
    p = projects.confirm_match(session, actor=admin, need=code, picks=[projects.Pick(ra, 1)])
    projects.start_project(session, actor=admin, code=readable("project", p.id))
    backdate(code, 9, 7)
    backdate(need(V2, "四"), 20)
    need(V1, "五")
    closed = need(V4, "六")
    needs.close_need(session, actor=admin, code=closed, reason="已自行解决")


def test_the_numbers_for_the_district_and_each_town_match_the_fixture(client, world):
    build(world.session)
    h = world.headers["admin"]
    district = client.get("/api/v1/alliance-numbers", params={"region": "330203"}, headers=h).json()
    assert {k: district[k] for k in ("alliances", "member_units", "pairings", "paired_units", "resources")} == {
        "alliances": 3, "member_units": 4, "pairings": 1, "paired_units": 1, "resources": 3}
    assert district["needs"] == {"open": 2, "matched": 1, "met": 2, "closed": 1, "total": 6, "flagged": 1}
    assert district["projects"] == {"planned": 0, "in_progress": 1, "completed": 2, "cancelled": 0, "total": 3}
    assert district["beneficiaries"] == 42
    assert district["avg_days_to_match"] == 7.0  # (10 + 4 + 7) / 3
    assert district["avg_days_to_outcome"] == 25.0  # (30 + 20) / 2

    town1 = client.get("/api/v1/alliance-numbers", params={"region": TOWN1}, headers=h).json()
    assert (town1["alliances"], town1["member_units"], town1["pairings"], town1["resources"]) == (2, 3, 1, 2)
    assert (town1["needs"]["total"], town1["needs"]["open"], town1["projects"]["total"]) == (5, 2, 3)
    town2 = client.get("/api/v1/alliance-numbers", params={"region": TOWN2}, headers=h).json()
    assert (town2["alliances"], town2["member_units"], town2["pairings"], town2["resources"]) == (1, 1, 0, 1)
    assert town2["needs"] == {"open": 0, "matched": 0, "met": 0, "closed": 1, "total": 1, "flagged": 0}
    assert town2["avg_days_to_match"] is None

    village2 = client.get("/api/v1/alliance-numbers", params={"region": V2}, headers=h).json()
    assert (village2["alliances"], village2["pairings"], village2["needs"]["total"]) == (1, 1, 2)
    # A village cadre gets the numbers of its village, not of its town.
    assert client.get("/api/v1/alliance-numbers", params={"region": TOWN1},
                      headers=world.headers["cadre"]).status_code == 404
    assert client.get("/api/v1/alliance-numbers", headers=world.headers["cadre"]).json()["region"]["code"] == V1


def test_the_village_summary_shows_its_alliances_needs_and_projects(client, world):
    build(world.session)
    summary = client.get(f"/api/v1/village-summary/{V1}", headers=world.headers["cadre"]).json()
    assert [a["lead"]["code"] for a in summary["alliances"]] == ["DW-T1", "DW-V1"]  # the ended one is gone
    assert summary["pairings"] == [] and summary["paired_units"] == []
    assert [n["title"] for n in summary["open_needs"]] == ["五"]
    assert sorted(p["status"] for p in summary["projects"]) == ["completed", "completed"]
    assert summary["numbers"]["needs"]["met"] == 2
