"""One keyring for all personal data: every table writes under the newest key, values written
before the keyring (Fernet) still read, and one rotation moves every table to a new key."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from builders import lattice_tree, make_event, make_user
from shanzhi import db, pii
from shanzhi.accounts.crypto import decrypt_text, is_legacy
from shanzhi.accounts.service import system_actor
from shanzhi.audit.models import AuditEntry
from shanzhi.config import get_settings
from shanzhi.geo import service as geo
from shanzhi.gridpeople import service as gridpeople
from shanzhi.housing.idcard import check_char
from shanzhi.housing.people import PersonInput, clean, find_by_id_number, upsert
from shanzhi.orgs import service as orgs
from shanzhi.pii_rotation import TABLES, pending, rotate, rotate_batch

K1 = "k1:first-secret-for-tests-0001"
K2 = "k2:second-secret-for-tests-0002"
K3 = "k3:third-secret-for-tests-00003"
V1, TOWN1 = "330203101201", "330203101"
PHONES = {"users": "13905740001", "events": "13905740002", "org_contacts": "13905740003",
          "grid_people": "13905740004", "housing_people": "13905740005"}


def _id_number(seq: int) -> str:
    first17 = f"33020319900307{seq:03d}"
    return first17 + check_char(first17)


ID_NUMBER = _id_number(123)
BY_TABLE = {t.table: t for t in TABLES}


@pytest.fixture
def tree(session):
    geo.import_regions(session, data=lattice_tree())


def _write_everything(session: Session, suffix: str = "") -> dict[str, int]:
    """One row with personal data in every table, written the way the application writes it."""
    actor = system_actor(session)
    user = make_user(session, role=None, username=f"pii-user{suffix}", phone=PHONES["users"])
    event = make_event(session, text=f"楼道里堆满杂物，堵住了消防通道{suffix}", reporter_name="张阿姨",
                       reporter_phone=PHONES["events"], idempotency_key=f"pii{suffix}").event
    org = orgs.create_org(session, actor=actor, code=f"PII-ORG{suffix}", name="个人信息测试企业",
                          kind="private_enterprise", region=TOWN1,
                          contacts=[orgs.ContactIn(name="联系人", phone=PHONES["org_contacts"])])
    contact_id = session.scalar(select(BY_TABLE["org_contacts"].model.id).where(
        BY_TABLE["org_contacts"].model.org_id == org.id))
    grid = gridpeople.create_person(session, actor=actor, name="网格员", home_region=V1, phone=PHONES["grid_people"])
    resident_in = PersonInput(name="住户", id_number=_id_number(124) if suffix else ID_NUMBER,
                              phone=PHONES["housing_people"])
    resident, _ = upsert(session, actor=actor, region_code=V1, data=clean(resident_in, id_required=False))
    session.flush()
    return {"users": user.id, "events": event.id, "org_contacts": contact_id, "grid_people": grid.id,
            "housing_people": resident.id}


def _raw(session: Session, table: str, row_id: int) -> list[bytes | None]:
    """The stored bytes of a row's encrypted columns, straight from the database."""
    t = BY_TABLE[table].model.__table__
    row = session.execute(select(*(t.c[c] for c in BY_TABLE[table].columns)).where(t.c.id == row_id)).one()
    return [None if v is None else bytes(v) for v in row]


def _phone(session: Session, table: str, row_id: int) -> str:
    return decrypt_text(_raw(session, table, row_id)[-1])  # the phone is every table's last column


