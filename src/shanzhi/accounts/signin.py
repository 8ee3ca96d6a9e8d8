"""Signing in: password check with lockout and back-off, and browser sessions.

Failures are counted per name typed and per client address. The counters and the audit row of
a failure are written after the request's transaction ends (which rolls back on the error),
and an unknown name costs the same password-hash time as a wrong password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.crypto import new_secret, sha256_hex, verify_password
from shanzhi.accounts.models import LoginThrottle, User, WebSession
from shanzhi.audit import service as audit
from shanzhi.db import after_transaction, as_utc, insert_ignoring_conflict, utcnow
from shanzhi.errors import TooManyRequests, Unauthorized
from shanzhi.policy.loader import permissions


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    lock = permissions().lockout
    keys = [(f"user:{username.strip().lower()[:128]}", lock.account_failures)]
    if ip:
        keys.append((f"ip:{ip}", lock.address_failures))
    return keys


def _locked_until(session: Session, keys: list[tuple[str, int]]) -> datetime | None:
    rows = session.scalars(select(LoginThrottle.locked_until).where(LoginThrottle.key.in_([k for k, _ in keys])))
    now = utcnow()
    until = [u for u in (as_utc(r) for r in rows) if u is not None and u > now]
    return max(until) if until else None


def _count_failure(session: Session, key: str, threshold: int) -> None:
    lock = permissions().lockout
    now = utcnow()
    insert_ignoring_conflict(session, LoginThrottle.__table__, {"key": key, "failures": 0, "updated_at": now}, ["key"])
    row = session.get(LoginThrottle, key, with_for_update=session.get_bind().dialect.name == "postgresql")
    assert row is not None
    # A quiet spell as long as the longest lock forgives old failures.
    if as_utc(row.updated_at) < now - timedelta(seconds=lock.max_lock_seconds):
        row.failures = 0
    row.failures += 1
    if row.failures >= threshold:
        seconds = min(lock.first_lock_seconds * 2 ** (row.failures - threshold), lock.max_lock_seconds)
        row.locked_until = now + timedelta(seconds=seconds)
    row.updated_at = now
    session.flush()


def authenticate(session: Session, *, username: str, password: str, ip: str | None) -> User:
    keys = _keys(username or "", ip)
    until = _locked_until(session, keys)
    if until is not None:
        minutes = max(1, int((until - utcnow()).total_seconds() + 59) // 60)
        audit.record_durably(session, action="auth.login", actor_name=username[:100], outcome="denied",
                             detail={"reason": "locked"}, ip=ip)
        raise TooManyRequests(
            f"Too many failed sign-ins; try again in {minutes} min",
            f"登录失败次数过多，请 {minutes} 分钟后再试",
            code="login_locked",
        )
    user = session.scalar(select(User).where(func.lower(User.username) == (username or "").strip().lower()))
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.is_active:

        def count(s: Session) -> None:
            for key, threshold in keys:
                _count_failure(s, key, threshold)

        after_transaction(session, count)
        reason = "bad_password" if user is not None and not ok else "inactive" if user is not None else "unknown_user"
        audit.record_durably(session, action="auth.login", actor_id=user.id if user else None,
                             actor_name=username[:100], outcome="failed", detail={"reason": reason}, ip=ip)
        raise Unauthorized("Wrong username or password", "用户名或密码错误", code="login_failed")
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0][0]))
    audit.record(session, action="auth.login", actor_id=user.id, actor_name=user.display_name,
                 target_type="user", target_id=str(user.id), ip=ip)
    return user


def start_session(session: Session, *, user: User, ip: str | None) -> str:
    """A new browser session; returns the raw token for the (signed) cookie."""
    token = new_secret()
    session.add(WebSession(
        token_hash=sha256_hex(token), user_id=user.id, ip=ip,
        expires_at=utcnow() + timedelta(hours=permissions().sessions.hours),
    ))
    session.flush()
    return token


def session_user(session: Session, *, token: str) -> User | None:
    row = session.get(WebSession, sha256_hex(token))
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


def end_session(session: Session, *, token: str) -> None:
    row = session.get(WebSession, sha256_hex(token))
    if row is not None:
        audit.record(session, action="auth.logout", actor_id=row.user_id, target_type="user",
                     target_id=str(row.user_id))
        session.delete(row)
        session.flush()


def end_all_sessions(session: Session, *, user_id: int) -> None:
    """Sign a user out everywhere (password change, reset, disabling)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
