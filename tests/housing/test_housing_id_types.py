"""Identity documents other than the resident ID card: each type's number checked by its own
rules, sealed and digested apart (a passport number never finds an ID card), masked with its
label, and carried through the API, the spreadsheet import and the export."""

from __future__ import annotations

import io
import tomllib

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, text

from housing_helpers import IN_MG1, bad_checksum, building_body, make_id, tenant_body
from shanzhi import pii
from shanzhi.errors import InvalidInput
from shanzhi.housing import documents
from shanzhi.housing.idcard import check_char, mask_document
from shanzhi.housing.models import Building, Person, Registration, Unit
from shanzhi.housing.people import find_by_id_number
from shanzhi.housing.policy import HousingPolicy
from shanzhi.policy.loader import policy_path

HMT = "810000199003071234"[:17] + check_char("810000199003071234"[:17])
# 2023 foreign permanent residence ID, worked by hand: digits 9 3 3 1 5 6 1 9 8 5 0 3 1 2 0 0 1
# × weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 = 312; 312 mod 11 = 4; "10X98765432"[4] = "8".
FOREIGN = "933156198503120018"
PASSPORT = "E12345678"


@pytest.mark.parametrize(("id_type", "raw", "normalized"), [
    ("resident_id", make_id(5), make_id(5)),
    ("hmt_residence", HMT, HMT),
    ("foreign_permanent", FOREIGN, FOREIGN),
    ("foreign_permanent", "abc 123456789012", "ABC123456789012"),  # the pre-2023 card
    ("passport", " e1234567８ ", "E12345678"),  # full-width digit from an input method
    ("hk_macau_permit", "H12345678", "H12345678"),
    ("hk_macau_permit", "m1234567890", "M1234567890"),
    ("taiwan_permit", "12345678", "12345678"),
])
def test_each_type_accepts_a_valid_number(id_type, raw, normalized):
    assert documents.validate(id_type, raw) == normalized


@pytest.mark.parametrize(("id_type", "raw", "code", "words"), [
    ("resident_id", bad_checksum(make_id(5)), "invalid_id_checksum", "身份证号"),
    ("hmt_residence", make_id(5), "invalid_id_number", "应以 81（香港）、82（澳门）或 83（台湾）开头"),
    ("hmt_residence", bad_checksum(HMT), "invalid_id_checksum", "港澳台居民居住证号码"),
    ("foreign_permanent", bad_checksum(FOREIGN), "invalid_id_checksum", "校验码错误"),
    ("foreign_permanent", make_id(5), "invalid_id_number", "应以 9 开头"),
    ("foreign_permanent", "AB1234567890123", "invalid_id_number", "旧版 15 位"),
    ("passport", "E123-45678", "invalid_id_number", "护照号码应为 5–20 位字母或数字"),
    ("passport", "E12", "invalid_id_number", "护照号码"),
    ("hk_macau_permit", "K12345678", "invalid_id_number", "H 或 M 加 8 位或 10 位数字"),
    ("hk_macau_permit", "H123456789", "invalid_id_number", "港澳居民来往内地通行证号码"),
    ("taiwan_permit", "1234567", "invalid_id_number", "台湾居民来往大陆通行证号码应为 8 位数字"),
])
def test_each_type_refuses_a_bad_number_saying_why_without_echoing_it(id_type, raw, code, words):
    with pytest.raises(InvalidInput) as err:
        documents.validate(id_type, raw)
    assert err.value.code == code and words in err.value.message_zh, err.value.message_zh
    assert raw not in err.value.message_zh and raw not in err.value.message


def test_masks_show_little_and_depend_on_the_type():
    assert documents.mask("passport", PASSPORT) == "E*****678"
    assert documents.mask("hk_macau_permit", "H1234567890") == "H******7890"
    assert documents.mask("taiwan_permit", "12345678") == "*****678"
    assert documents.mask("foreign_permanent", FOREIGN) == "9331**********0018"
    assert documents.mask("resident_id", make_id(5)) == make_id(5)[:4] + "*" * 10 + make_id(5)[-4:]
    assert mask_document("E1234") == "E***4"  # never more than half shown


