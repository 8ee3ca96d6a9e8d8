"""Key rotation: new writes use the newest key, old values still decrypt (and are still found)
while rows move over in batches, and at the end every row is under the new key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from housing_helpers import building_body, make_id, tenant_body
from shanzhi import pii
from shanzhi.housing.models import Person
from shanzhi.housing.people import find_by_id_number, plain
from shanzhi.pii_rotation import TABLES, pending, rotate_batch

RESIDENTS = next(t for t in TABLES if t.model is Person)

K1 = "k1:first-secret-for-tests-0001"
K2 = "k2:second-secret-for-tests-0002"


def _tenants(client, hs, seqs) -> list[int]:
    b = client.post("/api/v1/housing/buildings", json=building_body(owner=None), headers=hs["worker"]).json()
    out = []
    for seq in seqs:
        r = client.post("/api/v1/housing/registrations", json=tenant_body(b["units"][2]["id"], seq),
                        headers=hs["worker"])
        assert r.status_code == 201, r.text
        out.append(r.json()["person"]["id"])
    return out


def test_rotation_re_encrypts_everything_while_old_values_keep_decrypting(client, session, hs, keys):
    keys(K1)
    old = _tenants(client, hs, [21, 22, 23, 24, 25])
    raw_before = {p.id: p.id_number_encrypted for p in session.scalars(select(Person).where(Person.id.in_(old)))}
    assert all(v.startswith(b"k1:") for v in raw_before.values())

    keys(f"{K2},{K1}")  # the new key first; the old one stays until rotation is done
    [new] = _tenants(client, hs, [26])
    assert session.get(Person, new).pii_key == "k2"
    assert pending(session)["housing_people"] == 5
    moved, last = rotate_batch(session, RESIDENTS, batch=2)
    assert moved == 2
    # Mid-rotation: rows under either key decrypt, and lookups by ID number find them all.
    for seq, pid in zip([21, 22, 23, 24, 25], old):
        person = session.get(Person, pid)
        assert plain(person)[0] == make_id(seq)
        assert find_by_id_number(session, make_id(seq)).id == pid
    shown = client.get(f"/api/v1/housing/people/{old[-1]}", headers=hs["cadre"]).json()
    assert shown["id_number"] == pii.mask_id(make_id(25))
    assert sorted(p.pii_key for p in session.scalars(select(Person).where(Person.id.in_(old)))) == \
        ["k1", "k1", "k1", "k2", "k2"]

    while moved:
        moved, last = rotate_batch(session, RESIDENTS, batch=2, after_id=last)
    assert pending(session)["housing_people"] == 0
    rows = session.scalars(select(Person).where(Person.id.in_([*old, new]))).all()
    assert {p.pii_key for p in rows} == {"k2"}
    assert all(p.id_number_encrypted.startswith(b"k2:") and p.id_number_encrypted != raw_before.get(p.id)
               for p in rows)

    keys(K2)  # the old key retired: everything still reads and is still found
    for seq, pid in zip([21, 22, 23, 24, 25, 26], [*old, new]):
        assert plain(session.get(Person, pid)) == (make_id(seq), f"1380574{seq:04d}")
        assert find_by_id_number(session, make_id(seq)).id == pid


def test_retiring_a_key_before_rotation_finishes_is_caught(client, session, hs, keys):
    keys(K1)
    [pid] = _tenants(client, hs, [31])
    keys(K2)
    person = session.get(Person, pid)
    assert plain(person)[0] == pii.UNREADABLE  # shown as unreadable, never as garbage
    with pytest.raises(pii.PiiKeyError) as err:
        rotate_batch(session, RESIDENTS, batch=10)
    assert "k1" in err.value.message_zh


@pytest.mark.parametrize("value", ["k1", "k1:short", "bad id!:long-enough-secret-000", f"{K1},{K1}"])
def test_a_malformed_key_list_is_refused(keys, value):
    keys(value)
    with pytest.raises(pii.PiiKeyError):
        pii.keyring()
