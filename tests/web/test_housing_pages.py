"""The housing phone pages over HTTP: a grid worker finds a building, registers, renews and ends a
tenancy, records an inspection with photos, re-inspects a finding and turns one into an event;
personal data stays masked unless someone allowed to reveals it, with a reason.

Cast (the lattice district 330203): 钱晓 (qianxiao) is the grid worker of micro-grid MG1, where
the building 河东路 12 号 stands; 孙丽 (sunli) works MG2 and must not see it; 周敏 (zhoumin) is a
民情联络员 of the village, who may look (housing.read) but not register or inspect; 李强 (liqiang)
is the town's duty chief, who may reveal a tenant's full ID number and phone (housing.reveal).
"""

from __future__ import annotations

import io
import re

import pytest
from builders import PASSWORD, actor_of, lattice_tree, make_user
from fastapi.testclient import TestClient
from housing.housing_helpers import (
    IN_MG1,
    IN_MG2,
    MG1,
    MG2,
    TOWN,
    VILLAGE,
    bad_checksum,
    building_body,
    make_id,
)
from PIL import Image
from sqlalchemy import func, select

from shanzhi.audit.models import AuditEntry
from shanzhi.events import photos
from shanzhi.events.models import Event
from shanzhi.geo import service as geo
from shanzhi.housing import inspections, registrations, service
from shanzhi.housing.models import (
    Finding,
    Inspection,
    InspectionPhoto,
    Person,
    Registration,
)
from shanzhi.housing.people import PersonInput
from shanzhi.housing.service import BuildingInput, UnitInput


def make_building(session, actor, point=IN_MG1, address="藕缆桥村河东路 12 号"):
    """A building with the three rooms of housing_helpers.building_body, through the service."""
    body = building_body(point, address=address)
    data = BuildingInput(address=body["address"], lon=point[0], lat=point[1], use=body["use"], floors=body["floors"],
                         construction=body["construction"])
    units = [UnitInput(**u) for u in body["units"]]
    return service.create_building(session, actor=actor, data=data, units=units)


@pytest.fixture
def town(session):
    geo.import_regions(session, data=lattice_tree())
    users = {
        "qianxiao": make_user(session, username="qianxiao", role="grid_worker", scope=MG1),
        "sunli": make_user(session, username="sunli", role="grid_worker", scope=MG2),
        "zhoumin": make_user(session, username="zhoumin", role="liaison", scope=VILLAGE),
        "liqiang": make_user(session, username="liqiang", role="duty_chief", scope=TOWN),
    }
    worker = actor_of(session, users["qianxiao"])
    building = make_building(session, worker)
    make_building(session, actor_of(session, users["sunli"]), IN_MG2, "藕缆桥村河西路 3 号")
    session.commit()
    units = {u["number"]: u["id"] for u in service.building_detail(session, actor=worker,
                                                                   building_id=building.id)["units"]}
    return {"users": users, "worker": worker, "building": building, "units": units}


def page_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def login(client: TestClient, username: str) -> None:
    csrf = page_value(client.get("/login").text, "csrf_token")
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf,
                                    "next": "/m/housing"}, follow_redirects=False)
    assert r.status_code == 303, r.text


def post(client: TestClient, page: str, action: str, data: dict):
    csrf = page_value(client.get(page).text, "csrf_token")
    return client.post(action, data={"csrf_token": csrf, **data}, follow_redirects=False)


def tenant(unit_id: int, seq: int = 7, **over) -> dict:
    return {"unit_id": str(unit_id), "name": "李明华", "id_number": make_id(seq), "phone": "13805740007",
            "start_date": "2026-01-05", "end_date": "", "purpose": "work", **over}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def image(kind: str = "JPEG", color: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), color).save(out, kind)
    return out.getvalue()


def post_with_photos(client: TestClient, page: str, action: str, data: dict, files: list[tuple[str, bytes]]):
    """A multipart form, as the phone sends it: the fields and each chosen photo as a `photos` part."""
    csrf = page_value(client.get(page).text, "csrf_token")
    return client.post(action, data={"csrf_token": csrf, **data}, follow_redirects=False,
                       files=[("photos", (name, content, "image/jpeg")) for name, content in files])


