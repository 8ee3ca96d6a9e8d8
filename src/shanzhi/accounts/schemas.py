"""API shapes for accounts. Lengths are checked here first; the service checks the rules."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=128)
    home_region: str = Field(min_length=6, max_length=18, pattern=r"^\d+$")
    phone: str | None = Field(default=None, max_length=20)


class AssignmentCreate(BaseModel):
    role: str = Field(min_length=1, max_length=32)
    region: str = Field(min_length=6, max_length=18, pattern=r"^\d+$")
    org_code: str | None = Field(default=None, max_length=32)


class VersionIn(BaseModel):
    version: int | None = None


class PasswordReset(BaseModel):
    new_password: str = Field(min_length=8, max_length=128)


class PasswordChange(BaseModel):
    old_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=8, max_length=128)


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    region: str | None = Field(default=None, min_length=6, max_length=18, pattern=r"^\d+$")
    days: int | None = Field(default=None, ge=1, le=3650)