def test_the_policy_refuses_an_unknown_checker_and_needs_the_resident_id():
    with policy_path("housing.toml").open("rb") as f:
        data = tomllib.load(f)
    broken = {**data, "id_types": {**data["id_types"], "army": {"label": "军官证", "kind": "army_card"}}}
    with pytest.raises(ValueError, match="unknown id type kind"):
        HousingPolicy.model_validate(broken)
    without = {**data, "id_types": {k: v for k, v in data["id_types"].items() if k != "resident_id"}}
    with pytest.raises(ValueError, match="resident_id"):
        HousingPolicy.model_validate(without)


def _building(client, hs) -> dict:
    r = client.post("/api/v1/housing/buildings", json=building_body(), headers=hs["worker"])
    assert r.status_code == 201, r.text
    return r.json()


def _register(client, hs, unit_id: int, seq: int, **person):
    return client.post("/api/v1/housing/registrations", json=tenant_body(unit_id, seq, person=person),
                       headers=hs["worker"])


def test_a_passport_holder_is_registered_sealed_masked_and_found_only_as_a_passport(client, session, hs):
    units = [u["id"] for u in _building(client, hs)["units"]]
    r = _register(client, hs, units[0], 31, id_type="passport", id_number="e12345678")
    assert r.status_code == 201, r.text
    shown = r.json()["person"]
    assert (shown["id_type"], shown["id_type_label"], shown["id_number"]) == ("passport", "护照", "E*****678")
    assert PASSPORT not in r.text

    raw = session.execute(text("SELECT id_type, id_number_encrypted, id_number_digest FROM housing_people "
                               "WHERE id = :id"), {"id": shown["id"]}).one()
    assert raw.id_type == "passport" and PASSPORT.encode() not in bytes(raw.id_number_encrypted)
    assert raw.id_number_digest != pii.digest("id", PASSPORT)  # not digested as a resident ID would be

    def find(**query):
        return client.get("/api/v1/housing/people", params=query, headers=hs["worker"])

    found = find(id_type="passport", id_number="E12345678").json()
    assert [p["id"] for p in found["items"]] == [shown["id"]] and found["items"][0]["id_type_label"] == "护照"
    assert find(id_type="hk_macau_permit", id_number="H12345678").json()["total"] == 0
    as_resident = find(id_number=PASSPORT)  # no type: a resident ID, which this is not
    assert as_resident.status_code == 422 and as_resident.json()["error"]["code"] == "invalid_id_number"
    assert find(id_type="army", id_number=PASSPORT).json()["error"]["code"] == "invalid_id_type"

    # The same digits as a passport and as a Taiwan permit are two documents, so two people.
    same = _register(client, hs, units[1], 32, id_type="passport", id_number="12345678").json()["person"]
    other = _register(client, hs, units[1], 33, id_type="taiwan_permit", id_number="12345678").json()["person"]
    assert same["id"] != other["id"]
    assert [p["id"] for p in find(id_type="taiwan_permit", id_number="12345678").json()["items"]] == [other["id"]]
    assert [p["id"] for p in find(id_type="passport", id_number="12345678").json()["items"]] == [same["id"]]
    assert find_by_id_number(session, "12345678", "passport").id == same["id"]

    revealed = client.post(f"/api/v1/housing/people/{shown['id']}/reveal",
                           json={"fields": ["id_number"], "reason": "派出所协查核对"}, headers=hs["chief"]).json()
    assert revealed == {"id_number": PASSPORT, "id_type": "passport", "id_type_label": "护照"}


def test_a_bad_document_or_type_is_refused_and_nothing_written(client, session, hs):
    unit = _building(client, hs)["units"][0]["id"]
    people = session.scalar(select(func.count()).select_from(Person))
    bad = _register(client, hs, unit, 34, id_type="passport", id_number="E1-2")
    assert bad.status_code == 422 and "护照号码" in bad.json()["error"]["message_zh"]
    unknown = _register(client, hs, unit, 35, id_type="army", id_number=PASSPORT)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "invalid_id_type"
    assert "居民身份证" in unknown.json()["error"]["message_zh"]
    assert session.scalar(select(func.count()).select_from(Person)) == people
    assert session.scalar(select(func.count()).select_from(Registration)) == 0


