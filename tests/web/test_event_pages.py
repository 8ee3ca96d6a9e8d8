"""/events and /events/{code} over HTTP, as the people who use them.

Cast (the lattice district 330203): 王芳 dispatches for 第1镇 (330203101); 李军 is a village cadre
of 村 330203101201; 钱晓 a grid worker of one of its micro-grids; 陈 handles for the village's
grid team; 赵一 dispatches for 第2镇 (330203102) and must not see 第1镇's events; an alliance
unit 马伟, who reads no events at all.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from builders import PASSWORD, lattice_tree, make_event, make_units, make_user
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from shanzhi.accounts.service import load_actor, system_actor
from shanzhi.audit.models import AuditEntry
from shanzhi.db import utcnow
from shanzhi.detect.classify import Suggestion
from shanzhi.events import export, photos, service
from shanzhi.events.models import Event
from shanzhi.geo import service as geo

VILLAGE = "330203101201"  # the village of the point 121.31, 29.81
OTHER_VILLAGE = "330203101202"  # same town, north half
FAR = {"lon": 121.45, "lat": 29.81}  # 第2镇
PILE = "小区门口路边有一堆暴露垃圾，气味很大"


@pytest.fixture
def town(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    people = {
        "wangfang": make_user(session, username="wangfang", role="dispatcher", scope="330203101"),
        "lijun": make_user(session, username="lijun", role="village_cadre", scope=VILLAGE),
        "qianxiao": make_user(session, username="qianxiao", role="grid_worker", scope=VILLAGE + "001001"),
        "chen": make_user(session, username="chen", role="handler", scope=VILLAGE, org=f"grid_team-{VILLAGE}"),
        "zhaoyi": make_user(session, username="zhaoyi", role="dispatcher", scope="330203102"),
        "dutychief": make_user(session, username="dutychief", role="duty_chief", scope="330203101"),
        "mawei": make_user(session, username="mawei", role="alliance_unit", scope="330203101"),
    }
    session.commit()
    return {"people": people, "admin": system_actor(session)}


def sign_in(client, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/events"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def codes_on(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)"', html)


def total_on(html: str) -> int:
    return int(re.search(r'id="events-total">共 <strong>([\d,]+)</strong>', html).group(1).replace(",", ""))


def steps_on(html: str) -> set[str]:
    return set(re.findall(r'data-step="(\w+)"', html))


def event(session, code: str) -> Event:
    session.expire_all()
    return session.scalar(select(Event).where(Event.code == code))


def post_step(client, code: str, name: str, **fields):
    page = client.get(f"/events/{code}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    data = {"csrf_token": csrf_of(page.text), "version": version.group(1) if version else "", **fields}
    return client.post(f"/events/{code}/steps/{name}", data=data, follow_redirects=False)


# -- the list ----------------------------------------------------------------------------------


def test_the_list_shows_what_is_in_reach_fifty_to_a_page_with_the_total(client, session, town):
    mine = [make_event(session, text=f"{PILE}，第{i}处").event.code for i in range(53)]
    theirs = make_event(session, text="第2镇的一堆垃圾没人管", **FAR).event.code
    session.commit()
    sign_in(client, "wangfang")

    first = client.get("/events")
    assert first.status_code == 200
    assert total_on(first.text) == 53
    assert codes_on(first.text) == mine[::-1][:50]  # newest first
    assert "第 1 / 2 页" in first.text
    second = client.get("/events?page=2")
    assert codes_on(second.text) == mine[::-1][50:]
    assert theirs not in first.text + second.text

    oldest = client.get("/events?sort=oldest")
    assert codes_on(oldest.text)[:3] == mine[:3]
    # The pager keeps the order and the filters in a bookmarkable URL.
    assert 'href="/events?sort=oldest&amp;page=2"' in oldest.text


def test_each_filter_narrows_the_list(client, session, town):
    admin = town["admin"]
    plain = make_event(session).event.code
    accepted = make_event(session, text="垃圾分类桶旁边垃圾混放，没人分拣", category="0102").event.code
    service.transition(session, actor=admin, code=accepted, name="accept")
    north = make_event(session, text="北边村口有人违章搭建彩钢棚", category="0301", lat=29.87).event.code
    hotline = make_event(session, actor=admin, text="热线来电：路灯坏了好几天，晚上很黑", category="0401",
                         channel="hotline").event.code
    session.commit()
    sign_in(client, "wangfang")

    def listed(query: str) -> set[str]:
        page = client.get(f"/events?{query}")
        assert page.status_code == 200, page.text
        assert total_on(page.text) == len(codes_on(page.text))
        return set(codes_on(page.text))

    everything = {plain, accepted, north, hotline}
    page = client.get("/events").text
    regions = re.findall(r'<option value="(\d+)"', re.search(r'<select name="region">.*?</select>', page, re.DOTALL)[0])
    assert regions == ["330203101", VILLAGE, OTHER_VILLAGE]  # his town and its villages, nothing beyond
    assert listed("") == everything
    assert listed("status=accepted") == {accepted}
    assert listed("category=01") == {plain, accepted}  # a major: all its minors
    assert listed("category=0102") == {accepted}
    assert listed(f"region={OTHER_VILLAGE}") == {north}
    assert listed("channel=hotline") == {hotline}
    assert listed("q=路灯") == {hotline}
    assert listed(f"q={north}") == {north}  # a whole code finds its event
    assert listed("deadline=none") == everything - {accepted}
    assert listed("deadline=normal") == {accepted}
    assert listed("deadline=red") == set()
    assert listed("status=reported&category=01") == {plain}


def test_the_deadline_filter_agrees_with_the_badge_shown(client, session, town):
    admin = town["admin"]
    late = make_event(session, text="路边暴露垃圾三天没人清理了").event.code
    service.transition(session, actor=admin, code=late, name="accept", now=utcnow() - timedelta(days=30))
    nearly = make_event(session, text="小区门口垃圾桶满了溢出来").event.code
    service.transition(session, actor=admin, code=nearly, name="accept")
    now = utcnow()
    row = event(session, nearly)
    # Nine tenths of a round-the-clock limit gone: past the yellow mark, before the deadline.
    row.limit_unit, row.clock_started_at = "calendar_hours", now - timedelta(hours=9)
    row.yellow_at, row.due_at = now - timedelta(hours=1), now + timedelta(hours=1)
    session.commit()
    sign_in(client, "wangfang")

    red = client.get("/events?deadline=red").text
    assert codes_on(red) == [late] and "红灯超期" in red
    yellow = client.get("/events?deadline=yellow").text
    assert codes_on(yellow) == [nearly] and "黄灯预警" in yellow
    assert codes_on(client.get("/events?sort=due").text)[:2] == [late, nearly]  # nearest deadline first
    # The API takes the same filter (the session cookie serves a GET).
    assert [e["code"] for e in client.get("/api/v1/events?deadline=red").json()["items"]] == [late]


def test_a_bad_filter_value_is_a_clear_422_and_the_list_needs_a_login_and_event_reading(client, session, town):
    assert client.get("/events", follow_redirects=False).status_code == 303  # to /login
    sign_in(client, "wangfang")
    page = client.get("/events?status=bogus")
    assert page.status_code == 422 and "未知状态" in page.text
    assert client.get("/events?deadline=purple").status_code == 422
    assert client.get("/events?page=0").status_code == 422
    sign_in(client, "mawei")
    refused = client.get("/events")
    assert refused.status_code == 403 and "查看事件" in refused.text


# -- the export --------------------------------------------------------------------------------


def sheet_rows(content: bytes, name: str = "事件列表") -> list[tuple]:
    return list(load_workbook(io.BytesIO(content), read_only=True)[name].iter_rows(values_only=True))


def test_the_export_holds_the_filtered_events_under_chinese_headers_and_never_a_phone(client, session, town):
    made = [make_event(session, text=f"{PILE}，第{i}处", reporter_name="张阿姨", reporter_phone="13912345678").event.code
            for i in range(3)]
    make_event(session, actor=town["admin"], text="热线来电：路灯坏了好几天，晚上很黑", category="0401", channel="hotline")
    make_event(session, text="第2镇的一堆垃圾没人管", **FAR)
    session.commit()
    sign_in(client, "wangfang")

    r = client.get("/events/export?category=0101")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in r.headers["content-disposition"] and ".xlsx" in r.headers["content-disposition"]
    rows = sheet_rows(r.content)
    header = rows[0]
    assert header[:5] == ("事件编号", "状态", "大类", "小类", "事件描述")
    assert "上报时间" in header and "处置时限" in header and "时限状态" in header
    body = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [b["事件编号"] for b in body] == made[::-1]
    first = body[0]
    assert first["状态"] == "待受理" and first["大类"] == "市容环卫" and first["小类"] == "暴露垃圾/垃圾堆放"
    assert first["镇街"] == "第1镇" and first["来源渠道"] == "居民上报" and first["时限状态"] == "无时限"
    assert first["上报时间"].year >= 2026  # a real date cell, not text
    cells = " ".join(str(v) for row in rows for v in row)
    assert "13912345678" not in cells and "5678" not in cells and "张阿姨" not in cells
    notes = dict(sheet_rows(r.content, "导出说明"))
    assert notes["事件条数"] == 3 and notes["类别"] == "暴露垃圾/垃圾堆放"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "event.export")).all()
    assert [a.actor_name for a in audit] == ["dispatcher@330203101"]
    assert client.get("/events/export?status=bogus").status_code == 422

    # The list page's export link carries the same filters.
    listed = client.get("/events?category=0101&channel=resident").text
    assert 'href="/events/export?category=0101&amp;channel=resident"' in listed


def test_the_export_stops_at_its_cap_and_says_so(session, town):
    for i in range(4):
        make_event(session, text=f"{PILE}，第{i}处")
    out = io.BytesIO()
    actor = load_actor(session, town["people"]["wangfang"])
    assert export.write_xlsx(session, out, actor=actor, cap=3) == 3
    rows = sheet_rows(out.getvalue())
    assert len(rows) == 4  # the header and three events
    notes = dict(sheet_rows(out.getvalue(), "导出说明"))
    assert "只导出前 3 条" in notes["提示"]


def test_text_with_control_characters_and_markup_survives_the_export(session, town):
    text = "路边<垃圾>&杂物\x0b堆放，已经很久了\x01"
    code = make_event(session, text=text).event.code
    out = io.BytesIO()
    export.write_xlsx(session, out, actor=load_actor(session, town["people"]["wangfang"]))
    row = sheet_rows(out.getvalue())[1]
    assert row[0] == code and row[4] == "路边<垃圾>&杂物堆放，已经很久了"


# -- the event page: what it shows -------------------------------------------------------------


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def test_the_event_page_shows_the_event_its_photos_timeline_and_duplicates(client, session, town):
    worker = load_actor(session, town["people"]["qianxiao"])
    first = make_event(session, actor=worker, text=PILE).event.code
    second = make_event(session, actor=worker, text="小区门口那堆垃圾还在路边，很臭", lon=121.3102).event.code
    photo = photos.add_photo(session, actor=worker, code=second, data=png())
    session.commit()
    sign_in(client, "wangfang")

    page = client.get(f"/events/{second}")
    assert page.status_code == 200
    html = page.text
    assert second in html and "待受理" in html and "暴露垃圾/垃圾堆放" in html
    assert "第1镇" in html and "受理后起算" in html
    thumb = f'/api/v1/events/{second}/photos/{photo.id}?thumb=true'
    assert f'src="{thumb}"' in html and f'href="/api/v1/events/{second}/photos/{photo.id}"' in html
    assert client.get(thumb).headers["content-type"] == "image/jpeg"
    assert html.count('<li class="tl-') == 2 and "上传照片" in html  # report, photo
    # The other pile is a likely duplicate, with a merge button for the dispatcher.
    dup = re.search(rf'<li data-code="{first}">(.*?)</li>', html, re.DOTALL).group(1)
    assert "相距" in dup and "小时" in dup and "%" in dup
    assert f'name="into" value="{first}"' in dup
    assert re.search(r'id="suggestions".*?\d+%', html, re.DOTALL)
    # A grid worker reads the same event but may not merge it.
    sign_in(client, "qianxiao")
    assert 'name="into"' not in client.get(f"/events/{second}").text


def test_uncertain_suggestions_are_marked(client, session, town, monkeypatch):
    code = make_event(session, text="这里有点问题，麻烦来看看").event.code
    session.commit()
    sign_in(client, "wangfang")
    unsure = [Suggestion("0101", "暴露垃圾/垃圾堆放", 0.31, True), Suggestion("0104", "道路积水/路面不洁", 0.22, True)]
    monkeypatch.setattr("shanzhi.detect.classify.suggest", lambda text, k=3: unsure)
    html = client.get(f"/events/{code}").text
    assert "不确定" in html and "31%" in html and "22%" in html
    sure = [Suggestion("0101", "暴露垃圾/垃圾堆放", 0.93, False)]
    monkeypatch.setattr("shanzhi.detect.classify.suggest", lambda text, k=3: sure)
    html = client.get(f"/events/{code}").text
    assert "93%" in html and "不确定" not in html


def test_an_event_outside_reach_is_not_found(client, session, town):
    code = make_event(session, text="第2镇的一堆垃圾没人管", **FAR).event.code
    session.commit()
    sign_in(client, "wangfang")
    assert client.get(f"/events/{code}").status_code == 404
    assert client.get("/events/HS-XX-20260101-9999").status_code == 404


# -- the event page: actions -------------------------------------------------------------------


def test_each_role_is_offered_exactly_the_steps_it_may_take_now(client, session, town):
    code = make_event(session).event.code  # 0101: village tier, may be closed on the spot
    session.commit()
    offered = {}
    for who in ("wangfang", "lijun", "qianxiao", "chen", "dutychief"):
        sign_in(client, who)
        offered[who] = steps_on(client.get(f"/events/{code}").text)
    assert offered == {
        "wangfang": {"accept", "reject", "merge"},
        "lijun": {"accept", "reject", "on_the_spot", "merge"},
        "qianxiao": {"on_the_spot"},
        "chen": set(),
        "dutychief": {"accept", "reject", "merge"},
    }

    admin = town["admin"]
    service.transition(session, actor=admin, code=code, name="accept")
    service.transition(session, actor=admin, code=code, name="dispatch")  # to the village's grid team
    session.commit()
    sign_in(client, "chen")
    assert steps_on(client.get(f"/events/{code}").text) == {"start", "return", "resolve", "escalate",
                                                            "request_extension"}
    sign_in(client, "dutychief")
    assert steps_on(client.get(f"/events/{code}").text) == {"escalate"}  # nothing to approve yet
    service.transition(session, actor=admin, code=code, name="request_extension", amount=2, reason="材料未到")
    session.commit()
    page = client.get(f"/events/{code}").text
    assert steps_on(page) == {"escalate", "approve_extension"} and "延期待批 2 工作小时" in page


def test_a_village_cadre_is_not_offered_a_town_tier_event(client, session, town):
    code = make_event(session, text="村口有人违章搭建彩钢棚", category="0301").event.code
    session.commit()
    sign_in(client, "lijun")
    assert steps_on(client.get(f"/events/{code}").text) == {"merge"}  # tiered steps are the town's
    r = post_step(client, code, "accept")
    assert r.status_code == 403 and "超出您的处置层级" in r.text
    assert event(session, code).status == "reported"


def test_a_dispatcher_accepts_with_a_corrected_category_and_dispatches_to_the_unit_chosen(client, session, town):
    code = make_event(session, text="垃圾分类桶旁边垃圾混放，没人分拣").event.code  # filed as 0101
    session.commit()
    sign_in(client, "wangfang")
    page = client.get(f"/events/{code}").text
    accept_form = re.search(r'data-step="accept".*?</form>', page, re.DOTALL).group(0)
    assert '<option value="0101" selected>' in accept_form  # the current category by default

    r = post_step(client, code, "accept", category="0102")
    assert r.status_code == 303 and r.headers["location"] == f"/events/{code}?done=accept"
    shown = client.get(r.headers["location"]).text
    assert "已完成「受理」。" in shown
    row = event(session, code)
    assert row.status == "accepted" and row.category_code == "0102" and row.category_source == "corrected"

    # The dispatch form lists the units serving the place, the policy's proposal preselected.
    dispatch_form = re.search(r'data-step="dispatch".*?</form>', shown, re.DOTALL).group(0)
    proposed = re.search(r'<option value="([^"]+)" selected>[^<]*（建议）', dispatch_form).group(1)
    assert proposed == f"village_committee-{VILLAGE}"  # 0102's handler type, in the event's village
    assert f"grid_team-{VILLAGE}" in dispatch_form and "enforcement_team-330203101" in dispatch_form
    assert "330203102" not in dispatch_form  # the other town's units do not serve this place
    r = post_step(client, code, "dispatch", unit="enforcement_team-330203101")
    assert r.status_code == 303
    row = event(session, code)
    assert row.status == "dispatched" and row.routing_overridden
    assert "第1镇enforcement_team" in client.get(f"/events/{code}").text


def test_a_failed_step_shows_the_reason_and_keeps_what_was_typed(client, session, town):
    code = make_event(session).event.code
    session.commit()
    sign_in(client, "wangfang")
    r = post_step(client, code, "reject", reason="")
    assert r.status_code == 422 and "需要填写" in r.text
    r = post_step(client, code, "merge", into="HS-XX-20260101-9999", reason="")
    assert r.status_code == 404 and 'value="HS-XX-20260101-9999"' in r.text
    assert event(session, code).status == "reported"


@pytest.mark.parametrize(("who", "step", "fields", "status"), [
    ("qianxiao", "dispatch", {}, 403),            # a grid worker may not dispatch
    ("chen", "accept", {}, 403),                  # a handler may not accept
    ("zhaoyi", "accept", {}, 404),                # another town's event does not exist for him
    ("wangfang", "close", {}, 409),               # not from 待受理
    ("wangfang", "on_the_spot", {"result": "已清理"}, 403),  # not a dispatcher's step
    ("wangfang", "fly", {}, 422),                 # no such step
])
def test_a_forged_step_is_refused_by_the_service(client, session, town, who, step, fields, status):
    code = make_event(session).event.code
    session.commit()
    sign_in(client, who)
    seen = client.get(f"/events/{code}")
    token = csrf_of(seen.text if seen.status_code == 200 else client.get("/events").text)
    r = client.post(f"/events/{code}/steps/{step}", data={"csrf_token": token, "version": "1", **fields},
                    follow_redirects=False)
    assert r.status_code == status
    assert event(session, code).status == "reported"


def test_a_stale_version_is_refused(client, session, town):
    code = make_event(session).event.code
    session.commit()
    sign_in(client, "wangfang")
    token = csrf_of(client.get(f"/events/{code}").text)
    service.transition(session, actor=town["admin"], code=code, name="accept")  # someone was quicker
    session.commit()
    r = client.post(f"/events/{code}/steps/dispatch", data={"csrf_token": token, "version": "1"})
    assert r.status_code == 409 and "已被他人更新" in r.text
    assert event(session, code).status == "accepted"


def test_a_step_without_the_csrf_token_is_refused(client, session, town):
    code = make_event(session).event.code
    session.commit()
    sign_in(client, "wangfang")
    client.get(f"/events/{code}")
    r = client.post(f"/events/{code}/steps/accept", data={"version": "1"}, follow_redirects=False)
    assert r.status_code == 403 and "表单已过期" in r.text
    r = client.post(f"/events/{code}/steps/accept", data={"version": "1", "csrf_token": "forged"})
    assert r.status_code == 403
    assert event(session, code).status == "reported"
