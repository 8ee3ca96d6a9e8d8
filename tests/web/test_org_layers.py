"""The live map's organization layers (组织, 联建覆盖, 需求, 资源) over HTTP: who is offered them, what
each answers on a fixture counted by hand, reach, clusters that add up; and the village page's
refusals. `build_village_world` is the fixture the village browser test uses too.

The world (orgs_world's lattice district and people): 第1镇's party committee leads a 1+X
alliance over 1村 and 2村 (members: an enterprise, a state firm, the hospital); 1村's branch leads
its own over 1村 (the enterprise again); a new local elite is paired with 1村, a CPPCC member with
3村 (第2镇); 4村 has nothing. 1村 has an urgent need, 2村 one unmatched for 20 days, and 1村 a
project under way; 1村's first grid has a leader, its second none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from builders import make_event, make_user
from gridpeople.gp_builders import add_person
from orgs import orgs_world
from orgs.orgs_world import DISTRICT, TOWN1, V1, V2, V3, make_org
from test_event_pages import csrf_of, sign_in

from shanzhi.accounts.service import system_actor
from shanzhi.db import utcnow
from shanzhi.events.service import get_event, timeline
from shanzhi.orgs import alliances, needs, projects, resources
from shanzhi.orgs.common import readable
from shanzhi.orgs.list_models import Need
from shanzhi.orgs.service import ContactIn
from shanzhi.web import org_layers

world = orgs_world.world  # the orgs tests' fixture: their lattice district and people
V4 = "330203102202"
WHOLE = "121.2,29.7,121.6,30.0"
TOWN_ALLIANCE, VILLAGE_ALLIANCE = "第1镇“共富”党建联盟", "1村“同心”党建联建"
PHONE = "13812345678"


@dataclass
class VillageWorld:
    town_alliance: str
    village_alliance: str
    pairing: str
    medical_need: str  # 1村, urgent, waiting for a match
    jobs_need: str  # 2村, raised 20 days ago: flagged
    legal_need: str  # 3村 (第2镇)
    funded_need: str  # 1村, matched: a project in progress
    project: str
    clinic: str  # the hospital's resource
    jobs: str
    fund: str


def build_village_world(session) -> VillageWorld:
    """Everything through the services, as the system actor (HS-RMYY exists: orgs_world)."""
    admin = system_actor(session)
    make_org(session, "DW-T1", "party_org", name="中共第1镇委员会", level="town", region=TOWN1)
    make_org(session, "DW-V1", "party_org", name="中共1村支部委员会", level="village", region=V1)
    make_org(session, "QY-A", name="宁波甬华电器有限公司", region=V1, lon=121.32, lat=29.82, villages=[V1, V2],
             contacts=[ContactIn("张建国", "总经理", PHONE)])
    make_org(session, "QY-B", "state_enterprise", name="国网第1镇供电所", region=TOWN1)
    make_org(session, "ZX-1", "cppcc_member", name="谢梅（区政协委员）", region=DISTRICT, villages=[V3])
    make_org(session, "XX-1", "new_local_elite", name="陈立新（新乡贤）", region=V1)

    def alliance(name, lead, villages, members, kind="alliance"):
        return alliances.create_alliance(session, actor=admin, kind=kind, name=name, lead=lead, villages=villages,
                                         members=[alliances.MemberIn(m, role="共建") for m in members]).code

    town = alliance(TOWN_ALLIANCE, "DW-T1", [V1, V2], ["QY-A", "QY-B", "HS-RMYY"])
    village = alliance(VILLAGE_ALLIANCE, "DW-V1", [V1], ["QY-A"])
    pairing = alliance("政协委员结对3村", None, [V3], ["ZX-1"], kind="pairing")
    alliance("新乡贤结对1村", None, [V1], ["XX-1"], kind="pairing")

    def resource(org, kind, title, capacity, unit, **where):
        row = resources.create_resource(session, actor=admin, org=org, kind=kind, title=title, capacity=capacity,
                                        unit=unit, **where)
        return readable("resource", row.id)

    clinic = resource("HS-RMYY", "medical", "专家巡回义诊", 12, "场", lon=121.33, lat=29.82)
    jobs = resource("QY-A", "employment", "普工岗位", 20, "个")
    fund = resource("QY-B", "funding", "村级公益项目资金", 50, "万元")

    def need(kind, title, region, **over):
        return readable("need", needs.raise_need(session, actor=admin, kind=kind, title=title, region=region,
                                                 **over).id)

    medical = need("medical", "留守老人慢病随访", V1, lon=121.31, lat=29.81, urgency="urgent", quantity=4)
    jobs_need = need("employment", "返乡青年就业", V2, quantity=3)
    session.get(Need, int(jobs_need[2:])).raised_at = utcnow() - timedelta(days=20)  # past the 14 days
    legal = need("legal_aid", "土地流转法律咨询", V3)
    funded = need("funding", "文化礼堂修缮", V1)
    made = projects.confirm_match(session, actor=admin, need=funded, picks=[projects.Pick(fund, 10)],
                                  owner_name="李工")
    project = readable("project", made.id)
    projects.start_project(session, actor=admin, code=project)
    projects.add_note(session, actor=admin, code=project, text="屋面防水已完工，正在修缮戏台", progress=60)

    # The grid people of 1村: a grid leader for one of its two grids, a liaison, a town mediator.
    add_person(session, "袁磊", V1, ("grid_leader", V1 + "001"), phone="13000007016")
    add_person(session, "徐平", V1, ("liaison", V1))
    add_person(session, "戴国芳", TOWN1, ("mediator", TOWN1))
    session.flush()
    return VillageWorld(town, village, pairing, medical, jobs_need, legal, funded, project, clinic, jobs, fund)


@pytest.fixture
def vw(world) -> VillageWorld:
    built = build_village_world(world.session)
    world.session.commit()
    return built


def get_layer(client, key, headers, bbox=WHOLE, zoom=12, **params):
    r = client.get(f"/api/v1/map/layers/{key}", params={"bbox": bbox, "zoom": zoom, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def props(body) -> dict[str, dict]:
    return {f["properties"]["code"]: f["properties"] for f in body["features"]}


ORG_LAYERS = ["orgs", "alliances", "needs", "resources"]


# -- who is offered what -----------------------------------------------------------------------


def test_everyone_who_reads_the_alliances_lists_is_offered_the_four_layers(client, world):
    for who in ("dispatcher", "cadre", "hospital", "admin"):
        listed = client.get("/api/v1/map/layers", headers=world.headers[who]).json()["items"]
        mine = [i for i in listed if i["key"] in ORG_LAYERS]
        assert [i["key"] for i in mine] == ORG_LAYERS, who
    labels = {i["key"]: (i["label"], i["kind"]) for i in mine}
    assert labels == {"orgs": ("组织", "points"), "alliances": ("联建覆盖", "choropleth"),
                      "needs": ("需求", "points"), "resources": ("资源", "points")}


def test_a_resident_is_offered_none_of_them_and_is_refused_each(client, world):
    make_user(world.session, username="zhaoayi", role="resident", scope=V1)
    world.session.commit()
    sign_in(client, "zhaoayi")  # residents hold no API tokens: the page's session cookie instead
    listed = [i["key"] for i in client.get("/api/v1/map/layers").json()["items"]]
    assert "regions" in listed and not set(listed) & set(ORG_LAYERS)
    for key in ORG_LAYERS:
        r = client.get(f"/api/v1/map/layers/{key}", params={"bbox": WHOLE, "zoom": 12})
        assert r.status_code == 403 and r.json()["error"]["message_zh"] == "您无权执行“查看组织、联建与清单”操作"


# -- 联建覆盖 ----------------------------------------------------------------------------------


def test_villages_are_coloured_by_the_alliance_covering_them(client, world, vw):
    body = get_layer(client, "alliances", world.headers["admin"])
    villages = props(body)
    assert sorted(villages) == [V1, V2, V3, V4] and body["kind"] == "choropleth"
    assert body["features"][0]["geometry"]["type"] == "Polygon"
    # 1村 and 2村 share the town alliance's colour (1村's own alliance covers only 1村).
    town_color = villages[V1]["color"]
    assert villages[V2]["color"] == town_color and town_color not in (org_layers.OWN[1], org_layers.UNCOVERED[1])
    assert villages[V3]["color"] == org_layers.PAIRED_ONLY[1] and villages[V4]["color"] == org_layers.UNCOVERED[1]
    assert body["legend"] == [{"label": TOWN_ALLIANCE, "color": town_color},
                              {"label": "仅有结对", "color": org_layers.PAIRED_ONLY[1]},
                              {"label": "未纳入联建", "color": org_layers.UNCOVERED[1]}]
    # The numbers a click shows: 1村 has both alliances, 3 + 1 member units, no pairing.
    one = villages[V1]
    assert one["alliances"] == [vw.town_alliance, vw.village_alliance]
    assert dict(one["popup"]) == {"党建联建": f"{TOWN_ALLIANCE}、{VILLAGE_ALLIANCE}",
                                  "牵头组织": "中共第1镇委员会、中共1村支部委员会", "成员单位": "4 家", "结对": "1 对"}
    assert one["href"] == f"/villages/{V1}" and one["tooltip"] == f"1011村：{TOWN_ALLIANCE}、{VILLAGE_ALLIANCE}"
    assert dict(villages[V3]["popup"])["结对"] == "1 对" and villages[V3]["pairings"] == 1
    assert dict(villages[V2]["popup"])["结对"] == "—" and dict(villages[V2]["popup"])["成员单位"] == "3 家"
    assert villages[V4]["tooltip"] == "1022村：未纳入联建"
    assert body["summary"] == "视野内 4 个村社（联建覆盖 2 个，仅有结对 1 个，未纳入联建 1 个），涉及 2 个党建联建"


def test_the_coverage_layer_keeps_to_the_villages_in_reach_and_in_the_box(client, world, vw):
    assert sorted(props(get_layer(client, "alliances", world.headers["dispatcher"]))) == [V1, V2]
    assert sorted(props(get_layer(client, "alliances", world.headers["cadre2"]))) == [V3]
    assert sorted(props(get_layer(client, "alliances", world.headers["hospital"]))) == [V1]
    # The west half of the lattice holds 第1镇 only.
    assert sorted(props(get_layer(client, "alliances", world.headers["admin"], bbox="121.30,29.80,121.39,29.90")))\
        == [V1, V2]


def test_too_many_shared_alliances_in_view_share_one_colour_beyond_the_widest(client, world, vw, monkeypatch):
    monkeypatch.setattr(org_layers, "NAMED_MAX", 0)
    villages = props(get_layer(client, "alliances", world.headers["admin"]))
    assert villages[V1]["color"] == villages[V2]["color"] == org_layers.SHARED[1]
    assert get_layer(client, "alliances", world.headers["admin"])["legend"][0] == {
        "label": "其他跨村党建联建", "color": org_layers.SHARED[1]}


# -- 需求 ----------------------------------------------------------------------------------------


def test_open_needs_are_coloured_by_urgency_and_the_long_unmatched_are_ringed(client, world, vw):
    body = get_layer(client, "needs", world.headers["admin"])
    shown = props(body)
    # The matched need (a project runs) is no longer open.
    assert sorted(shown) == sorted([vw.medical_need, vw.jobs_need, vw.legal_need]) and body["total"] == 3
    urgent, late = shown[vw.medical_need], shown[vw.jobs_need]
    assert urgent["color"] == "#e53935" and "stroke" not in urgent
    assert late["color"] == "#1e88e5" and late["stroke"] == org_layers.FLAG_STROKE
    assert dict(late["popup"])["已等待"] == "20 天（已超期未对接）" and "久未对接" in late["tooltip"]
    assert dict(urgent["popup"]) | {"提出日期": ""} == {
        "编号": vw.medical_need, "类型": "医疗健康", "紧急程度": "紧急", "需求方": "村(社区)", "所在区域": "1011村",
        "提出日期": "", "已等待": "0 天", "数量": "4"}
    assert urgent["href"] == f"/villages/{V1}#{vw.medical_need}"
    assert next(f for f in body["features"] if f["properties"]["code"] == vw.medical_need)["geometry"][
        "coordinates"] == [121.31, 29.81]
    assert body["flagged"] == 1 and body["summary"] == "视野内 3 项待对接需求，其中 1 项久未对接"
    assert [i["label"] for i in body["legend"]] == ["一般", "紧急", "黑圈：超过 14 天未对接"]


def test_needs_are_read_within_reach(client, world, vw):
    assert sorted(props(get_layer(client, "needs", world.headers["dispatcher"]))) == sorted(
        [vw.medical_need, vw.jobs_need])
    assert list(props(get_layer(client, "needs", world.headers["cadre"]))) == [vw.medical_need]
    assert list(props(get_layer(client, "needs", world.headers["cadre2"]))) == [vw.legal_need]
    assert list(props(get_layer(client, "needs", world.headers["hospital"]))) == [vw.medical_need]


# -- 资源 and 组织: the district's directory ------------------------------------------------------


def test_resources_are_the_districts_with_what_projects_left_of_them(client, world, vw):
    body = get_layer(client, "resources", world.headers["cadre2"])  # another town: the directory is shared
    shown = props(body)
    assert sorted(shown) == sorted([vw.clinic, vw.jobs, vw.fund])
    fund = dict(shown[vw.fund]["popup"])
    assert fund["剩余"] == "40 / 50 万元" and fund["提供单位"] == "国网第1镇供电所" and fund["提供期"] == "长期"
    kinds = org_layers._resource_kinds()
    assert shown[vw.clinic]["color"] == kinds["medical"][1] and shown[vw.jobs]["color"] == kinds["employment"][1]
    assert [i["label"] for i in body["legend"]] == ["医疗健康", "就业岗位", "资金支持"]
    # No address of its own: the unit's point stands in, else its region's centre.
    clinic = next(f for f in body["features"] if f["properties"]["code"] == vw.clinic)
    assert clinic["geometry"]["coordinates"] == [121.33, 29.82]


def test_organizations_show_kind_villages_served_and_masked_contacts_only(client, world, vw):
    r = client.get("/api/v1/map/layers/orgs", params={"bbox": WHOLE, "zoom": 16}, headers=world.headers["cadre2"])
    assert r.status_code == 200 and PHONE not in r.text
    body = r.json()
    shown = props(body)
    assert sorted(shown) == ["DW-T1", "DW-V1", "HS-RMYY", "QY-A", "QY-B", "XX-1", "ZX-1"] and body["total"] == 7
    firm = dict(shown["QY-A"]["popup"])
    assert firm == {"类型": "民营企业", "所在区域": "1011村", "服务村社": "1011村、1012村",
                    "联系人": "张建国（总经理） 138****5678"}
    assert dict(shown["DW-T1"]["popup"])["类型"] == "党组织（镇(街道)级）"
    assert shown["DW-T1"]["color"] == org_layers.ORG_GROUPS["party"][1]
    assert shown["ZX-1"]["color"] == org_layers.ORG_GROUPS["individual"][1]
    assert shown["QY-B"]["color"] == shown["QY-A"]["color"] == org_layers.ORG_GROUPS["enterprise"][1]
    # The town committee and the supply station both stand at 第1镇's centre: drawn apart.
    spots = {f["properties"]["code"]: tuple(f["geometry"]["coordinates"]) for f in body["features"]}
    assert spots["DW-T1"] != spots["QY-B"]
    assert [i["label"] for i in body["legend"]] == ["党组织", "事业单位", "企业", "政协委员、人大代表、新乡贤"]


def test_many_organizations_come_as_clusters_that_add_up(client, world, vw):
    for i in range(140):
        make_org(world.session, f"QY-M{i:03d}", region=V1, lon=121.305 + (i % 14) * 0.003,
                 lat=29.805 + (i // 14) * 0.004)
    world.session.commit()
    far = get_layer(client, "orgs", world.headers["admin"], zoom=11)
    counts = [f["properties"].get("count", 1) for f in far["features"]]
    assert far["clustered"] is True and far["total"] == 147 and sum(counts) == 147
    assert len(far["features"]) < 147 and "，已按位置聚合" in far["summary"]
    near = get_layer(client, "orgs", world.headers["admin"], zoom=15)
    assert not near.get("clustered") and len(near["features"]) == 147


# -- the event timeline and the village page's refusals ---------------------------------------


def test_an_event_turned_into_a_need_says_so_on_its_timeline(client, world):
    event = make_event(world.session, actor=world.cadre, text="返乡青年小王想找工作", category="1004",
                       lon=121.32, lat=29.81).event
    world.session.commit()
    r = client.post("/api/v1/needs/from-event", json={"event": event.code}, headers=world.headers["cadre"])
    assert r.status_code == 201, r.text
    steps = timeline(world.session, get_event(world.session, actor=world.cadre, code=event.code))
    last = steps[-1]
    assert (last["action"], last["label"], last["note"]) == ("raise_need", "转为需求", f"已转为需求 {r.json()['code']}")
    assert last["to_status"] == last["from_status"] == "reported" and last["data"] == {"need": r.json()["code"]}


def test_the_village_page_is_read_within_reach_and_offers_the_match_form_to_coordinators(client, world, vw):
    def page(username):
        client.cookies.clear()
        sign_in(client, username)
        return client.get(f"/villages/{V1}")

    mine = page("wangfang")  # 第1镇's dispatcher
    assert mine.status_code == 200 and TOWN_ALLIANCE in mine.text and vw.medical_need in mine.text
    assert f'action="/villages/{V1}/needs/{vw.medical_need}/match"' in mine.text
    cadre = page("wugang")  # 1村's cadre raises needs but does not confirm matches
    assert cadre.status_code == 200 and "/match\"" not in cadre.text and vw.clinic in cadre.text
    assert page("zhenghong").status_code == 404  # 3村's cadre
    assert page("admin").status_code == 200
    assert client.get(f"/villages/{TOWN1}").status_code == 422  # not a village


def test_confirming_a_match_needs_the_forms_token_and_the_need_of_that_village(client, world, vw):
    sign_in(client, "wangfang")
    token = csrf_of(client.get(f"/villages/{V1}").text)
    forged = client.post(f"/villages/{V1}/needs/{vw.medical_need}/match",
                         data={"resource": vw.clinic, "quantity": "4", "csrf_token": "forged"})
    assert forged.status_code == 403 and "表单已过期" in forged.text
    elsewhere = client.post(f"/villages/{V2}/needs/{vw.medical_need}/match",
                            data={"resource": vw.clinic, "quantity": "4", "csrf_token": token})
    assert elsewhere.status_code == 404 and "不属于该村(社区)" in elsewhere.text
    too_many = client.post(f"/villages/{V1}/needs/{vw.medical_need}/match",
                           data={"resource": vw.clinic, "quantity": "13", "csrf_token": token})
    assert too_many.status_code == 409 and "仅剩 12场" in too_many.text
    assert needs.find(world.session, vw.medical_need)[0].status == "open"
    done = client.post(f"/villages/{V1}/needs/{vw.medical_need}/match", follow_redirects=False,
                       data={"resource": vw.clinic, "quantity": "4", "owner_name": "王主任", "csrf_token": token})
    assert done.status_code == 303 and done.headers["location"].startswith(f"/villages/{V1}?done=matched#XM")
    assert needs.find(world.session, vw.medical_need)[0].status == "matched"
