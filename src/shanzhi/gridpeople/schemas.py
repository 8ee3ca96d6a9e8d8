"""API shapes for grid people and patrols. Lengths are checked here first; the service checks the rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

RegionCode = Annotated[str, Field(min_length=6, max_length=18, pattern=r"^\d+$")]


class _In(BaseModel):
    # A misspelt field should be refused, not silently dropped.
    model_config = ConfigDict(extra="forbid")


class PersonIn(_In):
    name: str = Field(min_length=1, max_length=64)
    home_region: RegionCode
    phone: str | None = Field(default=None, max_length=20)
    user_id: int | None = None
    org_code: str | None = Field(default=None, max_length=32)


class PersonPatch(_In):
    """Only the fields sent change; null clears phone, user link or organization."""

    version: int | None = None
    name: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, max_length=20)
    user_id: int | None = None
    org_code: str | None = Field(default=None, max_length=32)


class AssignmentIn(_In):
    role: str = Field(min_length=1, max_length=32)
    region: RegionCode
    start_date: date | None = None


class AssignmentEndIn(_In):
    end_date: date | None = None
    reason: str | None = Field(default=None, max_length=200)


class HandOverIn(_In):
    successor_id: int
    on: date | None = None
    reason: str | None = Field(default=None, max_length=200)


class RevealIn(_In):
    reason: str = Field(min_length=2, max_length=200)


class PatrolIn(_In):
    text: str = Field(min_length=1, max_length=2000)
    kind: str = Field(default="patrol", max_length=16)
    person_id: int | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: str = Field(default="wgs84", max_length=20)
    region: str | None = Field(default=None, min_length=6, max_length=18, pattern=r"^\d+$")
    at: datetime | None = None
    category: str | None = Field(default=None, max_length=4)
    # The finding becomes an event in the same step (channel 网格巡查).
    report_event: bool = False
    urgency: str = Field(default="normal", max_length=8)
    address: str | None = Field(default=None, max_length=200)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=80)


class PatrolEventIn(_In):
    category: str | None = Field(default=None, max_length=4)
    urgency: str = Field(default="normal", max_length=8)
    address: str | None = Field(default=None, max_length=200)
