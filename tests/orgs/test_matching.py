"""Matching on a small fixture whose order was computed by hand from policy/matching.toml.

The need: employment (就业岗位) for 1村, at (121.32, 29.805). Every resource sits on the same
meridian, so its distance is Δlat × 111.19508 km (1° of arc on the 6371.0088 km sphere):
  0.045° → 5.00378 km → distance factor 1 − 5.00378/25 = 0.799849
  0.09°  → 10.00756 km → 0.599698
Weights: kind 40, distance 20, capacity 15, alliance 15, outcomes 10.

  R2 甬新 (serves 1村, no alliance, no history), employment, 0.09°, 10 free of 10:
       40 + 20×0.599698 + 15 + 15×0.5 + 10×0.5                    = 79.49395
  R3 水务 (no ties; its only project was cancelled → 0), employment, here, 20 of 20:
       40 + 20 + 15 + 0 + 0                                        = 75
  R1 电器 (member of 1村's alliance; one completed project rated 4 → 0.8), training (related 0.6),
       0.045°, 5 free of 10:  24 + 20×0.799849 + 7.5 + 15 + 8     = 70.49698
  R4 物流 (its alliance has ended → 0; no history), sales (related 0.3), here, 4 of 4:
       12 + 20 + 15 + 0 + 5                                        = 52
Not proposed: legal aid (unrelated kind), a paused resource, a used-up one, an expired one.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from orgs_world import TOWN1, V1, make_org
from shanzhi.accounts.service import system_actor
from shanzhi.orgs import alliances, needs, projects, resources
from shanzhi.orgs.common import readable

LON, LAT = 121.32, 29.805


def resource(session, org: str, kind: str, capacity: int, dlat: float, **over) -> str:
    row = resources.create_resource(session, actor=system_actor(session), org=org, kind=kind, title=over.pop("title",
                                    f"{org}-{kind}"), capacity=capacity, lon=LON, lat=LAT + dlat, **over)
    return readable("resource", row.id)


def need(session, kind: str = "employment", title: str = "返乡青年就业") -> str:
    row = needs.raise_need(session, actor=system_actor(session), kind=kind, title=title, region=V1, lon=LON, lat=LAT,
                           requester="group", group_name="返乡青年", quantity=5)
    return readable("need", row.id)


def finished_project(session, res: str, *, rating: int | None = None, cancel: bool = False, quantity: int = 1) -> None:
    admin = system_actor(session)
    p = projects.confirm_match(session, actor=admin, need=need(session, "legal_aid", "普法"),
                               picks=[projects.Pick(res, quantity)])
    code = readable("project", p.id)
    if cancel:
        projects.cancel_project(session, actor=admin, code=code, reason="单位调整")
    else:
        projects.complete_project(session, actor=admin, code=code, outcome="完成", rating=rating)


@pytest.fixture
def fixture(world):
    s = world.session
    admin = system_actor(s)
    make_org(s, "DW-V1", "party_org", level="village", region=V1)
    make_org(s, "DW-T1", "party_org", level="town", region=TOWN1)
    for code, name in (("U1", "电器公司"), ("U2", "甬新公司"), ("U3", "水务公司"), ("U4", "物流公司")):
        make_org(s, code, name=name, region=V1)
    alliances.create_alliance(s, actor=admin, kind="alliance", name="1村联建", lead="DW-V1", villages=[V1],
                              started_on=date(2024, 1, 1), members=[alliances.MemberIn("U1")])
    ended = alliances.create_alliance(s, actor=admin, kind="alliance", name="旧联建", lead="DW-T1", villages=[V1],
                                      started_on=date(2023, 1, 1), members=[alliances.MemberIn("U4")])
    alliances.update_alliance(s, actor=admin, code=ended.code, status="ended")
    from shanzhi.orgs import service as orgs

    orgs.update_org(s, actor=admin, code="U2", villages=[V1])
    # Past outcomes: U1 completed one project rated 4; U3's only project was cancelled.
    finished_project(s, resource(s, "U1", "legal_aid", 1, 0.0), rating=4)
    finished_project(s, resource(s, "U3", "legal_aid", 1, 0.0), cancel=True)
    out = {
        "R1": resource(s, "U1", "training", 10, 0.045),
        "R2": resource(s, "U2", "employment", 10, 0.09),
        "R3": resource(s, "U3", "employment", 20, 0.0),
        "R4": resource(s, "U4", "sales", 4, 0.0),
        "paused": resource(s, "U3", "employment", 9, 0.0, status="paused"),
        "used_up": resource(s, "U2", "employment", 3, 0.0),
        "expired": resource(s, "U3", "employment", 9, 0.0, available_until=date.today() - timedelta(days=2)),
    }
    # R1 has 5 of its 10 taken by a live project; "used up" has all 3 taken.
    projects.confirm_match(s, actor=admin, need=need(s, "training", "技能培训"), picks=[projects.Pick(out["R1"], 5)])
    projects.confirm_match(s, actor=admin, need=need(s, "employment", "保洁岗位"), picks=[projects.Pick(out["used_up"], 3)])
    out["need"] = need(s)
    return out


def test_proposals_come_in_the_hand_computed_order_with_their_scores(world, fixture):
    _, found = projects_propose(world, fixture["need"])
    order = {v: k for k, v in fixture.items()}
    assert [order[p.as_dict()["resource"]["code"]] for p in found] == ["R2", "R3", "R1", "R4"]
    assert [p.as_dict()["score"] for p in found] == [79.49, 75.0, 70.5, 52.0]
    assert found[0].score == pytest.approx(40 + 20 * (1 - 0.09 * 111.19508 / 25) + 15 + 7.5 + 5, abs=1e-3)
    assert found[2].score == pytest.approx(24 + 20 * (1 - 0.045 * 111.19508 / 25) + 7.5 + 15 + 8, abs=1e-3)


def projects_propose(world, code):
    from shanzhi.orgs.matching import propose

    return propose(world.session, actor=world.dispatcher, need=code)


def test_each_proposal_explains_every_factor(client, world, fixture):
    r = client.get(f"/api/v1/needs/{fixture['need']}/proposals", headers=world.headers["dispatcher"])
    assert r.status_code == 200, r.text
    first, _, third, _ = r.json()["items"]
    explained = {f["factor"]: f for f in third["factors"]}
    assert [f["factor"] for f in third["factors"]] == ["kind", "distance", "capacity", "alliance", "outcomes"]
    assert (explained["kind"]["value"], explained["kind"]["points"]) == (0.6, 24.0)
    assert "相关类型（技能培训）" in explained["kind"]["explain"]
    assert explained["distance"]["points"] == 16.0 and "5.0 公里" in explained["distance"]["explain"]
    assert explained["capacity"]["explain"] == "剩余 5/10人次"
    assert explained["alliance"]["value"] == 1.0 and "联建" in explained["alliance"]["explain"]
    assert explained["outcomes"]["points"] == 8.0 and "平均成效 4.0/5" in explained["outcomes"]["explain"]
    assert sum(f["points"] for f in third["factors"]) == pytest.approx(third["score"], abs=0.02)
    assert {f["factor"]: f["value"] for f in first["factors"]}["alliance"] == 0.5  # serves the village only


def test_a_cadre_of_another_town_cannot_see_the_needs_proposals(client, world, fixture):
    r = client.get(f"/api/v1/needs/{fixture['need']}/proposals", headers=world.headers["cadre2"])
    assert r.status_code == 404
