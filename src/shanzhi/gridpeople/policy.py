"""The grid-people policy (`policy/gridpeople.toml`), validated on load."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shanzhi.errors import InvalidInput
from shanzhi.geo.levels import LEVEL_NAMES
from shanzhi.policy.loader import policy_path

RESIDENT_FIELDS = ("population", "floating_population")


class _Strict(BaseModel):
    # A misspelt key in a district's file should fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RolePolicy(_Strict):
    label: str = Field(min_length=1)
    levels: tuple[str, ...] = Field(min_length=1)
    single: bool = False


class CoveragePolicy(_Strict):
    leaders: dict[str, str]
    liaison_role: str
    per_residents: int = Field(ge=1)
    residents: tuple[str, ...] = Field(min_length=1)
    list_limit: int = Field(ge=0, le=10_000)


class PatrolPolicy(_Strict):
    kinds: dict[str, str] = Field(min_length=1)
    max_backdate_days: int = Field(ge=0, le=366)
    future_skew_minutes: int = Field(ge=0, le=24 * 60)


class GridPeoplePolicy(_Strict):
    version: str
    roles: dict[str, RolePolicy] = Field(min_length=1)
    coverage: CoveragePolicy
    patrols: PatrolPolicy

    @model_validator(mode="after")
    def _consistent(self) -> GridPeoplePolicy:
        for name, role in self.roles.items():
            bad = set(role.levels) - set(LEVEL_NAMES)
            if bad:
                raise ValueError(f"role {name} has unknown levels {sorted(bad)}")
        for level, role in self.coverage.leaders.items():
            if level not in LEVEL_NAMES:
                raise ValueError(f"coverage.leaders has unknown level {level!r}")
            if role not in self.roles or level not in self.roles[role].levels:
                raise ValueError(f"coverage.leaders: role {role!r} cannot sit at level {level!r}")
        if self.coverage.liaison_role not in self.roles:
            raise ValueError(f"coverage.liaison_role {self.coverage.liaison_role!r} is not a role")
        bad = set(self.coverage.residents) - set(RESIDENT_FIELDS)
        if bad:
            raise ValueError(f"coverage.residents has unknown fields {sorted(bad)}; use {RESIDENT_FIELDS}")
        return self

    def role(self, name: str) -> RolePolicy:
        found = self.roles.get(name)
        if found is None:
            raise InvalidInput(
                f"Unknown grid role {name!r}; use one of {', '.join(self.roles)}",
                f"未知的网格职务 {name!r}，应为 {'、'.join(self.roles)} 之一",
                code="unknown_role",
            )
        return found

    def label(self, name: str) -> str:
        return self.roles[name].label if name in self.roles else name


def load_policy(path: Path) -> GridPeoplePolicy:
    with path.open("rb") as f:
        return GridPeoplePolicy.model_validate(tomllib.load(f))


@lru_cache
def gridpeople_policy() -> GridPeoplePolicy:
    return load_policy(policy_path("gridpeople.toml"))
