"""Every role × every action × targets inside and outside its reach — generated from the
permissions policy, so a new role or action is covered without touching this file."""

from __future__ import annotations

import pytest

from shanzhi.accounts.authz import Actor, Grant, Target, authorize, can, scope_prefixes
from shanzhi.db import run_after_transaction
from shanzhi.errors import Forbidden, NotFound
from shanzhi.policy.loader import permissions

POLICY = permissions()
SCOPE = "330203101201"  # the actor's village
INSIDE = "330203101201001002"  # a micro-grid of that village
OUTSIDE = "330203102202"  # a village of another town
UNIT = 7  # the actor's organization (handlers)
ME = 42

CASES = [(role, action) for role in POLICY.roles for action in POLICY.actions]


def actor_for(role: str) -> Actor:
    return Actor(ME, f"{role} 测试", (Grant(role, SCOPE, UNIT),))


def targets_for(role: str) -> tuple[Target, Target]:
    """A target the role reaches, and one it does not, by the role's own reach."""
    reach = POLICY.roles[role].reach
    if "region" in reach:
        inside = Target("thing", "1", (INSIDE,))
    elif "unit" in reach:
        inside = Target("thing", "1", (OUTSIDE,), org_id=UNIT)
    else:  # own
        inside = Target("thing", "1", (OUTSIDE,), owner_id=ME)
    outside = Target("thing", "2", (OUTSIDE,), org_id=UNIT + 1, owner_id=ME + 1)
    return inside, outside


@pytest.mark.parametrize(("role", "action"), CASES, ids=[f"{r}-{a}" for r, a in CASES])
def test_each_role_is_allowed_exactly_what_the_policy_grants_within_its_reach(session, role, action):
    actor = actor_for(role)
    inside, outside = targets_for(role)
    granted = action in POLICY.roles[role].actions

    assert can(actor, action, inside) is granted
    assert can(actor, action, outside) is False

    if granted:
        authorize(session, actor, action, inside)
    else:
        with pytest.raises(Forbidden) as forbidden:
            authorize(session, actor, action, inside)
        assert forbidden.value.status_code == 403 and forbidden.value.message_zh
    with pytest.raises(NotFound) as hidden:
        authorize(session, actor, action, outside)
    assert hidden.value.status_code == 404

    # Every "no" above was queued for the audit trail, to be written even after a rollback.
    queued = session.info.get("after_transaction", [])
    assert len(queued) == (1 if granted else 2)
    run_after_transaction(session)
    from shanzhi.audit.service import tail

    rows = tail(session, limit=len(queued))
    assert {r.outcome for r in rows} == {"denied"} and {r.action for r in rows} == {action}


@pytest.mark.parametrize("role", list(POLICY.roles))
def test_a_token_narrows_the_reach_to_its_own_region(role):
    actor = actor_for(role)
    narrowed = Actor(ME, actor.name, actor.grants, token_scope=INSIDE)
    inside, _ = targets_for(role)
    for action in POLICY.roles[role].actions:
        if "region" in POLICY.roles[role].reach:
            assert can(narrowed, action, Target("thing", "1", (INSIDE,)))
            # Inside the owner's village but outside the token's micro-grid.
            assert not can(narrowed, action, Target("thing", "1", (SCOPE + "002",)))
        else:
            assert not can(narrowed, action, inside)


def test_scope_prefixes_merge_nested_scopes_and_respect_tokens():
    actor = Actor(1, "x", (Grant("admin", "330203101"), Grant("admin", "330203101201"), Grant("admin", "330203102")))
    assert scope_prefixes(actor, "user.read") == ["330203101", "330203102"]
    assert scope_prefixes(actor, "event.nothing") == []
    token = Actor(1, "x", actor.grants, token_scope="330203101201")
    assert scope_prefixes(token, "user.read") == ["330203101201"]


def test_a_target_spanning_two_towns_needs_a_scope_covering_both():
    town_admin = Actor(1, "x", (Grant("admin", "330203101"),))
    both = Target("user", "9", ("330203101201", "330203102201"))
    assert not can(town_admin, "user.disable", both)
    assert can(Actor(1, "x", (Grant("admin", "330203"),)), "user.disable", both)


def test_the_policy_rejects_a_role_granting_an_unknown_action():
    from shanzhi.policy.loader import Permissions

    data = POLICY.model_dump()
    data["roles"]["resident"]["actions"].append("event.teleport")
    with pytest.raises(ValueError, match="unknown actions"):
        Permissions.model_validate(data)
