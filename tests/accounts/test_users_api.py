"""User administration and API tokens over HTTP, with named actors:
a town admin of 第1镇 (330203101) must not see or touch the people of 第2镇 (330203102)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from builders import bearer, lattice_tree, make_user
from shanzhi.accounts.models import ApiToken, User
from shanzhi.audit.models import AuditEntry
from shanzhi.audit.service import verify
from shanzhi.db import utcnow
from shanzhi.geo import service as geo

TOWN1, TOWN2 = "330203101", "330203102"
VILLAGE1 = "330203101201"


@pytest.fixture
def town(session):
    geo.import_regions(session, data=lattice_tree())
    admin1 = make_user(session, username="admin1", scope=TOWN1)
    other = make_user(session, username="liwei", role="grid_worker", scope="330203102201001", phone="13905741234")
    worker = make_user(session, username="zhou", role="grid_worker", scope="330203101201001001")
    session.commit()
    return {"admin1": admin1, "other": other, "worker": worker, "h1": bearer(session, admin1),
            "hw": bearer(session, worker)}


def new_user(**over):
    body = {"username": "chen", "display_name": "陈网格员", "password": "first-pass-1",
            "home_region": VILLAGE1, "phone": "13812345678"}
    return {**body, **over}


def test_a_town_admin_creates_a_user_in_the_town_and_assigns_a_role(client, session, town):
    r = client.post("/api/v1/users", json=new_user(), headers=town["h1"])
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["phone"] == "138****5678"
    stored = session.get(User, user["id"])
    assert b"13812345678" not in stored.phone_encrypted  # encrypted at rest
    r = client.post(f"/api/v1/users/{user['id']}/assignments", json={"role": "grid_worker", "region": VILLAGE1 + "001"},
                    headers=town["h1"])
    assert r.status_code == 201
    assert [a["role_label"] for a in r.json()["assignments"]] == ["网格员"]
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))][-2:]
    assert actions == ["user.create", "user.assign"]


def test_a_town_admin_cannot_reach_into_another_town(client, session, town):
    h = town["h1"]
    other = town["other"].id
    assert client.get(f"/api/v1/users/{other}", headers=h).status_code == 404
    assert client.post(f"/api/v1/users/{other}/disable", headers=h).status_code == 404
    assert client.post("/api/v1/users", json=new_user(home_region="330203102201"), headers=h).status_code == 404
    # Assigning a scope outside one's own: 404 for the region, and nothing changes.
    me = town["worker"].id
    r = client.post(f"/api/v1/users/{me}/assignments", json={"role": "admin", "region": "330203"}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["message_zh"]
    listed = client.get("/api/v1/users", headers=h).json()
    assert {u["username"] for u in listed["items"]} == {"admin1", "zhou"}
    assert session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()


def test_a_grid_worker_may_not_administer_users(client, session, town):
    hw = town["hw"]
    assert client.get("/api/v1/users", headers=hw).status_code == 403
    # His own account lies in his scope, so it is visible — but he may not change it: 403.
    me = town["worker"].id
    assert client.post(f"/api/v1/users/{me}/password", json={"new_password": "sneaky-pass-1"}, headers=hw).status_code == 403


def test_disabling_a_user_stops_their_tokens_and_catches_stale_versions(client, session, town):
    worker = town["worker"]
    r = client.post(f"/api/v1/users/{worker.id}/disable", json={"version": 999}, headers=town["h1"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "stale_version"
    version = client.get(f"/api/v1/users/{worker.id}", headers=town["h1"]).json()["version"]
    r = client.post(f"/api/v1/users/{worker.id}/disable", json={"version": version}, headers=town["h1"])
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=town["hw"]).status_code == 401


def test_revealing_a_phone_is_allowed_to_admins_and_audited(client, session, town):
    li = town["other"].id
    root = bearer(session, make_user(session, username="root", scope="330203"))
    session.commit()
    assert client.get(f"/api/v1/users/{li}", headers=root).json()["phone"] == "139****1234"
    assert client.post(f"/api/v1/users/{li}/reveal-phone", headers=root).json() == {"phone": "13905741234"}
    row = session.scalars(select(AuditEntry).where(AuditEntry.action == "personal.reveal")).one()
    assert row.target_id == str(li) and row.region_code.startswith(TOWN2)
    leader = bearer(session, make_user(session, username="leader", role="district_leader", scope="330203"))
    session.commit()
    assert client.post(f"/api/v1/users/{li}/reveal-phone", headers=leader).status_code == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (new_user(username="x"), "invalid_input"),
        (new_user(username="a" * 65), "invalid_input"),
        (new_user(display_name=""), "invalid_input"),
        (new_user(password="short"), "invalid_input"),
        (new_user(password="onlyletters"), "weak_password"),
        (new_user(phone="12345"), "invalid_phone"),
        (new_user(home_region="abc"), "invalid_input"),
        (new_user(username="bad name!"), "invalid_username"),
    ],
)
def test_bad_user_input_is_refused_clearly_and_changes_nothing(client, session, town, body, code):
    before = session.scalar(select(User.id).order_by(User.id.desc()))
    r = client.post("/api/v1/users", json=body, headers=town["h1"])
    assert r.status_code == 422 and r.json()["error"]["code"] == code
    assert session.scalar(select(User.id).order_by(User.id.desc())) == before


def test_usernames_are_unique_regardless_of_case(client, town):
    assert client.post("/api/v1/users", json=new_user(username="ZHOU"), headers=town["h1"]).status_code == 409


def test_a_token_is_shown_once_stored_hashed_and_can_be_revoked(client, session, town):
    r = client.post("/api/v1/me/tokens", json={"name": "对接12345", "days": 30}, headers=town["h1"])
    assert r.status_code == 201
    raw = r.json()["token"]
    stored = session.scalars(select(ApiToken).where(ApiToken.name == "对接12345")).one()
    assert raw.startswith("sz_") and stored.token_hash != raw and raw not in stored.token_hash
    h = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=h).json()["token_scope"] == TOWN1
    listed = client.get("/api/v1/me/tokens", headers=h).json()["items"]
    assert "token" not in listed[0] and listed[0]["status"] == "active"
    assert client.delete(f"/api/v1/me/tokens/{stored.id}", headers=h).status_code == 204
    r = client.get("/api/v1/me", headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_an_expired_token_is_refused(client, session, town):
    headers = town["hw"]
    token = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    token.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_token_cannot_be_wider_than_its_owner_and_narrows_what_it_sees(client, session, town):
    h = town["h1"]
    assert client.post("/api/v1/me/tokens", json={"name": "wide", "region": "330203"}, headers=h).status_code == 404
    r = client.post("/api/v1/me/tokens", json={"name": "narrow", "region": "330203101202"}, headers=h)
    narrow = {"Authorization": f"Bearer {r.json()['token']}"}
    # The worker lives in village …201: outside the token's village …202.
    assert client.get(f"/api/v1/users/{town['worker'].id}", headers=narrow).status_code == 404
    assert client.get(f"/api/v1/users/{town['worker'].id}", headers=h).status_code == 200


def test_the_audit_trail_is_scoped_and_stays_verifiable(client, session, town):
    client.post("/api/v1/users", json=new_user(), headers=town["h1"])
    client.get(f"/api/v1/users/{town['other'].id}", headers=town["h1"])  # a denial
    seen = client.get("/api/v1/audit", headers=town["h1"]).json()["items"]
    assert seen and all((e["region_code"] or "").startswith(TOWN1) for e in seen)
    assert client.get("/api/v1/audit", headers=town["hw"]).status_code == 403
    assert verify(session).ok


def test_listing_users_takes_a_fixed_number_of_queries_however_many_there_are(client, session, town):
    from sqlalchemy import event

    for i in range(12):
        make_user(session, username=f"extra{i}", role="liaison", scope=VILLAGE1)
    session.commit()
    statements: list[str] = []
    bind = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(bind, "before_cursor_execute", listener)
    try:
        listed = client.get("/api/v1/users", params={"size": 100}, headers=town["h1"]).json()
    finally:
        event.remove(bind, "before_cursor_execute", listener)
    assert listed["total"] == 14
    assert len(statements) < 15, "one query per listed user would be an N+1"
