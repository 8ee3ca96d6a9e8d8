"""The event catalog: tiers, handler types and two levels of categories, read from policy data.

The data lives in ``policy/catalog.toml`` (a district's own copy wins); this module only
validates it and answers questions about it. Validation happens once, on load, so a bad
district file fails at start-up rather than when the first event of a broken category arrives.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from shanzhi.errors import InvalidInput
from shanzhi.policy.loader import policy_path

# The deadline code must know how to count each unit, so the set is fixed here, not in data.
TimeUnit = Literal["hours", "days", "calendar_hours", "calendar_days"]
TIME_UNITS: dict[str, str] = {
    "hours": "工作小时",
    "days": "工作日",
    "calendar_hours": "自然小时",
    "calendar_days": "自然日",
}


class _Strict(BaseModel):
    # A misspelt key in a district's file should fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Strict):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)


class HandlerType(_Strict):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    tier: str


class Major(_Strict):
    code: str = Field(pattern=r"^\d{2}$")
    name: str = Field(min_length=1)
    # Whether its events appear in public lists (anonymous Open311 readers).
    public: bool = True


class TimeLimit(_Strict):
    amount: int = Field(gt=0)
    unit: TimeUnit


class Category(_Strict):
    code: str = Field(pattern=r"^\d{4}$")
    name: str = Field(min_length=1)
    major: str
    default_tier: str
    handler_type: str
    accept_standard: str = Field(min_length=1)
    close_standard: str = Field(min_length=1)
    time_limit: TimeLimit
    urgent_time_limit: TimeLimit | None = None
    on_the_spot: bool = False
    keywords: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _own(self) -> Category:
        if not self.code.startswith(self.major):
            raise ValueError(f"category {self.code} does not start with its major code {self.major}")
        for label, text in (("accept_standard", self.accept_standard),
                            ("close_standard", self.close_standard)):
            if not text.strip():
                raise ValueError(f"category {self.code} has an empty {label}")
        own_names = {self.name, *self.name.split("/")}
        for word in self.keywords:
            if not word.strip() or word in own_names:
                raise ValueError(f"category {self.code} has a blank keyword or its own name")
        return self


def _duplicates(codes: list[str]) -> list[str]:
    return sorted(code for code, n in Counter(codes).items() if n > 1)


class Catalog(_Strict):
    version: str = Field(min_length=1)
    tiers: tuple[Tier, ...] = Field(min_length=1)  # lowest first
    handler_types: tuple[HandlerType, ...] = Field(min_length=1)
    # Read from the key `majors`; the attribute is renamed so the method `majors()` can exist.
    majors_: tuple[Major, ...] = Field(min_length=1, alias="majors")
    categories: tuple[Category, ...] = Field(min_length=1)

    _rank: dict[str, int] = PrivateAttr(default_factory=dict)
    _handlers: dict[str, HandlerType] = PrivateAttr(default_factory=dict)
    _majors: dict[str, Major] = PrivateAttr(default_factory=dict)
    _by_code: dict[str, Category] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        for kind, codes in (
            ("tier", [t.code for t in self.tiers]),
            ("handler type", [h.code for h in self.handler_types]),
            ("major", [m.code for m in self.majors_]),
            ("category", [c.code for c in self.categories]),
        ):
            dup = _duplicates(codes)
            if dup:
                raise ValueError(f"duplicate {kind} code {', '.join(dup)}")
        rank = {t.code: i for i, t in enumerate(self.tiers)}
        handlers = {h.code: h for h in self.handler_types}
        majors = {m.code: m for m in self.majors_}
        for h in self.handler_types:
            if h.tier not in rank:
                raise ValueError(f"handler type {h.code} sits at unknown tier {h.tier!r}")
        for c in self.categories:
            if c.major not in majors:
                raise ValueError(f"category {c.code} refers to unknown major {c.major!r}")
            if c.default_tier not in rank:
                raise ValueError(f"category {c.code} has unknown tier {c.default_tier!r}")
            handler = handlers.get(c.handler_type)
            if handler is None:
                raise ValueError(f"category {c.code} has unknown handler type {c.handler_type!r}")
            if handler.tier != c.default_tier:
                raise ValueError(
                    f"category {c.code} is {c.default_tier}-tier but its handler type "
                    f"{handler.code} sits at tier {handler.tier}"
                )
        empty = [m.code for m in self.majors_ if not any(c.major == m.code for c in self.categories)]
        if empty:
            raise ValueError(f"major {', '.join(empty)} has no categories")
        self._rank = rank
        self._handlers = handlers
        self._majors = majors
        self._by_code = {c.code: c for c in self.categories}
        return self

    def category(self, code: str) -> Category:
        found = self._by_code.get(code)
        if found is None:
            raise InvalidInput(
                f"unknown event category {code!r}",
                f"未知的事件类别：{code}",
                code="unknown_category",
            )
        return found

    def majors(self) -> list[Major]:
        return list(self.majors_)

    def major(self, code: str) -> Major:
        found = self._majors.get(code)
        if found is None:
            raise InvalidInput(
                f"unknown major category {code!r}", f"未知的事件大类：{code}", code="unknown_major"
            )
        return found

    def categories_of(self, major: str) -> list[Category]:
        self.major(major)
        return [c for c in self.categories if c.major == major]

    def handler_type(self, code: str) -> HandlerType:
        found = self._handlers.get(code)
        if found is None:
            raise InvalidInput(
                f"unknown handler type {code!r}", f"未知的处置单位类型：{code}",
                code="unknown_handler_type",
            )
        return found

    def tier_rank(self, tier: str) -> int:
        """0 for the lowest tier (village), rising towards the district."""
        rank = self._rank.get(tier)
        if rank is None:
            raise InvalidInput(f"unknown tier {tier!r}", f"未知的层级：{tier}", code="unknown_tier")
        return rank


@lru_cache
def catalog() -> Catalog:
    path = policy_path("catalog.toml")
    with path.open("rb") as f:
        return Catalog.model_validate(tomllib.load(f))


def category_name(code: str) -> str:
    """The category's name, or the bare code when a district's catalog has dropped it."""
    try:
        return catalog().category(code).name
    except InvalidInput:
        return code
