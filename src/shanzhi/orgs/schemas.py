"""API shapes for organizations, alliances and the lists. Sizes are bounded here; the services
check the rules. Partial updates pass on only the fields a request actually sent."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

Code = Field(min_length=1, max_length=40)
RegionCode = Field(default=None, min_length=6, max_length=18, pattern=r"^\d+$")
Lon = Field(default=None, ge=-180, le=180)
Lat = Field(default=None, ge=-90, le=90)
Crs = Field(default="wgs84", pattern="^(wgs84|gcj02|bd09)$")


def given(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent (an omitted field is left alone; an explicit null clears it)."""
    return {k: getattr(body, k) for k in body.model_fields_set}


class ContactBody(BaseModel):
    name: str = Field(max_length=64)
    title: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=20)


class OrgCreate(BaseModel):
    code: str = Code
    name: str = Field(max_length=120)
    kind: str = Field(max_length=32)
    level: str | None = Field(default=None, max_length=10)
    region: str | None = RegionCode
    lon: float | None = Lon
    lat: float | None = Lat
    crs: str = Crs
    address: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    villages: list[str] = Field(default_factory=list, max_length=500)
    contacts: list[ContactBody] = Field(default_factory=list, max_length=20)


class OrgUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=120)
    kind: str | None = Field(default=None, max_length=32)
    level: str | None = Field(default=None, max_length=10)
    region: str | None = RegionCode
    lon: float | None = Lon
    lat: float | None = Lat
    address: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    villages: list[str] | None = Field(default=None, max_length=500)


class RevealBody(BaseModel):
    reason: str = Field(max_length=200, description="查看事由（写入审计）")


class MemberBody(BaseModel):
    org: str = Code
    joined_on: date | None = None
    role: str | None = Field(default=None, max_length=64)


class LeaveBody(BaseModel):
    left_on: date | None = None


class AllianceCreate(BaseModel):
    kind: str = Field(default="alliance", max_length=16)
    name: str = Field(max_length=120)
    code: str | None = Field(default=None, max_length=40)
    lead: str | None = Field(default=None, max_length=40)
    region: str | None = RegionCode
    villages: list[str] = Field(default_factory=list, max_length=500)
    charter: str | None = Field(default=None, max_length=10_000)
    started_on: date | None = None
    status: str = Field(default="active", max_length=12)
    members: list[MemberBody] = Field(default_factory=list, max_length=2000)


class AllianceUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=120)
    charter: str | None = Field(default=None, max_length=10_000)
    status: str | None = Field(default=None, max_length=12)
    started_on: date | None = None
    ended_on: date | None = None
    villages: list[str] | None = Field(default=None, max_length=500)
    version: int | None = None


class ResourceCreate(BaseModel):
    org: str = Code
    kind: str = Field(max_length=24)
    title: str = Field(max_length=120)
    capacity: int
    unit: str = Field(default="人次", max_length=16)
    description: str | None = Field(default=None, max_length=2000)
    available_from: date | None = None
    available_until: date | None = None
    region: str | None = RegionCode
    lon: float | None = Lon
    lat: float | None = Lat
    crs: str = Crs
    status: str = Field(default="open", max_length=12)


class ResourceUpdate(BaseModel):
    kind: str | None = Field(default=None, max_length=24)
    title: str | None = Field(default=None, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    capacity: int | None = None
    unit: str | None = Field(default=None, max_length=16)
    available_from: date | None = None
    available_until: date | None = None
    status: str | None = Field(default=None, max_length=12)


class NeedCreate(BaseModel):
    kind: str = Field(max_length=24)
    title: str = Field(max_length=120)
    region: str | None = RegionCode
    lon: float | None = Lon
    lat: float | None = Lat
    crs: str = Crs
    requester: str = Field(default="village", max_length=12)
    group_name: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=2000)
    quantity: int | None = None
    urgency: str = Field(default="normal", max_length=8)


class NeedFromEvent(BaseModel):
    event: str = Field(min_length=1, max_length=32, description="事件编号")
    kind: str | None = Field(default=None, max_length=24)
    title: str | None = Field(default=None, max_length=120)
    quantity: int | None = None
    requester: str = Field(default="group", max_length=12)
    group_name: str | None = Field(default=None, max_length=64)


class NeedUpdate(BaseModel):
    kind: str | None = Field(default=None, max_length=24)
    title: str | None = Field(default=None, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    quantity: int | None = None
    urgency: str | None = Field(default=None, max_length=8)
    group_name: str | None = Field(default=None, max_length=64)


class ReasonBody(BaseModel):
    reason: str = Field(max_length=200)


class PickBody(BaseModel):
    code: str = Field(min_length=1, max_length=20)
    quantity: int = 1


class MilestoneBody(BaseModel):
    title: str = Field(max_length=120)
    due_on: date | None = None


class MatchBody(BaseModel):
    resources: list[PickBody] = Field(min_length=1, max_length=20)
    owner: str | None = Field(default=None, max_length=40)
    owner_name: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, max_length=120)
    started_on: date | None = None
    due_on: date | None = None
    milestones: list[MilestoneBody] = Field(default_factory=list, max_length=50)


class StartBody(BaseModel):
    started_on: date | None = None


class NoteBody(BaseModel):
    text: str = Field(max_length=2000)
    progress: int | None = None


class DoneBody(BaseModel):
    done_on: date | None = None


class CompleteBody(BaseModel):
    outcome: str = Field(max_length=4000)
    beneficiaries: int | None = None
    beneficiaries_note: str | None = Field(default=None, max_length=200)
    rating: int | None = None


class RateBody(BaseModel):
    rating: int