def _legacy_token(value: str) -> bytes:
    """A Fernet token as the code before the keyring wrote it."""
    secret = get_settings().secret_key
    key = hashlib.sha256(f"shanzhi:personal-data:{secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(value.encode())


def _factory(session: Session):
    # rotate() runs its own transactions: here they are savepoints on the test's connection.
    return lambda: Session(bind=session.connection(), join_transaction_mode="create_savepoint",
                           expire_on_commit=False)


def _rotations(session: Session) -> list[AuditEntry]:
    return session.scalars(select(AuditEntry).where(AuditEntry.action == "pii.rotate_keys")
                           .order_by(AuditEntry.seq)).all()


def test_every_table_stores_personal_data_under_the_current_key(session, tree, keys):
    keys(f"{K2},{K1}")
    ids = _write_everything(session)
    for table, row_id in ids.items():
        for value in _raw(session, table, row_id):
            assert value.startswith(b"k2:"), table
            assert PHONES[table].encode() not in value and ID_NUMBER.encode() not in value
        assert _phone(session, table, row_id) == PHONES[table]
    assert pending(session) == dict.fromkeys(BY_TABLE, 0)


def test_a_legacy_fernet_value_still_reads_and_rotation_moves_it(session, tree, keys):
    keys(None)
    ids = _write_everything(session)
    legacy = {t: i for t, i in ids.items() if BY_TABLE[t].key_column is None}  # housing never used Fernet
    for table, row_id in legacy.items():
        model = BY_TABLE[table].model
        token = _legacy_token(PHONES[table])
        session.execute(update(model.__table__).where(model.__table__.c.id == row_id)
                        .values({BY_TABLE[table].columns[0]: token}))
        assert is_legacy(_raw(session, table, row_id)[0]) and _phone(session, table, row_id) == PHONES[table]
    assert pending(session) == {**dict.fromkeys(legacy, 1), "housing_people": 0}

    moved = rotate(_factory(session), batch=2)
    assert moved == {**dict.fromkeys(legacy, 1), "housing_people": 0}
    for table, row_id in legacy.items():
        [value] = _raw(session, table, row_id)
        assert value.startswith(b"k0:") and not is_legacy(value)
        assert _phone(session, table, row_id) == PHONES[table]
    assert pending(session) == dict.fromkeys(BY_TABLE, 0)


def test_a_fernet_value_under_another_secret_reads_as_unreadable_and_stops_rotation(session, tree, keys):
    keys(None)
    ids = _write_everything(session)
    users = BY_TABLE["users"].model.__table__
    foreign = Fernet(Fernet.generate_key()).encrypt(PHONES["users"].encode())
    session.execute(update(users).where(users.c.id == ids["users"]).values(phone_encrypted=foreign))
    assert _phone(session, "users", ids["users"]) == "（无法解密：密钥不匹配）"  # no error page, no garbage
    with pytest.raises(pii.PiiKeyError) as err:
        rotate(_factory(session))
    assert "SHANZHI_SECRET_KEY" in err.value.message_zh


def test_rotating_from_k1_to_k2_re_seals_every_table_while_old_values_keep_reading(session, tree, keys):
    keys(K1)
    ids = _write_everything(session)
    before = {t: _raw(session, t, i) for t, i in ids.items()}
    assert all(v.startswith(b"k1:") for values in before.values() for v in values)

    keys(f"{K2},{K1}")
    newer = _write_everything(session, suffix="-2")  # new writes use the new key at once
    assert all(v.startswith(b"k2:") for t, i in newer.items() for v in _raw(session, t, i))
    assert pending(session) == dict.fromkeys(BY_TABLE, 1)
    # Mid-rotation: half the tables moved, everything still reads (and residents are still found).
    for table in ("users", "housing_people"):
        assert rotate_batch(session, BY_TABLE[table], batch=10)[0] == 1
    assert pending(session) == {**dict.fromkeys(BY_TABLE, 1), "users": 0, "housing_people": 0}
    for table, row_id in ids.items():
        assert _phone(session, table, row_id) == PHONES[table]
    assert find_by_id_number(session, ID_NUMBER).id == ids["housing_people"]

    events = BY_TABLE["events"].model.__table__
    stamps = select(events.c.version, events.c.updated_at).where(events.c.id == ids["events"])
    edited = session.execute(stamps).one()
    moved = rotate(_factory(session), batch=1)
    assert moved == {**dict.fromkeys(BY_TABLE, 1), "users": 0, "housing_people": 0}
    assert session.execute(stamps).one() == edited  # re-sealing is not an edit: no version bump
    assert pending(session) == dict.fromkeys(BY_TABLE, 0)
    for table, row_id in ids.items():
        after = _raw(session, table, row_id)
        assert all(v.startswith(b"k2:") for v in after) and after != before[table], table
    [audited] = _rotations(session)
    assert audited.outcome == "allowed"
    assert json.loads(audited.summary)["detail"]["moved"] == moved

    keys(K2)  # the old key retired: everything still reads, residents are still found by ID number
    for table, row_id in ids.items():
        assert _phone(session, table, row_id) == PHONES[table]
    assert session.get(BY_TABLE["housing_people"].model, ids["housing_people"]).pii_key == "k2"
    assert find_by_id_number(session, ID_NUMBER) is not None


def test_a_value_under_a_key_no_longer_configured_stops_rotation_writing_nothing_of_its_batch(session, tree,
                                                                                            keys):
    keys(K1)
    readable = make_user(session, role=None, username="pii-readable", phone="13905749001")
    keys(K3)
    lost = make_user(session, role=None, username="pii-lost", phone="13905749002")
    keys(f"{K2},{K1}")  # k3 was dropped before its values moved
    assert _phone(session, "users", lost.id) == pii.UNREADABLE
    with pytest.raises(pii.PiiKeyError) as err:
        rotate(_factory(session), batch=10)
    assert "k3" in err.value.message_zh and "SHANZHI_PII_KEYS" in err.value.message_zh
    # Both rows were in the failing batch: neither was rewritten.
    assert _raw(session, "users", readable.id)[0].startswith(b"k1:")
    assert _raw(session, "users", lost.id)[0].startswith(b"k3:")
    [audited] = _rotations(session)
    assert audited.outcome == "failed" and "k3" in json.loads(audited.summary)["detail"]["error"]


# -- the command line --------------------------------------------------------------------------


def _stored(session: Session) -> dict[str, Any]:
    return {t.table: session.execute(select(*(t.model.__table__.c[c] for c in t.columns))).all() for t in TABLES}


def test_the_command_line_dry_run_changes_nothing_and_a_run_moves_every_table(run, monkeypatch, keys):
    assert run("pii", "rotate-keys").exit_code == 1, "refused before init"
    assert run("init").exit_code == 0
    with db.session_scope() as session:
        geo.import_regions(session, data=lattice_tree())
        _write_everything(session)
    keys(f"{K2},k0:{get_settings().secret_key}")
    with db.session_scope() as session:
        stored = _stored(session)

    dry = run("pii", "rotate-keys", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "待轮换 pending: 用户 users 1 人" in dry.output and "房屋住户 residents 1 人" in dry.output
    assert "未写入 nothing written" in dry.output
    with db.session_scope() as session:
        assert _stored(session) == stored
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "pii.rotate_keys")) == 0

    done = run("pii", "rotate-keys", "--batch", "1")
    assert done.exit_code == 0, done.output
    assert "完成 done: 5 人改用密钥 k2" in done.output
    again = run("housing", "rotate-keys")  # the same command under its older name
    assert again.exit_code == 0 and "待轮换 pending: 无 none" in again.output
    with db.session_scope() as session:
        assert all(v.startswith(b"k2:") for rows in _stored(session).values() for row in rows for v in row if v)
        assert pending(session) == dict.fromkeys(BY_TABLE, 0)
        assert len(_rotations(session)) == 2

    keys("k9:a-key-that-never-saw-k2")  # k2 dropped before anything moved off it
    failed = run("pii", "rotate-keys")
    assert failed.exit_code == 1 and "k2" in failed.output and "SHANZHI_PII_KEYS" in failed.output
