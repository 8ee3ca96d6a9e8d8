"""The detection policy (`policy/detect.toml`), validated on load."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shanzhi.policy.loader import policy_path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassifyPolicy(_Strict):
    uncertain_below: float = Field(ge=0, le=1)
    resemblance_below: float = Field(ge=0, le=1)
    assign_at: float = Field(ge=0, le=1)


class HotspotPolicy(_Strict):
    window_days: int = Field(ge=1, le=730)
    radius_m: float = Field(gt=0, le=5000)
    background_m: float = Field(gt=0, le=20_000)
    min_events: int = Field(ge=2)
    min_weeks: int = Field(ge=1)
    max_p: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _background_wider(self) -> HotspotPolicy:
        if self.background_m <= self.radius_m:
            raise ValueError("hotspots.background_m must be wider than radius_m")
        return self


class TrendPolicy(_Strict):
    recent_days: int = Field(ge=1, le=365)
    baseline_days: int = Field(ge=1, le=3650)
    min_count: int = Field(ge=1)
    min_ratio: float = Field(ge=1)
    max_p: float = Field(gt=0, le=1)
    level: Literal["town", "village", "grid", "microgrid"]


class DisputePolicy(_Strict):
    majors: tuple[str, ...] = Field(min_length=1)
    window_days: int = Field(ge=1, le=3650)
    text_similarity: float = Field(gt=0, le=1)
    party_patterns: tuple[str, ...] = ()

    @field_validator("party_patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"party pattern {pattern!r}: {exc}") from None
        return value


class ScanPolicy(_Strict):
    interval_minutes: float = Field(gt=0)


class DetectPolicy(_Strict):
    version: str = Field(min_length=1)
    classify: ClassifyPolicy
    hotspots: HotspotPolicy
    trends: TrendPolicy
    disputes: DisputePolicy
    scan: ScanPolicy

    @model_validator(mode="after")
    def _order(self) -> DetectPolicy:
        if self.classify.assign_at < self.classify.uncertain_below:
            raise ValueError("classify.assign_at must not be below classify.uncertain_below")
        return self


def load_policy(path: Path) -> DetectPolicy:
    with path.open("rb") as f:
        return DetectPolicy.model_validate(tomllib.load(f))


@lru_cache
def detect_policy() -> DetectPolicy:
    return load_policy(policy_path("detect.toml"))
