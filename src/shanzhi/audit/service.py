"""Audit trail rules: append to the hash chain, verify it, read it.

Plain functions taking a session; they flush, the caller's boundary commits. An entry is
written in the same transaction as the act it records, so the two stand or fall together;
denials and failed logins use `record_durably`, which survives the rollback of their request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session

from shanzhi.audit.models import AuditEntry
from shanzhi.db import (
    AppMeta,
    after_transaction,
    as_utc,
    get_meta,
    insert_ignoring_conflict,
    utcnow,
)
from shanzhi.errors import InvalidInput, ShanzhiError

HEAD_KEY = "audit_head"
GENESIS = "0" * 64
OUTCOMES = ("allowed", "denied", "failed")
REDACTED = "[redacted]"
SECRET_WORDS = ("password", "passwd", "token", "secret", "hash", "csrf")
MAX_PAGE_SIZE = 500
BATCH = 5000


class AuditChainBroken(ShanzhiError):
    """The chain cannot be extended safely; an operator must look at it (`shanzhi audit verify`)."""

    status_code = 500
    code = "audit_chain_broken"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # rows that passed before the first break (all of them when ok)
    first_broken_seq: int | None
    reason: str
    reason_zh: str


# --- canonical form and hashing -------------------------------------------------------------


def _canonical(value: Any) -> str:
    # default=str keeps dates and decimals in a summary deterministic instead of failing.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _iso(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(row: Any) -> str:
    """The hash a row must carry, from its own columns (an AuditEntry or a result row)."""
    line = _canonical([
        row.seq, _iso(row.at), row.actor_id, row.actor_name, row.ip, row.action,
        row.target_type, row.target_id, row.outcome, row.region_code, row.summary,
    ])
    return hashlib.sha256(f"{row.prev_hash}\n{line}".encode()).hexdigest()


def redact(value: Any) -> Any:
    """A copy with the value of every secret-looking key replaced: the trail keeps no secrets."""
    if isinstance(value, dict):
        return {
            k: REDACTED if any(w in str(k).lower() for w in SECRET_WORDS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


# --- appending ------------------------------------------------------------------------------


def _lock_head(session: Session) -> tuple[int, str]:
    """Read the chain head and hold it until commit, so concurrent appends queue, never fork."""
    postgres = session.get_bind().dialect.name == "postgresql"
    head = select(AppMeta.value).where(AppMeta.key == HEAD_KEY)
    if postgres:
        head = head.with_for_update()
    else:
        # SQLite locks the whole database for a writer. Writing first takes that lock before
        # we read, so a concurrent append waits here instead of failing on a stale snapshot.
        session.execute(
            update(AppMeta).where(AppMeta.key == HEAD_KEY).values(value=AppMeta.value)
            .execution_options(synchronize_session=False)
        )
    value = session.scalar(head)
    if value is None:
        # Two first appends may race here: the loser's insert waits for the winner's row and
        # does nothing, then both lock that row in turn.
        insert_ignoring_conflict(session, AppMeta.__table__,
                                 {"key": HEAD_KEY, "value": f"0:{GENESIS}", "updated_at": utcnow()}, ["key"])
        value = session.scalar(head)
        assert value is not None
    seq, _, digest = value.partition(":")
    # A fresh head over existing rows means someone removed it; restarting at seq 1 would
    # hide whatever was cut off, so refuse (checked only while the head is still at 0).
    if seq == "0" and session.scalar(select(AuditEntry.id).limit(1)) is not None:
        raise AuditChainBroken(
            "The audit chain head is missing although entries exist",
            "审计链头记录缺失，但已有审计条目，请运行 shanzhi audit verify 检查",
        )
    return int(seq), digest


def _check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise InvalidInput(
            f"outcome must be one of {', '.join(OUTCOMES)}",
            f"结果应为 {' / '.join(OUTCOMES)} 之一",
        )


def record(
    session: Session,
    *,
    action: str,
    actor_id: int | None = None,
    actor_name: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: str = "allowed",
    region_code: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: Any = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the current transaction."""
    _check_outcome(outcome)
    last_seq, last_hash = _lock_head(session)
    entry = AuditEntry(
        seq=last_seq + 1,
        at=utcnow(),
        actor_id=actor_id,
        actor_name=actor_name,
        ip=ip if ip is not None else session.info.get("client_ip"),
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        outcome=outcome,
        region_code=region_code,
        summary=_canonical(redact({"before": before, "after": after, "detail": detail})),
        prev_hash=last_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    # The head row exists and is locked (_lock_head): a plain UPDATE, no read-back.
    session.execute(
        update(AppMeta).where(AppMeta.key == HEAD_KEY)
        .values(value=f"{entry.seq}:{entry.hash}", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return entry


def record_durably(
    session: Session,
    *,
    action: str,
    actor_id: int | None = None,
    actor_name: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: str = "allowed",
    region_code: str | None = None,
    before: Any = None,
    after: Any = None,
    detail: Any = None,
    ip: str | None = None,
) -> None:
    """Append once the current transaction ends, committed or rolled back (denials, failures)."""
    # Check and capture everything now: a mistake must raise here, not after the rollback,
    # and later changes to the caller's dicts or to the session's client_ip must not leak in.
    _check_outcome(outcome)
    fields: dict[str, Any] = {
        "action": action, "actor_id": actor_id, "actor_name": actor_name,
        "target_type": target_type, "target_id": target_id, "outcome": outcome,
        "region_code": region_code, "before": redact(before), "after": redact(after),
        "detail": redact(detail), "ip": ip if ip is not None else session.info.get("client_ip"),
    }

    def effect(s: Session) -> None:
        record(s, **fields)

    after_transaction(session, effect)


# --- verifying ------------------------------------------------------------------------------


def _rows_after(session: Session, seq: int) -> Iterator[Any]:
    """Rows in seq order, fetched in batches as plain rows (not kept in the identity map)."""
    while True:
        batch = session.execute(
            select(AuditEntry.__table__).where(AuditEntry.seq > seq).order_by(AuditEntry.seq).limit(BATCH)
        ).all()
        yield from batch
        if len(batch) < BATCH:
            return
        seq = batch[-1].seq


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}–{last}"


def _broken(checked: int, seq: int | None, reason: str, reason_zh: str) -> VerifyResult:
    return VerifyResult(False, checked, seq, reason, reason_zh)


def verify(session: Session) -> VerifyResult:
    """Walk the chain in seq order and name the first row that was edited, deleted or cut off."""
    checked, last_seq, last_hash = 0, 0, GENESIS
    while True:
        for row in _rows_after(session, last_seq):
            if row.seq != last_seq + 1:
                missing = _span(last_seq + 1, row.seq - 1)
                return _broken(checked, last_seq + 1,
                               f"entry {missing} was deleted (the next entry is {row.seq})",
                               f"第 {missing} 条已被删除（其后为第 {row.seq} 条）")
            if entry_hash(row) != row.hash:
                return _broken(checked, row.seq,
                               f"entry {row.seq} was edited (its hash does not match its content)",
                               f"第 {row.seq} 条已被篡改（内容与哈希不符）")
            if row.prev_hash != last_hash:
                return _broken(checked, row.seq,
                               f"entry {row.seq} does not link to entry {last_seq}"
                               f" (one of them was altered and re-hashed)",
                               f"第 {row.seq} 条与第 {last_seq} 条的链接断开（其一被篡改后重新计算了哈希）")
            checked, last_seq, last_hash = checked + 1, row.seq, row.hash
        # Read the head after the rows: a head ahead of them is either an append committed
        # meanwhile (its rows are visible now, so walk on) or rows deleted from the end.
        head = get_meta(session, HEAD_KEY)
        head_seq, _, head_hash = (head or f"0:{GENESIS}").partition(":")
        more = select(AuditEntry.id).where(AuditEntry.seq > last_seq).limit(1)
        if int(head_seq) <= last_seq or session.scalar(more) is None:
            break
    if head is None and last_seq:
        return _broken(checked, None, "the chain head record is missing", "审计链头记录缺失")
    if int(head_seq) > last_seq:
        return _broken(checked, last_seq + 1,
                       f"entry {_span(last_seq + 1, int(head_seq))} is missing at the end (deleted)",
                       f"末尾第 {_span(last_seq + 1, int(head_seq))} 条缺失（已被删除）")
    if int(head_seq) < last_seq:
        return _broken(checked, int(head_seq) + 1,
                       f"entry {_span(int(head_seq) + 1, last_seq)} lies beyond the chain head"
                       f" (appended around the service, or the head was rolled back)",
                       f"第 {_span(int(head_seq) + 1, last_seq)} 条超出审计链头（绕过系统写入，或链头被回退）")
    if head_hash != last_hash:
        return _broken(checked, last_seq,
                       f"the chain head does not match entry {last_seq}",
                       f"审计链头与第 {last_seq} 条不符")
    return VerifyResult(True, checked, None, "the audit chain is intact", "审计链完整")


# --- reading --------------------------------------------------------------------------------


def tail(session: Session, *, limit: int = 20) -> list[AuditEntry]:
    """The newest entries, newest first."""
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)))


