"""Dates as the district reads them: registrations and deadlines are calendar days in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime

from shanzhi.db import local_time, utcnow


def today_local(now: datetime | None = None) -> date:
    return local_time(now or utcnow()).date()
