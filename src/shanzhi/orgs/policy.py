"""The organizations' policy data: kinds and list words (orgs.toml) and matching (matching.toml).

Validated once, on load, like the event catalog: a district's broken file fails at start-up.
Organization kinds are orgs.toml's own plus the event catalog's handler types, so a handling
unit and an alliance member are the same kind of row told apart only by `kind`.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shanzhi.errors import InvalidInput
from shanzhi.events.catalog import catalog
from shanzhi.geo.levels import LEVEL_NAMES
from shanzhi.policy.loader import policy_path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrgKind(_Strict):
    label: str = Field(min_length=1)
    levels: tuple[str, ...] = ()
    individual: bool = False
    handler: bool = False  # set for the catalog's handler types, never in orgs.toml

    @model_validator(mode="after")
    def _levels(self) -> OrgKind:
        bad = set(self.levels) - set(LEVEL_NAMES)
        if bad:
            raise ValueError(f"unknown levels {sorted(bad)}")
        return self


class Arrangement(_Strict):
    label: str = Field(min_length=1)
    code_prefix: str = Field(pattern=r"^[A-Z]{1,4}$")
    lead_kinds: tuple[str, ...] = ()
    lead_levels: tuple[str, ...] = ()
    max_members: int = Field(ge=0)
    max_villages: int = Field(ge=0)


class OrgsPolicy(_Strict):
    version: str = Field(min_length=1)
    kinds_: dict[str, OrgKind] = Field(alias="kinds", min_length=1)
    arrangements: dict[str, Arrangement] = Field(min_length=1)
    alliance_statuses: dict[str, str]
    resource_kinds: dict[str, str] = Field(min_length=1)
    resource_statuses: dict[str, str]
    urgencies: dict[str, str] = Field(min_length=1)
    requesters: dict[str, str] = Field(min_length=1)
    need_statuses: dict[str, str]
    project_statuses: dict[str, str]

    @model_validator(mode="after")
    def _consistent(self) -> OrgsPolicy:
        clash = set(self.kinds_) & {h.code for h in catalog().handler_types}
        if clash:
            raise ValueError(f"kinds {sorted(clash)} repeat the catalog's handler types")
        for name, arr in self.arrangements.items():
            unknown = set(arr.lead_kinds) - set(self.kinds_)
            if unknown:
                raise ValueError(f"arrangement {name} is led by unknown kinds {sorted(unknown)}")
            for kind in arr.lead_kinds:
                if arr.lead_levels and self.kinds_[kind].levels and \
                        not set(arr.lead_levels) <= set(self.kinds_[kind].levels):
                    raise ValueError(f"arrangement {name}: lead levels outside {kind}'s levels")
        # The code relies on these statuses (what counts as open, met, active …); labels are free.
        required = {
            "alliance_statuses": {"active", "ended"}, "resource_statuses": {"open"},
            "need_statuses": {"open", "matched", "met", "closed"},
            "project_statuses": {"planned", "in_progress", "completed", "cancelled"},
        }
        for field, keys in required.items():
            missing = keys - set(getattr(self, field))
            if missing:
                raise ValueError(f"{field} lacks {sorted(missing)}")
        return self

    def kinds(self) -> dict[str, OrgKind]:
        """Every organization kind: this file's, then the catalog's handler types."""
        # A handling unit's tier is its region's level already: no separate level to state.
        handlers = {h.code: OrgKind(label=h.name, handler=True) for h in catalog().handler_types}
        return {**self.kinds_, **handlers}

    def kind(self, code: str) -> OrgKind:
        found = self.kinds().get(code)
        if found is None:
            raise InvalidInput(f"Unknown organization kind {code!r}", f"未知的组织类型：{code}", code="unknown_kind")
        return found

    def arrangement(self, code: str) -> Arrangement:
        found = self.arrangements.get(code)
        if found is None:
            raise InvalidInput(f"Unknown arrangement kind {code!r} (alliance|pairing)",
                               f"未知的联建类型：{code}", code="unknown_kind")
        return found


def check_word(table: dict[str, str], value: str | None, what: str, what_zh: str) -> str:
    """A key of one of the policy's word tables (statuses, kinds …), or a 422 naming the choices."""
    if value not in table:
        raise InvalidInput(f"Unknown {what} {value!r}; use one of {', '.join(table)}",
                           f"未知的{what_zh}：{value}（可选：{'、'.join(f'{k} {v}' for k, v in table.items())}）",
                           code=f"unknown_{what.replace(' ', '_')}")
    return value  # type: ignore[return-value]


class Weights(_Strict):
    kind: float = Field(ge=0)
    distance: float = Field(ge=0)
    capacity: float = Field(ge=0)
    alliance: float = Field(ge=0)
    outcomes: float = Field(ge=0)


class DistancePolicy(_Strict):
    zero_km: float = Field(gt=0)


class AlliancePolicy(_Strict):
    covering: float = Field(ge=0, le=1)
    serves_village: float = Field(ge=0, le=1)


class OutcomePolicy(_Strict):
    no_history: float = Field(ge=0, le=1)
    unrated: float = Field(ge=0, le=1)
    cancelled: float = Field(ge=0, le=1)


class MatchingPolicy(_Strict):
    version: str = Field(min_length=1)
    unmatched_flag_days: int = Field(ge=1)
    max_proposals: int = Field(ge=1, le=100)
    weights: Weights
    distance: DistancePolicy
    alliance: AlliancePolicy
    outcomes: OutcomePolicy
    related_kinds: dict[str, dict[str, float]] = {}
    event_needs: dict[str, str] = {}

    @model_validator(mode="after")
    def _consistent(self) -> MatchingPolicy:
        if sum(self.weights.model_dump().values()) <= 0:
            raise ValueError("the weights must not all be zero")
        kinds = set(orgs_policy().resource_kinds)
        for need, related in self.related_kinds.items():
            unknown = ({need} | set(related)) - kinds
            if unknown:
                raise ValueError(f"related_kinds names unknown resource kinds {sorted(unknown)}")
            if any(not 0 <= v <= 1 for v in related.values()):
                raise ValueError(f"related_kinds.{need}: factors must lie in 0–1")
        unknown = set(self.event_needs.values()) - kinds
        if unknown:
            raise ValueError(f"event_needs names unknown resource kinds {sorted(unknown)}")
        for code in self.event_needs:
            catalog().category(code)
        return self

    def kind_factor(self, need_kind: str, resource_kind: str) -> float:
        if need_kind == resource_kind:
            return 1.0
        return self.related_kinds.get(need_kind, {}).get(resource_kind, 0.0)


def _load(name: str) -> dict[str, Any]:
    with policy_path(name).open("rb") as f:
        return tomllib.load(f)


@lru_cache
def orgs_policy() -> OrgsPolicy:
    return OrgsPolicy.model_validate(_load("orgs.toml"))


@lru_cache
def matching_policy() -> MatchingPolicy:
    return MatchingPolicy.model_validate(_load("matching.toml"))
