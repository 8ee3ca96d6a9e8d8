"""Per-address limits for the pages anyone may use without signing in.

Counted in the database, so every process behind a load balancer sees the same counts. The
rows live in sign-in's `login_throttle` table under keys of their own ("public:report:ip:…");
sign-in's keys ("user:…", "ip:…") never collide with them. For these rows `failures` is the
number of uses in the current window and `locked_until` is when that window ends: a fixed
window per address, started by its first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from shanzhi.accounts.models import LoginThrottle
from shanzhi.db import as_utc, insert_ignoring_conflict, utcnow
from shanzhi.errors import TooManyRequests
from shanzhi.policy.loader import permissions


@dataclass(frozen=True)
class Limit:
    name: str
    uses: int  # allowed per window
    window: timedelta
    what_zh: str  # "提交上报": completes the refusal's sentence


# What each limit counts, completing the refusal's sentence; the numbers are policy
# (permissions.toml [public_limits]).
WHAT_ZH = {"report": "提交上报", "track": "查询"}


def limit(name: str) -> Limit:
    """The policy's limit `name`: "report" (reports sent) or "track" (failed look-ups)."""
    rule = getattr(permissions().public_limits, name)
    return Limit(name, rule.uses, timedelta(minutes=rule.window_minutes), WHAT_ZH[name])


def _key(limit: Limit, address: str | None) -> str:
    return f"public:{limit.name}:ip:{(address or 'unknown')[:64]}"


def _refuse(limit: Limit, until: datetime, now: datetime) -> TooManyRequests:
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    return TooManyRequests(
        f"Too many attempts from this address; try again in {minutes} min",
        f"本网络{limit.what_zh}过于频繁，请 {minutes} 分钟后再试",
        code="rate_limited",
    )


def _row(session: Session, limit: Limit, address: str | None, now: datetime) -> LoginThrottle:
    key = _key(limit, address)
    insert_ignoring_conflict(session, LoginThrottle.__table__,
                             {"key": key, "failures": 0, "locked_until": now + limit.window, "updated_at": now},
                             ["key"])
    # The row lock serializes racing requests on PostgreSQL; SQLite admits one writer anyway.
    row = session.get(LoginThrottle, key, with_for_update=session.get_bind().dialect.name == "postgresql",
                      populate_existing=True)
    assert row is not None
    ends = as_utc(row.locked_until)
    if ends is None or ends <= now:
        row.failures, row.locked_until = 0, now + limit.window
    return row


def check(session: Session, limit: Limit, address: str | None) -> None:
    """Refuse (429) when the address has used up its window; counts nothing."""
    now = utcnow()
    row = session.get(LoginThrottle, _key(limit, address))
    ends = as_utc(row.locked_until) if row is not None else None
    if row is not None and ends is not None and ends > now and row.failures >= limit.uses:
        raise _refuse(limit, ends, now)


def take(session: Session, limit: Limit, address: str | None) -> None:
    """Count one use in the caller's transaction, or refuse (429) when none is left.

    A use counted inside work that is later undone (a savepoint rolled back) is undone with it,
    so only what really happened counts."""
    now = utcnow()
    row = _row(session, limit, address, now)
    if row.failures >= limit.uses:
        raise _refuse(limit, as_utc(row.locked_until) or now, now)
    row.failures += 1
    row.updated_at = now
    session.flush()
