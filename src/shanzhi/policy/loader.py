"""Load and validate policy files; the district's own copy wins over the shipped default."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from shanzhi.config import get_settings

DEFAULTS = Path(__file__).parent
REACHES = ("region", "unit", "own")


def policy_path(name: str) -> Path:
    override = get_settings().policy_dir
    if override is not None and (override / name).is_file():
        return override / name
    return DEFAULTS / name


class RolePolicy(BaseModel):
    label: str
    start: str = Field(default="/map", pattern=r"^/[a-z0-9/_-]*$")  # where `/` sends its holders
    reach: list[str] = Field(min_length=1)
    actions: list[str]


class Lockout(BaseModel):
    account_failures: int = Field(ge=1)
    address_failures: int = Field(ge=1)
    first_lock_seconds: int = Field(ge=1)
    max_lock_seconds: int = Field(ge=1)


class PublicLimit(BaseModel):
    uses: int = Field(ge=1)
    window_minutes: int = Field(ge=1)


class PublicLimits(BaseModel):
    report: PublicLimit
    track: PublicLimit


class TokenPolicy(BaseModel):
    max_days: int = Field(ge=1)
    default_days: int = Field(ge=1)


class SessionPolicy(BaseModel):
    hours: int = Field(ge=1)


class Permissions(BaseModel):
    version: str
    actions: dict[str, str]
    roles: dict[str, RolePolicy]
    lockout: Lockout
    public_limits: PublicLimits
    tokens: TokenPolicy
    sessions: SessionPolicy

    @model_validator(mode="after")
    def _consistent(self) -> Permissions:
        for name, role in self.roles.items():
            unknown = set(role.actions) - set(self.actions)
            if unknown:
                raise ValueError(f"role {name} grants unknown actions {sorted(unknown)}")
            bad = set(role.reach) - set(REACHES)
            if bad:
                raise ValueError(f"role {name} has unknown reach {sorted(bad)}")
        return self

    def grants(self, role: str, action: str) -> bool:
        r = self.roles.get(role)
        return r is not None and action in r.actions


@lru_cache
def permissions() -> Permissions:
    path = policy_path("permissions.toml")
    with path.open("rb") as f:
        return Permissions.model_validate(tomllib.load(f))