def lodge(session, town, seq: int = 11, unit: str = "102", end_date=None) -> Registration:
    reg = registrations.register(session, actor=town["worker"], unit_id=town["units"][unit],
                                 person=PersonInput("张伟", make_id(seq), f"1380574{seq:04d}"),
                                 start_date=registrations.today_local(), end_date=end_date)
    session.commit()
    return reg


# -- finding a building ------------------------------------------------------------------------


def test_a_grid_worker_finds_her_building_by_address_and_near_her(client, town):
    login(client, "qianxiao")
    r = client.get("/m/housing", params={"q": "河东路"})
    assert r.status_code == 200
    assert f'/m/housing/buildings/{town["building"].id}' in r.text and "藕缆桥村河东路 12 号" in r.text
    near = client.get("/m/housing", params={"near": f"{IN_MG1[0] + 0.001},{IN_MG1[1]}"})
    assert "藕缆桥村河东路 12 号" in near.text and "附近" in near.text
    far = client.get("/m/housing", params={"near": "121.34,29.80"})
    assert "没有找到" in far.text


def test_a_building_of_another_grid_is_neither_found_nor_shown(client, town):
    login(client, "sunli")
    found = client.get("/m/housing", params={"q": "藕缆桥村"}).text
    assert "藕缆桥村河西路 3 号" in found and f'/m/housing/buildings/{town["building"].id}"' not in found
    assert client.get(f'/m/housing/buildings/{town["building"].id}').status_code == 404


def test_a_nonsense_position_is_a_chinese_message_not_a_500(client, town):
    login(client, "qianxiao")
    r = client.get("/m/housing", params={"near": "north,pole"})
    assert r.status_code == 422 and "定位坐标格式不正确" in r.text


# -- tenancies ---------------------------------------------------------------------------------


def test_an_id_number_with_a_bad_checksum_is_refused_next_to_the_field_and_nothing_is_written(client, session, town):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    people = count(session, Person)
    r = post(client, page, f"{page}/tenancies", tenant(town["units"]["101"], id_number=bad_checksum(make_id(7))))
    assert r.status_code == 422
    error = re.search(r'data-error-for="id_number">([^<]+)<', r.text)
    assert error and "校验" in error.group(1)
    assert 'value="李明华"' in r.text  # what was typed stays
    assert count(session, Registration) == 0 and count(session, Person) == people


def test_a_registered_tenant_is_shown_masked(client, session, town):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    id_number = make_id(7)
    r = post(client, page, f"{page}/tenancies", tenant(town["units"]["101"]))
    assert r.status_code == 303 and r.headers["location"].startswith(page + "?done=registered")
    shown = client.get(r.headers["location"]).text
    assert "居住登记已完成" in shown and "李明华" in shown
    assert id_number not in shown and "13805740007" not in shown
    assert f"{id_number[:4]}**********{id_number[-4:]}" in shown and "138****0007" in shown
    [reg] = session.scalars(select(Registration)).all()
    assert (reg.unit_id, reg.status) == (town["units"]["101"], "active")


def test_a_tenant_with_a_passport_is_registered_from_the_form_and_shown_with_its_label(client, session, town):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    form = client.get(page).text
    assert re.search(r'<select name="id_type"[^>]*>\s*<option value="resident_id"[^>]*>居民身份证</option>', form)
    assert "证件号码" in form
    bad = post(client, page, f"{page}/tenancies", tenant(town["units"]["101"], id_type="passport", id_number="E1-2"))
    error = re.search(r'data-error-for="id_number">([^<]+)<', bad.text)
    assert bad.status_code == 422 and error and "护照号码" in error.group(1)
    assert re.search(r'<option value="passport" selected>', bad.text)  # the chosen type stays
    r = post(client, page, f"{page}/tenancies", tenant(town["units"]["101"], id_type="passport", id_number="E12345678"))
    assert r.status_code == 303, r.text
    shown = client.get(r.headers["location"]).text
    assert "E12345678" not in shown
    assert re.search(r'data-field="id_type">护照</span>\s*<span class="mono h-masked" data-field="id_number">E\*{5}678<',
                     shown)
    assert session.scalars(select(Person).where(Person.name == "李明华")).one().id_type == "passport"


