"""Personal data: ID numbers validated by their checksum, masked by default, revealed only with
the permission and a reason — and every reveal (or refused attempt) lands in the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from housing_helpers import bad_checksum, building_body, make_id, tenant_body
from shanzhi import pii
from shanzhi.audit.models import AuditEntry
from shanzhi.errors import InvalidInput
from shanzhi.housing.idcard import mask_id, validate_id, validate_phone


def test_a_valid_id_number_passes_and_is_normalized():
    value = make_id(17)
    assert validate_id(f" {value[:-1]}{value[-1].lower()} ") == value
    assert validate_id("11010519491231002X") == "11010519491231002X"  # the standard's own example
    wide = value.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert validate_id(wide) == value


@pytest.mark.parametrize(("raw", "code", "words"), [
    (bad_checksum("11010519491231002X"), "invalid_id_checksum", "校验码错误"),
    ("1101051949123100", "invalid_id_number", "18 位"),
    ("11010519491331002X", "invalid_id_number", "出生日期"),
    ("99010519491231002X", "invalid_id_number", "省级行政区划"),
    ("11010519491231002Y", "invalid_id_number", "18 位"),
])
def test_a_bad_id_number_is_refused_saying_why(raw, code, words):
    with pytest.raises(InvalidInput) as err:
        validate_id(raw)
    assert err.value.code == code and words in err.value.message_zh
    assert raw not in err.value.message_zh


def test_masks_hide_the_middle():
    assert mask_id("330203199003071234") == "3302**********1234"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_name("张三") == "张*" and pii.mask_name("欧阳娜娜") == "欧阳**"
    assert validate_phone("+86 138 1234 5678") == "13812345678"


def _tenant(client, hs) -> int:
    b = client.post("/api/v1/housing/buildings", json=building_body(), headers=hs["worker"]).json()
    reg = client.post("/api/v1/housing/registrations", json=tenant_body(b["units"][0]["id"], 11),
                      headers=hs["worker"]).json()
    return reg["person"]["id"]


def test_a_reveal_without_the_permission_is_refused_and_recorded(client, session, hs):
    person = _tenant(client, hs)
    body = {"fields": ["id_number", "phone"], "reason": "核查租客身份"}
    for who in ("worker", "cadre", "leader"):
        r = client.post(f"/api/v1/housing/people/{person}/reveal", json=body, headers=hs[who])
        assert r.status_code == 403, who
        assert make_id(11) not in r.text
    denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "housing.reveal",
                                                      AuditEntry.outcome == "denied")).all()
    assert len(denied) == 3 and {d.target_id for d in denied} == {str(person)}
    # Outside the reach it does not even exist.
    assert client.post(f"/api/v1/housing/people/{person}/reveal", json=body,
                       headers=hs["worker2"]).status_code == 404


def test_a_reveal_with_the_permission_needs_a_reason_and_is_audited(client, session, hs):
    person = _tenant(client, hs)
    no_reason = client.post(f"/api/v1/housing/people/{person}/reveal", json={"fields": ["phone"], "reason": " "},
                            headers=hs["chief"])
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "reason_required"
    r = client.post(f"/api/v1/housing/people/{person}/reveal",
                    json={"fields": ["id_number", "phone"], "reason": "派出所协查来函 2026-118"}, headers=hs["chief"])
    assert r.status_code == 200
    assert r.json() == {"id_number": make_id(11), "id_type": "resident_id", "id_type_label": "居民身份证",
                        "phone": "13805740011"}
    row = session.scalars(select(AuditEntry).where(AuditEntry.action == "housing.reveal",
                                                   AuditEntry.outcome == "allowed")).one()
    assert row.actor_name == "duty_chief@330203101" and row.target_id == str(person)
    assert "派出所协查来函 2026-118" in row.summary and make_id(11) not in row.summary
    # Revealing does not unmask anything else: the next read is masked again.
    shown = client.get(f"/api/v1/housing/people/{person}", headers=hs["chief"]).json()
    assert shown["id_number"] == mask_id(make_id(11)) and shown["phone"] == "138****0011"