def test_a_resident_id_recorded_before_types_is_still_found_and_matched(client, session, hs):
    unit = _building(client, hs)["units"][0]["id"]
    legacy = make_id(36)
    k = pii.current_key()
    # A row as 0009 wrote it: no id_type (the column's server default) and the bare-number digest.
    session.execute(text(
        "INSERT INTO housing_people (name, id_number_encrypted, id_number_digest, pii_key, is_local, version, "
        "created_at, updated_at) VALUES ('赵老户', :enc, :dig, :key, false, 1, :now, :now)"),
        {"enc": pii.encrypt(legacy, k), "dig": pii.digest("id", legacy, k), "key": k.id, "now": "2025-01-01"})
    session.commit()
    old = session.scalars(select(Person).where(Person.name == "赵老户")).one()
    assert old.id_type == "resident_id" and find_by_id_number(session, legacy).id == old.id

    r = _register(client, hs, unit, 36, name="赵老户", id_number=legacy)  # no id_type given
    assert r.status_code == 201, r.text
    assert r.json()["person"]["id"] == old.id and r.json()["person"]["id_type_label"] == "居民身份证"
    found = client.get("/api/v1/housing/people", params={"id_number": legacy}, headers=hs["worker"]).json()
    assert [p["id"] for p in found["items"]] == [old.id]


BUILDING_HEADER = ["地址", "经度", "纬度", "用途", "房号", "房间类型", "出租状态"]
RESIDENT_HEADER = ["姓名", "证件类型", "证件号码", "手机号", "地址", "房号", "起始日期"]
BUILDINGS = [["河西路 5 号", IN_MG1[0], IN_MG1[1], "住宅", "101", "单间", "空置"],
             ["河西路 5 号", None, None, None, "102", "单间", "空置"]]


def _book(residents: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "房屋"
    for row in [BUILDING_HEADER, *BUILDINGS]:
        sheet.append(row)
    people = book.create_sheet("人员")
    for row in [RESIDENT_HEADER, *residents]:
        people.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


RESIDENTS = [
    ["Anna Schmidt", "护照", PASSPORT, None, "河西路 5 号", "101", "2026-03-01"],
    ["陈台生", "taiwan_permit", "87654321", None, "河西路 5 号", "101", "2026-03-01"],
    ["何港生", "港澳居民来往内地通行证", "H12345678", None, "河西路 5 号", "102", "2026-03-01"],
    ["周一", None, make_id(37), None, "河西路 5 号", "102", "2026-03-01"],  # no type: a resident ID
]


def _import(client, hs, data: bytes, who: str = "cadre"):
    return client.post("/api/v1/housing/import", files={"file": ("registry.xlsx", data)}, headers=hs[who])


def test_an_import_with_a_type_column_rejects_a_bad_passport_by_row_and_column_and_writes_nothing(
        client, session, hs):
    rows = [list(r) for r in RESIDENTS]
    rows[0][2] = "E1-2345678"  # row 2: not a passport number
    rows[2][1] = "军官证"  # row 4: not a document type of the policy
    r = _import(client, hs, _book(rows))
    assert r.status_code == 422
    details = r.json()["error"]["details"]
    assert [(d["sheet"], d["row"], d["column"]) for d in details] == [("人员", 2, "证件号码"), ("人员", 4, "证件类型")]
    assert "护照号码" in details[0]["reason_zh"] and "E1-2345678" not in r.text
    for model in (Building, Unit, Person, Registration):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_an_import_with_a_type_column_records_each_document_and_the_export_shows_its_label(client, session, hs):
    r = _import(client, hs, _book(RESIDENTS))
    assert r.status_code == 200, r.text
    assert r.json()["registrations"] == 4
    types = dict(session.execute(select(Person.name, Person.id_type).where(Person.name.is_not(None))).all())
    assert (types["Anna Schmidt"], types["陈台生"], types["何港生"], types["周一"]) == (
        "passport", "taiwan_permit", "hk_macau_permit", "resident_id")
    assert find_by_id_number(session, PASSPORT, "passport").name == "Anna Schmidt"
    assert _import(client, hs, _book(RESIDENTS)).json()["registrations"] == 0  # matched by type and number

    out = client.post("/api/v1/housing/export", data={"region": "330203101201"}, headers=hs["cadre"])
    assert out.status_code == 200 and PASSPORT.encode() not in out.content
    rows = list(load_workbook(io.BytesIO(out.content), read_only=True)["人员"].iter_rows(values_only=True))
    assert rows[0][1:3] == ("证件类型", "证件号码")
    shown = {row[1]: row[2] for row in rows[1:]}
    assert shown["护照"] == "E*****678" and shown["台湾居民来往大陆通行证"] == "*****321"
    assert shown["港澳居民来往内地通行证"] == "H*****678"
    assert shown["居民身份证"] == make_id(37)[:4] + "*" * 10 + make_id(37)[-4:]