def test_ending_a_tenancy_keeps_it_in_the_history(client, session, town):
    reg = lodge(session, town)
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    refused = post(client, page, f"{page}/tenancies/{reg.id}/end", {"reason": "", "version": str(reg.version)})
    assert refused.status_code == 422 and "请填写注销原因" in refused.text
    r = post(client, page, f"{page}/tenancies/{reg.id}/end", {"reason": "租期届满已搬离", "version": str(reg.version)})
    assert r.status_code == 303
    assert "张伟" not in client.get(page).text  # no longer living there …
    session.expire_all()
    kept = session.get(Registration, reg.id)  # … but never deleted
    assert (kept.status, kept.end_reason) == ("ended", "租期届满已搬离")
    assert [x["status"] for x in registrations.person_detail(session, actor=town["worker"],
                                                             person_id=kept.person_id)["registrations"]] == ["ended"]


def test_a_tenancy_is_renewed_and_a_stale_form_is_a_conflict_not_a_500(client, session, town):
    today = registrations.today_local()
    reg = lodge(session, town, end_date=today.replace(year=today.year + 1))
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    shown = client.get(page).text
    assert f"{page}/tenancies/{reg.id}/renew" in shown and "续期" in shown
    new_end = today.replace(year=today.year + 2).isoformat()
    # Someone else changed the registration after this phone loaded the page.
    session.get(Registration, reg.id).version += 1
    session.commit()
    stale = post(client, page, f"{page}/tenancies/{reg.id}/renew", {"end_date": new_end, "version": str(reg.version - 1)})
    assert stale.status_code == 409 and "已被他人修改" in stale.text
    assert f'value="{new_end}"' in stale.text  # the date typed stays
    session.expire_all()
    assert session.get(Registration, reg.id).status == "active" and count(session, Registration) == 1

    r = post(client, page, f"{page}/tenancies/{reg.id}/renew", {"end_date": new_end, "version": str(reg.version)})
    assert r.status_code == 303 and "done=renewed" in r.headers["location"]
    shown = client.get(r.headers["location"]).text
    assert "租住已续期" in shown and f"至 {new_end}" in shown
    session.expire_all()
    old, new = session.scalars(select(Registration).order_by(Registration.id)).all()
    assert (old.status, new.status, new.renewed_from_id, new.end_date.isoformat()) == (
        "renewed", "active", old.id, new_end)
    # The same form sent twice renews once.
    again = post(client, page, f"{page}/tenancies/{reg.id}/renew", {"end_date": new_end, "version": str(reg.version)})
    assert again.status_code == 409 and "只有在住的登记可以续期" in again.text


# -- revealing a tenant's full details -----------------------------------------------------------


def test_only_someone_who_may_reveal_sees_the_button(client, session, town):
    reg = lodge(session, town)
    page = f'/m/housing/buildings/{town["building"].id}'
    login(client, "qianxiao")
    shown = client.get(page).text
    assert "查看完整信息" not in shown and "/reveal" not in shown
    login(client, "liqiang")
    shown = client.get(page).text
    assert "查看完整信息" in shown and f"{page}/people/{reg.person_id}/reveal" in shown
    assert make_id(11) not in shown  # the button, not the value


def test_a_reveal_shows_the_full_values_once_uncached_and_is_audited(client, session, town):
    reg = lodge(session, town)
    page = f'/m/housing/buildings/{town["building"].id}'
    action = f"{page}/people/{reg.person_id}/reveal"
    login(client, "liqiang")
    no_reason = post(client, page, action, {"show_id_number": "1", "show_phone": "1", "reason": " "})
    assert no_reason.status_code == 422 and "请填写查看原因" in no_reason.text
    assert make_id(11) not in no_reason.text

    r = post(client, page, action, {"show_id_number": "1", "show_phone": "1", "reason": "派出所协查核对身份"})
    assert r.status_code == 200 and "location" not in r.headers  # in this page, never in a URL
    assert r.headers["cache-control"] == "no-store"
    assert r.text.count(make_id(11)) == 1 and r.text.count("13805740011") == 1
    assert "仅本次显示" in r.text
    row = session.scalars(select(AuditEntry).where(AuditEntry.action == "housing.reveal",
                                                   AuditEntry.outcome == "allowed")).one()
    assert row.target_id == str(reg.person_id) and "派出所协查核对身份" in row.summary
    assert make_id(11) not in row.summary
    # Only the ticked field is revealed; the next visit is masked again.
    phone_only = post(client, page, action, {"show_phone": "1", "reason": "联系租客核实"})
    assert "13805740011" in phone_only.text and make_id(11) not in phone_only.text
    assert make_id(11) not in client.get(page).text


