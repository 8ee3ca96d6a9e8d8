"""Signing in through the login form: lockout with back-off, CSRF, cookies, no user enumeration."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from builders import PASSWORD, lattice_tree, make_user
from shanzhi.accounts import crypto
from shanzhi.accounts.models import LoginThrottle
from shanzhi.audit.models import AuditEntry
from shanzhi.db import utcnow
from shanzhi.geo import service as geo


@pytest.fixture
def people(session):
    geo.import_regions(session, data=lattice_tree())
    user = make_user(session, username="wang", role="dispatcher", scope="330203101")
    session.commit()
    return user


def csrf_of(client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def login(client, username: str, password: str, **extra):
    data = {"username": username, "password": password, "csrf_token": csrf_of(client), "next": "/map", **extra}
    return client.post("/login", data=data, follow_redirects=False)


def audit_rows(session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


def test_a_correct_password_signs_in_with_a_safe_cookie(client, session, people):
    r = login(client, "wang", PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/map"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("shanzhi_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/map").status_code == 200
    assert client.get("/api/v1/me").json()["username"] == "wang"
    assert audit_rows(session, "auth.login")[-1].outcome == "allowed"


def test_the_session_cookie_is_secure_over_https(client, session, people):
    client.base_url = "https://testserver"
    r = login(client, "wang", PASSWORD)
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("shanzhi_session="))
    assert "Secure" in cookie


def test_pages_redirect_to_login_and_back(client, people):
    r = client.get("/map", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/map"
    assert login(client, "wang", PASSWORD, next="//evil.example/x").headers["location"] == "/map"


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client, session, people):
    wrong = login(client, "wang", "not-the-password1")
    unknown = login(client, "nobody", "not-the-password1")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    reasons = [r.summary for r in audit_rows(session, "auth.login")]
    assert len(reasons) == 2 and "bad_password" in reasons[0] and "unknown_user" in reasons[1]


def test_an_unknown_user_costs_the_same_password_hash_as_a_wrong_password(client, people, monkeypatch):
    calls: list[str] = []
    real = crypto._hasher

    class Counting:
        def verify(self, h: str, p: str) -> bool:
            calls.append(h)
            return real.verify(h, p)

    monkeypatch.setattr(crypto, "_hasher", Counting())
    login(client, "wang", "not-the-password1")
    login(client, "nobody", "not-the-password1")
    assert len(calls) == 2  # one argon2 verification each: no timing shortcut for unknown names
    assert calls[1] == crypto._DUMMY_HASH


def test_repeated_failures_lock_the_account_with_growing_back_off(client, session, people):
    for _ in range(4):
        assert login(client, "wang", "bad-password-1").status_code == 401
    assert login(client, "wang", "bad-password-1").status_code == 401  # the 5th failure locks
    locked = login(client, "wang", PASSWORD)  # even the right password now
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text
    row = session.get(LoginThrottle, "user:wang")
    first = row.locked_until
    assert row.failures == 5
    # Once the lock has passed, one more failure locks for twice as long.
    row.locked_until = utcnow() - timedelta(seconds=1)
    session.commit()
    assert login(client, "wang", "bad-password-1").status_code == 401
    session.refresh(row)
    assert row.failures == 6
    from shanzhi.db import as_utc

    assert as_utc(row.locked_until) - utcnow() > timedelta(seconds=100)
    assert first is not None
    assert audit_rows(session, "auth.login")[-2].summary.count("locked") == 1


def test_unknown_names_lock_exactly_like_known_ones(client, people):
    for _ in range(5):
        login(client, "ghost", "bad-password-1")
    assert login(client, "ghost", "bad-password-1").status_code == 429


def test_many_failures_from_one_address_lock_that_address_for_every_name(client, session, people):
    for i in range(20):
        login(client, f"guess{i}", "bad-password-1")
    r = login(client, "wang", PASSWORD)
    assert r.status_code == 429
    assert session.get(LoginThrottle, "ip:testclient").failures == 20


def test_a_successful_sign_in_clears_the_account_counter(client, session, people):
    for _ in range(3):
        login(client, "wang", "bad-password-1")
    assert login(client, "wang", PASSWORD).status_code == 303
    assert session.get(LoginThrottle, "user:wang") is None


def test_a_disabled_user_cannot_sign_in(client, session, people):
    people.is_active = False
    session.commit()
    assert login(client, "wang", PASSWORD).status_code == 401


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data, headers: data.pop("csrf_token"),
        lambda data, headers: data.update(csrf_token="forged"),
        lambda data, headers: headers.update(origin="https://evil.example"),
        lambda data, headers: headers.update(referer="https://evil.example/form.html"),
    ],
    ids=["missing", "wrong", "cross-site-origin", "cross-site-referer"],
)
def test_forms_without_a_valid_csrf_token_or_from_another_site_are_refused(client, session, people, tamper):
    data = {"username": "wang", "password": PASSWORD, "csrf_token": csrf_of(client), "next": "/map"}
    headers: dict[str, str] = {}
    tamper(data, headers)
    r = client.post("/login", data=data, headers=headers, follow_redirects=False)
    assert r.status_code == 403 and "表单已过期或来源不可信" in r.text
    assert "shanzhi_session" not in r.headers.get("set-cookie", "")
    assert audit_rows(session, "auth.csrf")[-1].outcome == "denied"


def test_api_writes_with_the_session_cookie_need_the_csrf_header(client, session, people):
    login(client, "wang", PASSWORD)
    body = {"name": "x", "days": 5}
    assert client.post("/api/v1/me/tokens", json=body).status_code == 403
    csrf = crypto.unsign(client.cookies.get("shanzhi_csrf"), "csrf", 3600)
    assert client.post("/api/v1/me/tokens", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_logout_ends_the_session_on_the_server(client, session, people):
    login(client, "wang", PASSWORD)
    stolen = client.cookies.get("shanzhi_session")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/map").text).group(1)
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set("shanzhi_session", stolen)  # replaying the old cookie does not work
    assert client.get("/api/v1/me").status_code == 401


def test_changing_the_password_ends_other_sessions_and_never_logs_the_password(client, session, people):
    login(client, "wang", PASSWORD)
    csrf = crypto.unsign(client.cookies.get("shanzhi_csrf"), "csrf", 3600)
    wrong = client.post("/api/v1/me/password", json={"old_password": "nope-nope-1", "new_password": "brand-new-pass-2"},
                        headers={"X-CSRF-Token": csrf})
    assert wrong.status_code == 401 and wrong.json()["error"]["message_zh"] == "当前密码不正确"
    ok = client.post("/api/v1/me/password", json={"old_password": PASSWORD, "new_password": "brand-new-pass-2"},
                     headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 204
    assert client.get("/api/v1/me").status_code == 401  # signed out everywhere
    assert login(client, "wang", "brand-new-pass-2").status_code == 303
    everything = " ".join(r.summary for r in session.scalars(select(AuditEntry)))
    assert PASSWORD not in everything and "brand-new-pass-2" not in everything


def test_an_over_long_field_on_the_login_form_gets_a_chinese_error_page(client, session, people):
    data = {"username": "w" * 65, "password": "x", "csrf_token": csrf_of(client), "next": "/map"}
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 422 and "输入有误" in r.text and "<html" in r.text


def test_signing_out_says_so_and_unknown_notices_are_not_echoed(client, session, people):
    login(client, "wang", PASSWORD)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/map").text).group(1)
    page = client.post("/logout", data={"csrf_token": csrf})
    assert "您已安全退出" in page.text
    assert "<script>" not in client.get("/login", params={"notice": "<script>alert(1)</script>"}).text
