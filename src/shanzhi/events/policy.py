"""Routing and workflow policy files, validated on load (the catalog has its own module)."""

from __future__ import annotations

import tomllib
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shanzhi.events.catalog import TimeLimit, catalog
from shanzhi.policy.loader import permissions, policy_path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlinePolicy(_Strict):
    yellow_share: float = Field(gt=0, lt=1)
    escalate_share: float = Field(gt=1)
    default_limit: TimeLimit


class RoutingPolicy(_Strict):
    version: str
    tier_levels: dict[str, str]
    escalation: dict[str, dict[str, str]]
    deadlines: DeadlinePolicy

    @model_validator(mode="after")
    def _known(self) -> RoutingPolicy:
        cat = catalog()
        tiers = {t.code for t in cat.tiers}
        if set(self.tier_levels) != tiers or set(self.escalation) != tiers:
            raise ValueError(f"routing must name every tier {sorted(tiers)} in tier_levels and escalation")
        for tier, table in self.escalation.items():
            if "*" not in table:
                raise ValueError(f"escalation.{tier} needs a '*' entry")
            for handler in table.values():
                if cat.handler_type(handler).tier != tier:
                    raise ValueError(f"escalation.{tier}: {handler} is not a {tier}-tier handler type")
        return self

    def handler_at(self, tier: str, major: str | None) -> str:
        table = self.escalation[tier]
        return table.get(major or "*", table["*"])


class Transition(_Strict):
    label: str
    from_: tuple[str, ...] = Field(alias="from", min_length=1)
    to: str
    action: str
    at_tier: bool = False
    needs: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()


INPUTS = ("reason", "result", "unit", "into", "amount", "rating", "category")


class WorkflowPolicy(_Strict):
    version: str
    statuses: dict[str, str]
    transitions: dict[str, Transition]

    @model_validator(mode="after")
    def _known(self) -> WorkflowPolicy:
        from shanzhi.events.effects import EFFECTS

        actions = permissions().actions
        for name, t in self.transitions.items():
            unknown = [s for s in (*t.from_, t.to) if s != "*" and s not in self.statuses]
            if unknown:
                raise ValueError(f"transition {name} names unknown statuses {unknown}")
            if t.action not in actions:
                raise ValueError(f"transition {name} needs unknown permission {t.action}")
            if bad := [n for n in t.needs if n not in INPUTS]:
                raise ValueError(f"transition {name} needs unknown inputs {bad}")
            if bad := [e for e in t.effects if e not in EFFECTS]:
                raise ValueError(f"transition {name} has unknown effects {bad}")
        return self


@lru_cache
def routing() -> RoutingPolicy:
    with policy_path("routing.toml").open("rb") as f:
        return RoutingPolicy.model_validate(tomllib.load(f))


@lru_cache
def workflow() -> WorkflowPolicy:
    with policy_path("workflow.toml").open("rb") as f:
        return WorkflowPolicy.model_validate(tomllib.load(f))