def test_a_forged_reveal_is_refused_with_a_chinese_403_and_audited(client, session, town):
    reg = lodge(session, town)
    page = f'/m/housing/buildings/{town["building"].id}'
    login(client, "qianxiao")  # a grid worker: she may register tenants but not reveal them
    r = post(client, page, f"{page}/people/{reg.person_id}/reveal",
             {"show_id_number": "1", "show_phone": "1", "reason": "核查租客身份"})
    assert r.status_code == 403 and "您无权" in r.text
    assert make_id(11) not in r.text and "13805740011" not in r.text
    denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "housing.reveal")).all()
    assert [(d.outcome, d.target_id) for d in denied] == [("denied", str(reg.person_id))]


# -- inspections -------------------------------------------------------------------------------


def test_an_inspection_makes_a_finding_that_becomes_an_event_in_one_tap(client, session, town):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    r = post(client, page, f"{page}/inspections", {
        "unit_id": "", "item_fire_exit": "ok", "item_ebike_charging": "fail",
        "note_ebike_charging": "一楼楼道飞线充电", "item_gas": "skip", "notes": "房东在场"})
    assert r.status_code == 303
    shown = client.get(r.headers["location"]).text
    assert "检查记录已保存" in shown and "电动车规范停放充电" in shown and "一楼楼道飞线充电" in shown
    [finding] = session.scalars(select(Finding)).all()
    assert finding.item == "ebike_charging" and finding.deadline.isoformat() in shown
    r = post(client, page, f"{page}/findings/{finding.id}/event", {})
    assert r.status_code == 303
    session.expire_all()
    event = session.get(Event, session.get(Finding, finding.id).event_id)
    assert event.category_code == "0602" and event.code in r.headers["location"]
    assert event.code in client.get(r.headers["location"]).text and "已转事件" in client.get(page).text
    again = post(client, page, f"{page}/findings/{finding.id}/event", {})
    assert again.status_code == 409 and "已转为事件" in again.text


def test_a_checklist_item_that_does_not_apply_to_a_room_is_left_out(client, session, town):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    r = post(client, page, f"{page}/inspections", {"unit_id": str(town["units"]["201"]),
                                                    "item_three_in_one": "fail", "item_gas": "ok"})
    assert r.status_code == 303
    assert count(session, Finding) == 0  # 三合一 is checked on a whole building only


def test_an_inspection_keeps_its_photos_and_shows_them_to_those_who_may_see_it(client, session, town):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    r = post_with_photos(client, page, f"{page}/inspections",
                         {"unit_id": "", "item_fire_exit": "fail", "note_fire_exit": "楼梯间堆放杂物"},
                         [("exit.jpg", image()), ("stairs.png", image("PNG", "gray"))])
    assert r.status_code == 303, r.text
    inspection = session.scalars(select(Inspection)).one()
    stored = session.scalars(select(InspectionPhoto).order_by(InspectionPhoto.id)).all()
    assert [(p.inspection_id, p.mime) for p in stored] == [(inspection.id, "image/jpeg")] * 2
    shown = client.get(page).text
    urls = [f"/api/v1/housing/inspections/{inspection.id}/photos/{p.id}" for p in stored]
    assert all(f'src="{url}?thumb=true"' in shown for url in urls)
    thumb = client.get(f"{urls[0]}?thumb=true")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    login(client, "sunli")  # another grid: not hers to see
    assert client.get(urls[0]).status_code == 404


