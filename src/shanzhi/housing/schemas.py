"""API input for the housing registry (output is built by housing/views.py)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shanzhi.housing.inspections import Answer
from shanzhi.housing.people import PersonInput
from shanzhi.housing.service import BuildingInput, PartyInput, UnitInput


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyIn(_In):
    kind: Literal["person", "org"]
    name: str = Field(default="", max_length=120)
    phone: str | None = Field(default=None, max_length=24)
    id_type: str | None = Field(default=None, max_length=24)  # housing.toml id_types; None: resident ID
    id_number: str | None = Field(default=None, max_length=24)
    org_code: str | None = Field(default=None, max_length=32)

    def to_input(self) -> PartyInput:
        return PartyInput(**self.model_dump())


def _party(p: PartyIn | None) -> PartyInput | None:
    return p.to_input() if p is not None else None


class UnitIn(_In):
    number: str = Field(max_length=20)
    kind: str = Field(default="room", max_length=12)
    floor: int | None = None
    area_m2: float | None = None
    rental_status: str = Field(default="vacant", max_length=16)
    landlord: PartyIn | None = None

    def to_input(self) -> UnitInput:
        return UnitInput(**{**self.model_dump(exclude={"landlord"}), "landlord": _party(self.landlord)})


class BuildingIn(_In):
    address: str = Field(max_length=200)
    lon: float
    lat: float
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    use: str = Field(max_length=16)
    floors: int | None = None
    construction: str | None = Field(default=None, max_length=24)
    owner: PartyIn | None = None
    manager: PartyIn | None = None
    manager_duties: list[str] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=2000)
    units: list[UnitIn] = Field(default_factory=list, max_length=500)

    def to_input(self) -> BuildingInput:
        fields = self.model_dump(exclude={"owner", "manager", "units", "manager_duties"})
        return BuildingInput(**fields, owner=_party(self.owner), manager=_party(self.manager),
                             manager_duties=tuple(self.manager_duties))


class BuildingPatch(_In):
    version: int
    address: str | None = Field(default=None, max_length=200)
    use: str | None = Field(default=None, max_length=16)
    floors: int | None = None
    construction: str | None = Field(default=None, max_length=24)
    manager_duties: list[str] | None = Field(default=None, max_length=20)
    notes: str | None = Field(default=None, max_length=2000)
    lon: float | None = None
    lat: float | None = None
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    owner: PartyIn | None = None
    manager: PartyIn | None = None

    def changes(self) -> dict[str, object]:
        """Only the fields the client sent (a PATCH leaves the others alone)."""
        return self.model_dump(exclude_unset=True, exclude={"version", "lon", "lat", "crs", "owner", "manager"})


class UnitPatch(_In):
    version: int
    number: str | None = Field(default=None, max_length=20)
    kind: str | None = Field(default=None, max_length=12)
    floor: int | None = None
    area_m2: float | None = None
    rental_status: str | None = Field(default=None, max_length=16)
    landlord: PartyIn | None = None

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True, exclude={"version", "landlord"})


class PersonIn(_In):
    name: str = Field(max_length=64)
    id_type: str | None = Field(default=None, max_length=24)  # housing.toml id_types; None: resident ID
    id_number: str | None = Field(default=None, max_length=24)
    phone: str | None = Field(default=None, max_length=24)
    registered_address: str | None = Field(default=None, max_length=200)
    is_local: bool = False

    def to_input(self) -> PersonInput:
        return PersonInput(**self.model_dump())


class PersonPatch(_In):
    version: int
    name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=24)
    registered_address: str | None = Field(default=None, max_length=200)


class RegistrationIn(_In):
    unit_id: int
    person: PersonIn
    start_date: date
    end_date: date | None = None
    purpose: str = Field(default="work", max_length=12)


class HouseholdIn(_In):
    kind: Literal["registered", "floating"]
    head_person_id: int
    unit_id: int | None = None


class MemberIn(_In):
    person_id: int
    relation: str = Field(max_length=12)


class LeaveIn(_In):
    reason: str = Field(max_length=200)


class EndIn(_In):
    reason: str = Field(max_length=200)
    ended_on: date | None = None
    version: int | None = None


class RenewIn(_In):
    end_date: date | None = None
    version: int | None = None


class RevealIn(_In):
    fields: list[Literal["id_number", "phone"]] = Field(min_length=1, max_length=2)
    reason: str = Field(max_length=200)


class AnswerIn(_In):
    ok: bool
    note: str | None = Field(default=None, max_length=500)


class InspectionIn(_In):
    building_id: int
    unit_id: int | None = None
    answers: dict[str, AnswerIn] = Field(max_length=50)
    occupants: int | None = None
    notes: str | None = Field(default=None, max_length=2000)
    reinspection_of: int | None = None
    deadline: date | None = None

    def answer_inputs(self) -> dict[str, Answer]:
        return {k: Answer(a.ok, a.note) for k, a in self.answers.items()}


class EscalateIn(_In):
    text: str | None = Field(default=None, max_length=2000)
