"""Dispute early warning (矛盾不上交): a dispute that comes back is a dispute about to go up.

A new dispute report is compared with the village's disputes of the last `window_days`: the
same address, a party named in both (张某, 老李, 李家 … by the policy's patterns), or a very
similar account. Any match, or a dispute reopened or escalated, raises a `dispute_risk` alert
on the event with the reasons, so the village mediates before it reaches the town.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shanzhi.db import local_time, utcnow
from shanzhi.detect.alerts import Finding, raise_alert
from shanzhi.detect.models import DetectAlert
from shanzhi.detect.policy import DisputePolicy, detect_policy
from shanzhi.detect.text import normalized, text_similarity
from shanzhi.events.catalog import category_name
from shanzhi.events.models import Event

MIN_ADDRESS_CHARS = 4  # "3号" alone says nothing about which household
STEP_REASONS = {"reopen": "纠纷核查未通过、被重新打开", "escalate": "纠纷已上报上级"}


@lru_cache(maxsize=8)
def _party_pattern(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def parties(text: str, policy: DisputePolicy | None = None) -> set[str]:
    """The people a report names by the policy's patterns, e.g. {"张某", "老李", "李家"}."""
    pattern = _party_pattern((policy or detect_policy().disputes).party_patterns)
    return set(pattern.findall(text)) if pattern else set()


def is_dispute(event: Event, policy: DisputePolicy | None = None) -> bool:
    majors = (policy or detect_policy().disputes).majors
    return bool(event.category_code) and event.category_code[:2] in majors  # type: ignore[index]


def _earlier_matches(session: Session, event: Event, now: datetime, policy: DisputePolicy) -> list[str]:
    since = now - timedelta(days=policy.window_days)
    place = (Event.village_code == event.village_code) if event.village_code else (Event.region_code == event.region_code)
    rows = session.scalars(
        select(Event).where(place, Event.id != event.id, Event.created_at >= since, Event.created_at <= now,
                            or_(*(Event.category_code.startswith(m) for m in policy.majors)))
        .order_by(Event.created_at.desc()).limit(200)
    ).all()
    address = normalized(event.address or "")
    names = parties(event.text, policy)
    reasons: list[str] = []
    for other in rows:
        why: list[str] = []
        if len(address) >= MIN_ADDRESS_CHARS and normalized(other.address or "") == address:
            why.append(f"同一地址（{event.address}）")
        if shared := names & parties(other.text, policy):
            why.append(f"同一当事人（{'、'.join(sorted(shared))}）")
        if not why and text_similarity(event.text, other.text) >= policy.text_similarity:
            why.append("情况描述高度相似")
        if why:
            day = local_time(other.created_at).strftime("%m月%d日")
            reasons.append(f"{day} 已有纠纷 {other.code}（{category_name(other.category_code or '')}，"
                           f"{'；'.join(why)}）")
    return reasons


def _raise(session: Session, event: Event, reasons: list[str], now: datetime) -> DetectAlert:
    key = f"dispute:{event.code}"
    earlier = session.scalar(select(DetectAlert.reason).where(DetectAlert.key == key))
    lines = [*(earlier.split("\n") if earlier else []), *(r for r in reasons if not earlier or r not in earlier)]
    return raise_alert(session, Finding(
        kind="dispute_risk", key=key, region_code=event.region_code, category_code=event.category_code,
        event_id=event.id, title=f"矛盾风险：{event.code} 反复发生，请村(社)先行调解",
        reason="\n".join(lines), score=min(1.0, 0.4 + 0.2 * len(lines)),
        data={"code": event.code, "reasons": len(lines)},
    ), now=now, reopen=True)


def check_report(session: Session, event: Event, *, now: datetime | None = None) -> DetectAlert | None:
    """On intake: a dispute like one the village had lately raises a risk alert."""
    policy = detect_policy().disputes
    if not is_dispute(event, policy):
        return None
    now = now or utcnow()
    reasons = _earlier_matches(session, event, now, policy)
    return _raise(session, event, reasons, now) if reasons else None


def check_step(session: Session, event: Event, action: str, *, now: datetime | None = None) -> DetectAlert | None:
    """On reopen or escalation of a dispute: raise (or add to) its risk alert."""
    if not is_dispute(event) or action not in STEP_REASONS:
        return None
    now = now or utcnow()
    return _raise(session, event, [f"{local_time(now):%m月%d日} {STEP_REASONS[action]}"], now)