@pytest.mark.parametrize("bad, message", [
    (b"<html>not a photo</html>", "第 2 张照片：不是有效的图片"),
    (b"\xff" * (photos.MAX_BYTES + 1), "第 2 张照片：照片不能超过 10 MB"),
], ids=["not-an-image", "too-big"])
def test_a_bad_photo_refuses_the_whole_inspection(client, session, town, bad, message):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    r = post_with_photos(client, page, f"{page}/inspections",
                         {"unit_id": "", "item_gas": "fail", "note_gas": "钢瓶过期"},
                         [("good.jpg", image()), ("bad.jpg", bad)])
    assert r.status_code in (413, 422) and message in r.text
    assert "照片未保存，请重新选择" in r.text and 'value="钢瓶过期"' in r.text
    assert (count(session, Inspection), count(session, InspectionPhoto), count(session, Finding)) == (0, 0, 0)


def test_a_finding_is_re_inspected_from_the_page_with_a_photo(client, session, town):
    first, [finding], _ = inspections.record_inspection(
        session, actor=town["worker"], building_id=town["building"].id,
        answers={"gas": inspections.Answer(False, "钢瓶过期")})
    session.commit()
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    action = f"{page}/findings/{finding.id}/recheck"
    assert action in client.get(page).text
    undecided = post_with_photos(client, page, action, {"note": "已更换"}, [])
    assert undecided.status_code == 422 and "请选择复查结果" in undecided.text
    still = post_with_photos(client, page, action, {"verdict": "fail", "note": "尚未更换"}, [])
    assert still.status_code == 303 and "done=rechecked" in still.headers["location"]
    assert count(session, Finding) == 1  # kept, never duplicated
    r = post_with_photos(client, page, action, {"verdict": "ok", "note": "已更换新钢瓶"}, [("gas.jpg", image())])
    assert r.status_code == 303 and "done=resolved" in r.headers["location"]
    session.expire_all()
    assert session.get(Finding, finding.id).status == "resolved"
    last = session.scalars(select(Inspection).order_by(Inspection.id.desc())).first()
    assert last.reinspection_of_id == first.id and last.passed
    assert [p.inspection_id for p in session.scalars(select(InspectionPhoto))] == [last.id]
    shown = client.get(r.headers["location"]).text
    assert "问题已整改销号" in shown and "暂无待整改问题" in shown and "复查" in shown


# -- who may do what ---------------------------------------------------------------------------


def test_a_liaison_sees_the_building_masked_but_no_forms_and_a_forged_post_is_refused(client, session, town):
    registrations.register(session, actor=town["worker"], unit_id=town["units"]["101"],
                           person=PersonInput("王芳", make_id(21), "13805740021"),
                           start_date=registrations.today_local())
    inspections.record_inspection(session, actor=town["worker"], building_id=town["building"].id,
                                  answers={"gas": inspections.Answer(False, "钢瓶过期")})
    session.commit()
    login(client, "zhoumin")
    page = f'/m/housing/buildings/{town["building"].id}'
    shown = client.get(page)
    assert shown.status_code == 200 and "王芳" in shown.text and make_id(21) not in shown.text
    assert "<form" not in shown.text.split("<main", 1)[1]  # no register, end, inspect or escalate
    before = count(session, Registration)
    # A forged form, with a valid token taken from another page of hers.
    forged = post(client, "/account", f"{page}/tenancies", tenant(town["units"]["102"], seq=22))
    assert forged.status_code == 403
    finding = session.scalars(select(Finding)).one()
    assert post(client, "/account", f"{page}/findings/{finding.id}/event", {}).status_code == 403
    assert post(client, "/account", f"{page}/findings/{finding.id}/recheck", {"verdict": "ok"}).status_code == 403
    reg = session.scalars(select(Registration)).one()
    assert post(client, "/account", f"{page}/tenancies/{reg.id}/renew", {"end_date": "2030-01-01"}).status_code == 403
    session.expire_all()
    assert count(session, Registration) == before and session.get(Finding, finding.id).event_id is None
    assert count(session, Inspection) == 1


def test_a_post_without_the_csrf_token_is_refused(client, session, town):
    login(client, "qianxiao")
    page = f'/m/housing/buildings/{town["building"].id}'
    r = client.post(f"{page}/tenancies", data=tenant(town["units"]["101"]), follow_redirects=False)
    assert r.status_code == 403
    assert count(session, Registration) == 0
