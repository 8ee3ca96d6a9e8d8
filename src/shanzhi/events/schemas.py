"""API shapes for events."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReportIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    channel: str = Field(default="api", max_length=16)
    category: str | None = Field(default=None, max_length=4)
    urgency: str = Field(default="normal", max_length=8)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: str = Field(default="wgs84", max_length=20)
    region: str | None = Field(default=None, max_length=18, pattern=r"^\d+$")
    address: str | None = Field(default=None, max_length=200)
    reporter_name: str | None = Field(default=None, max_length=64)
    reporter_phone: str | None = Field(default=None, max_length=20)
    idempotency_key: str | None = Field(default=None, max_length=80)


class StepIn(BaseModel):
    version: int | None = None
    reason: str | None = Field(default=None, max_length=2000)
    result: str | None = Field(default=None, max_length=2000)
    unit: str | None = Field(default=None, max_length=32)
    into: str | None = Field(default=None, max_length=32)
    amount: float | None = Field(default=None, gt=0, le=365)
    category: str | None = Field(default=None, max_length=4)  # accept: the dispatcher's category


class RatingIn(BaseModel):
    secret: str = Field(min_length=1, max_length=16)
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)
