"""What detection does for a report as it arrives: suggest its category, watch for disputes.

Detection must never stop a report from being received: a failure here is logged and the
event is stored without the suggestion or the alert (the dispute check runs in a savepoint,
so its half-written rows roll back alone).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from shanzhi.detect import classify, disputes
from shanzhi.detect.policy import detect_policy
from shanzhi.errors import InvalidInput
from shanzhi.events.models import Event

log = logging.getLogger(__name__)


def suggest_category(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(the category to assign, if the top suggestion is confident enough; the top 3)."""
    try:
        found = classify.suggest(text)
    except InvalidInput:
        return None, []  # no Chinese, too long…: the dispatcher reads it
    except Exception:
        log.exception("category suggestion failed")
        return None, []
    top = found[0]
    chosen = top.code if top.probability >= detect_policy().classify.assign_at and not top.uncertain else None
    return chosen, [{"code": s.code, "p": round(s.probability, 3)} for s in found]


def after_intake(session: Session, event: Event) -> None:
    try:
        with session.begin_nested():
            disputes.check_report(session, event)
    except Exception:
        log.exception("dispute check failed for %s", event.code)