def list_entries(
    session: Session,
    *,
    region_prefixes: list[str] | None,
    action: str | None = None,
    actor_id: int | None = None,
    outcome: str | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[AuditEntry], int]:
    """One page of entries, newest first; `region_prefixes=None` means the whole district."""
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"page must be ≥ 1 and size 1–{MAX_PAGE_SIZE}",
            f"页码应 ≥ 1，每页条数应为 1–{MAX_PAGE_SIZE}",
        )
    where: list[Any] = []
    if region_prefixes is not None:
        # An empty scope sees nothing, not everything.
        where.append(or_(*(AuditEntry.region_code.startswith(p, autoescape=True)
                           for p in region_prefixes)) if region_prefixes else false())
    if action is not None:
        where.append(AuditEntry.action == action)
    if actor_id is not None:
        where.append(AuditEntry.actor_id == actor_id)
    if outcome is not None:
        where.append(AuditEntry.outcome == outcome)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    items = session.scalars(
        select(AuditEntry).where(*where).order_by(AuditEntry.seq.desc())
        .offset((page - 1) * size).limit(size)
    )
    return list(items), total


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    """What the API says about an entry: the summary as an object, the time as ISO-8601 UTC."""
    return {
        "id": entry.id,
        "seq": entry.seq,
        "at": as_utc(entry.at).isoformat(),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "ip": entry.ip,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "outcome": entry.outcome,
        "region_code": entry.region_code,
        "summary": json.loads(entry.summary),
        "hash": entry.hash,
    }
