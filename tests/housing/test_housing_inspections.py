"""Rental-safety inspections: the checklist is policy data, failed items become findings with
deadlines, overcrowding is found from the numbers, re-inspection resolves, and an unresolved
finding becomes an event of its item's category in one step."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from housing_helpers import building_body, tenant_body
from shanzhi.events.models import Event
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Finding
from shanzhi.housing.policy import checklist


def _building(client, hs):
    return client.post("/api/v1/housing/buildings", json=building_body(), headers=hs["worker"]).json()


def _inspect(client, hs, body, who="worker"):
    r = client.post("/api/v1/housing/inspections", json=body, headers=hs[who])
    assert r.status_code == 201, r.text
    return r.json()


def test_the_checklist_comes_from_policy_data(client, hs):
    body = client.get("/api/v1/housing/checklist", headers=hs["worker"]).json()
    keys = [i["key"] for i in body["items"]]
    assert {"fire_exit", "ebike_charging", "gas", "overcrowding", "illegal_partition"} <= set(keys)
    assert {i["key"]: i["category"] for i in body["items"]}["ebike_charging"] == "0602"
    assert body["occupancy"]["min_area_per_person_m2"] == checklist().occupancy.min_area_per_person_m2
    assert {i["category"] for i in body["items"]} == {"0602", "0603", "0605", "0902"}


def test_failed_items_become_findings_with_deadlines_and_reinspection_resolves_them(client, session, hs):
    b = _building(client, hs)
    first = _inspect(client, hs, {"building_id": b["id"], "answers": {
        "fire_exit": {"ok": False, "note": "一楼楼梯口堆放杂物"}, "ebike_charging": {"ok": False},
        "gas": {"ok": True}}})
    assert first["passed"] is False and first["inspector"] == "grid_worker@330203101201001001"
    deadlines = {f["item"]: f["deadline"] for f in first["findings"]}
    assert deadlines == {"fire_exit": (today_local() + timedelta(days=3)).isoformat(),
                         "ebike_charging": (today_local() + timedelta(days=1)).isoformat()}
    # Still failing: the open finding is kept, not duplicated; the fixed one is resolved.
    second = _inspect(client, hs, {"building_id": b["id"], "reinspection_of": first["id"], "answers": {
        "fire_exit": {"ok": True}, "ebike_charging": {"ok": False, "note": "仍有飞线充电"}}})
    assert second["findings"] == [] and second["reinspection_of_id"] == first["id"]
    rows = {f.item: f for f in session.scalars(select(Finding))}
    assert rows["fire_exit"].status == "resolved" and rows["fire_exit"].resolved_by_id == second["id"]
    assert rows["ebike_charging"].status == "open" and len(rows) == 2
    detail = client.get(f"/api/v1/housing/buildings/{b['id']}", headers=hs["cadre"]).json()
    assert [f["item"] for f in detail["open_findings"]] == ["ebike_charging"]
    bad = client.post("/api/v1/housing/inspections", json={"building_id": b["id"], "answers": {
        "overcrowding": {"ok": True}}}, headers=hs["worker"])
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "item_not_applicable"
    unknown = client.post("/api/v1/housing/inspections", json={"building_id": b["id"], "answers": {
        "moat": {"ok": True}}}, headers=hs["worker"])
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_item"


def test_overcrowding_is_found_from_area_and_registrations(client, hs):
    b = _building(client, hs)
    unit = b["units"][0]  # 12 m²: at 5 m² a person, two people at most
    for seq in (1, 2, 3):
        client.post("/api/v1/housing/registrations", json=tenant_body(unit["id"], seq), headers=hs["worker"])
    ins = _inspect(client, hs, {"building_id": b["id"], "unit_id": unit["id"],
                                "answers": {"overcrowding": {"ok": True}, "fire_exit": {"ok": True}}})
    assert ins["occupants"] == 3 and ins["passed"] is False
    [finding] = ins["findings"]
    assert finding["item"] == "overcrowding" and "最多 2 人" in finding["note"]
    detail = client.get(f"/api/v1/housing/buildings/{b['id']}", headers=hs["worker"]).json()
    assert detail["units"][0]["over_limit"] is True and detail["units"][1]["over_limit"] is False


def test_an_unresolved_finding_becomes_an_event_in_one_step(client, session, hs):
    b = _building(client, hs)
    unit = b["units"][1]
    client.post("/api/v1/housing/registrations", json=tenant_body(unit["id"], 8), headers=hs["worker"])
    ins = _inspect(client, hs, {"building_id": b["id"], "unit_id": unit["id"], "answers": {
        "ebike_charging": {"ok": False, "note": "室内给电瓶充电"}, "gas": {"ok": False, "note": "钢瓶超期"}}})
    by_item = {f["item"]: f for f in ins["findings"]}
    r = client.post(f"/api/v1/housing/findings/{by_item['ebike_charging']['id']}/event", headers=hs["worker"])
    assert r.status_code == 201, r.text
    event = r.json()
    assert event["category"]["code"] == "0602" and event["region_code"] == b["region_code"]
    assert "电动车规范停放充电" in event["text"] and "102 室" in event["text"]
    stored = session.scalars(select(Event).where(Event.code == event["code"])).one()
    assert tenant_body(unit["id"], 8)["person"]["name"] not in stored.text, "events never name the tenants"
    gas = client.post(f"/api/v1/housing/findings/{by_item['gas']['id']}/event", headers=hs["worker"]).json()
    assert gas["category"]["code"] == "0605"
    again = client.post(f"/api/v1/housing/findings/{by_item['ebike_charging']['id']}/event", headers=hs["worker"])
    assert again.status_code == 409 and event["code"] in again.json()["error"]["message_zh"]
    assert session.get(Finding, by_item["ebike_charging"]["id"]).event_id == stored.id
    # Another grid's worker cannot escalate it.
    assert client.post(f"/api/v1/housing/findings/{by_item['gas']['id']}/event",
                       headers=hs["worker2"]).status_code == 404


def test_photos_are_re_encoded_without_exif(client, hs):
    b = _building(client, hs)
    ins = _inspect(client, hs, {"building_id": b["id"], "answers": {"fire_exit": {"ok": False}}})
    image = Image.new("RGB", (64, 48), "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    raw = io.BytesIO()
    image.save(raw, "JPEG", exif=exif)
    up = client.post(f"/api/v1/housing/inspections/{ins['id']}/photos", files={"file": ("a.jpg", raw.getvalue())},
                     data={"item": "fire_exit"}, headers=hs["worker"])
    assert up.status_code == 201, up.text
    got = client.get(up.json()["url"], headers=hs["cadre"])
    assert got.status_code == 200 and b"PhoneMaker" not in got.content
    assert not Image.open(io.BytesIO(got.content)).getexif()
    junk = client.post(f"/api/v1/housing/inspections/{ins['id']}/photos", files={"file": ("a.jpg", b"not an image")},
                       headers=hs["worker"])
    assert junk.status_code == 422
    listed = client.get(f"/api/v1/housing/inspections/{ins['id']}", headers=hs["cadre"]).json()
    assert [p["item"] for p in listed["photos"]] == ["fire_exit"]
