"""The housing registry's policy data: words and retention (housing.toml), the inspection
checklist (inspection.toml). Validated once, on load: a district's broken file fails at start-up."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shanzhi.errors import InvalidInput
from shanzhi.events.catalog import catalog
from shanzhi.housing.idcard import KINDS
from shanzhi.policy.loader import policy_path

Place = Literal["building", "unit"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retention(_Strict):
    ended_registration_days: int = Field(ge=1)


class HousingOrgs(_Strict):
    manager_kind: str = Field(min_length=1)


class IdType(_Strict):
    label: str = Field(min_length=1)
    kind: str  # the checker: a key of housing/idcard.py KINDS

    @model_validator(mode="after")
    def _known(self) -> IdType:
        if self.kind not in KINDS:
            raise ValueError(f"unknown id type kind {self.kind!r}; use one of {sorted(KINDS)}")
        return self


# The document rows recorded before types existed are (the column's server default).
DEFAULT_ID_TYPE = "resident_id"


class HousingPolicy(_Strict):
    version: str = Field(min_length=1)
    uses: dict[str, str] = Field(min_length=1)
    constructions: dict[str, str] = Field(min_length=1)
    unit_kinds: dict[str, str] = Field(min_length=1)
    rental_statuses: dict[str, str] = Field(min_length=1)
    manager_duties: dict[str, str]
    purposes: dict[str, str] = Field(min_length=1)
    relations: dict[str, str] = Field(min_length=1)
    id_types: dict[str, IdType] = Field(min_length=1)
    retention: Retention
    organizations: HousingOrgs

    @model_validator(mode="after")
    def _statuses(self) -> HousingPolicy:
        # Registering and ending tenancies moves a unit between these two by rule.
        missing = {"rented", "vacant"} - set(self.rental_statuses)
        if missing:
            raise ValueError(f"rental_statuses must include {sorted(missing)}")
        if "head" not in self.relations:
            raise ValueError("relations must include head (户主)")
        if DEFAULT_ID_TYPE not in self.id_types:
            raise ValueError(f"id_types must include {DEFAULT_ID_TYPE} (existing rows are of that type)")
        return self

    def check(self, field: str, value: str | None, label_zh: str) -> None:
        """InvalidInput unless `value` is a key of the named word list (None passes)."""
        words: dict[str, str] = getattr(self, field)
        if value is not None and value not in words:
            choices = "、".join(f"{k}（{v}）" for k, v in words.items())
            raise InvalidInput(f"Unknown {field} {value!r}; use one of {', '.join(words)}",
                               f"{label_zh}「{value}」无效，应为：{choices}", code=f"invalid_{field}")

    def key_for(self, field: str, text: str) -> str | None:
        """A word list's key from its key or its Chinese label (for spreadsheets)."""
        words: dict[str, str] = getattr(self, field)
        if text in words:
            return text
        return next((k for k, v in words.items() if v == text or v.split("（")[0] == text), None)


class ChecklistItem(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    label: str = Field(min_length=1)
    hint: str = ""
    applies_to: tuple[Place, ...] = Field(min_length=1)
    category: str = Field(pattern=r"^\d{4}$")  # the event an unresolved finding becomes
    rectify_days: int = Field(ge=1, le=365)


class Occupancy(_Strict):
    min_area_per_person_m2: float = Field(gt=0)
    item: str


class Checklist(_Strict):
    version: str = Field(min_length=1)
    occupancy: Occupancy
    items: tuple[ChecklistItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Checklist:
        keys = [i.key for i in self.items]
        if len(keys) != len(set(keys)):
            raise ValueError("checklist item keys must be unique")
        if self.occupancy.item not in keys:
            raise ValueError(f"occupancy.item {self.occupancy.item!r} is not a checklist item")
        known = {c.code for c in catalog().categories}
        for item in self.items:
            if item.category not in known:
                raise ValueError(f"checklist item {item.key}: unknown event category {item.category}")
        return self

    def item(self, key: str) -> ChecklistItem:
        for it in self.items:
            if it.key == key:
                return it
        raise InvalidInput(f"Unknown checklist item {key!r}", f"检查项「{key}」不存在", code="unknown_item")

    def for_place(self, place: Place) -> list[ChecklistItem]:
        return [i for i in self.items if place in i.applies_to]

    def occupant_limit(self, area_m2: float | None) -> int | None:
        """How many people a unit of this area may house (None when its area is unknown)."""
        if area_m2 is None or area_m2 <= 0:
            return None
        return max(1, int(area_m2 // self.occupancy.min_area_per_person_m2))


@lru_cache
def housing_policy() -> HousingPolicy:
    with policy_path("housing.toml").open("rb") as f:
        return HousingPolicy.model_validate(tomllib.load(f))


@lru_cache
def checklist() -> Checklist:
    with policy_path("inspection.toml").open("rb") as f:
        return Checklist.model_validate(tomllib.load(f))
