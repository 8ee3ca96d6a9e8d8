"""The closed loop: every transition of the workflow table for every role (allowed and forbidden),
tiers, routing by policy, escalation, extensions, merges, stale writes — generated from the
policy data, so a new transition or role is covered without touching this file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from builders import lattice_tree, make_event, make_units
from shanzhi.accounts.authz import Actor, Grant
from shanzhi.accounts.service import system_actor
from shanzhi.audit.models import AuditEntry
from shanzhi.errors import Conflict, Forbidden, InvalidInput, NotFound
from shanzhi.events import service
from shanzhi.events.models import EventStep, OutboxMessage
from shanzhi.events.policy import workflow
from shanzhi.geo import service as geo
from shanzhi.policy.loader import permissions

VILLAGE = "330203101201"  # the village of the point 121.31, 29.81
OTHER_TOWN = "330203102"
FLOW = workflow()
ROLES = permissions().roles
# The canonical road to each status, taken by an administrator.
ROAD = {
    "reported": [], "accepted": ["accept"], "dispatched": ["accept", "dispatch"],
    "in_progress": ["accept", "dispatch", "start"], "resolved": ["accept", "dispatch", "start", "resolve"],
    "verified": ["accept", "dispatch", "start", "resolve", "verify"],
}
INPUTS = {"reason": "超出本级处置能力", "result": "已现场处理完毕", "amount": 2}
CASES = [(t, r) for t in FLOW.transitions for r in ROLES]


@pytest.fixture
def district(session):
    geo.import_regions(session, data=lattice_tree())
    units = make_units(session)
    return {"units": units, "admin": system_actor(session)}


def drive(session, admin, code: str, status: str) -> None:
    for name in ROAD[status]:
        service.transition(session, actor=admin, code=code, name=name, **INPUTS)


def inputs_for(session, name: str) -> dict:
    needs = FLOW.transitions[name].needs
    out = {k: v for k, v in INPUTS.items() if k in needs}
    if "into" in needs:
        out["into"] = make_event(session, text="同一处垃圾，又有人反映").event.code
    return out


def actor_of_role(role: str, units: dict) -> Actor:
    # Scoped to the event's village; a handler acts for the village's grid team (the routed unit).
    return Actor(None, f"{role}@村", (Grant(role, VILLAGE, units[("grid_team", VILLAGE)]),))


@pytest.mark.parametrize(("name", "role"), CASES, ids=[f"{t}-{r}" for t, r in CASES])
def test_every_transition_is_allowed_exactly_to_the_roles_the_policy_names(session, district, name, role):
    step = FLOW.transitions[name]
    done = make_event(session)  # 0101 暴露垃圾: village tier, grid team, may be closed on the spot
    code = done.event.code
    drive(session, district["admin"], code, step.from_[0])
    if name == "approve_extension":
        service.transition(session, actor=district["admin"], code=code, name="request_extension", **INPUTS)
    actor = actor_of_role(role, district["units"])
    reach = ROLES[role].reach
    before = done.event.status
    if "region" not in reach and "unit" not in reach:
        expected: type[Exception] | None = NotFound  # residents reach only what they reported
    elif step.action not in ROLES[role].actions:
        expected = Forbidden
    else:
        expected = None
    if expected is not None:
        with pytest.raises(expected):
            service.transition(session, actor=actor, code=code, name=name, **inputs_for(session, name))
        assert done.event.status == before
        return
    event = service.transition(session, actor=actor, code=code, name=name, **inputs_for(session, name))
    assert event.status == (before if step.to == "*" else step.to)
    last = session.scalars(select(EventStep).where(EventStep.event_id == event.id).order_by(EventStep.id.desc())).first()
    assert last.action == name and last.to_status == event.status
    audit_row = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert audit_row.action == f"event.{name}" and audit_row.target_id == code
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"event-step:{last.id}"))


@pytest.mark.parametrize("name", list(FLOW.transitions))
def test_a_transition_from_the_wrong_state_answers_409_and_changes_nothing(session, district, name):
    step = FLOW.transitions[name]
    done = make_event(session)
    wrong = next(s for s in ("reported", "accepted", "dispatched", "resolved") if s not in step.from_)
    drive(session, district["admin"], done.event.code, wrong)
    version = done.event.version
    with pytest.raises(Conflict) as info:
        service.transition(session, actor=district["admin"], code=done.event.code, name=name,
                           **inputs_for(session, name))
    assert info.value.code == "invalid_transition" and "不能执行" in info.value.message_zh
    assert done.event.status == wrong and done.event.version == version


@pytest.mark.parametrize("role", [r for r in ROLES if "event.read" in ROLES[r].actions and "region" in ROLES[r].reach])
def test_an_event_of_another_town_does_not_exist_for_anyone_scoped_elsewhere(session, district, role):
    done = make_event(session)
    outsider = Actor(None, "外镇", (Grant(role, OTHER_TOWN),))
    with pytest.raises(NotFound):
        service.get_event(session, actor=outsider, code=done.event.code)
    with pytest.raises(NotFound):
        service.transition(session, actor=outsider, code=done.event.code, name="accept")


def test_a_village_cadre_cannot_take_a_town_tier_event_but_the_town_dispatcher_can(session, district):
    done = make_event(session, category="0301", text="村口有人在违章搭建彩钢棚")  # 违章搭建: town tier
    cadre = Actor(None, "村干部", (Grant("village_cadre", VILLAGE),))
    with pytest.raises(Forbidden) as info:
        service.transition(session, actor=cadre, code=done.event.code, name="accept")
    assert info.value.code == "above_tier" and "镇(街)级" in info.value.message_zh
    dispatcher = Actor(None, "派遣员", (Grant("dispatcher", "330203101"),))
    event = service.transition(session, actor=dispatcher, code=done.event.code, name="accept")
    assert (event.tier, event.proposed_org_id) == ("town", district["units"][("enforcement_team", "330203101")])


@pytest.mark.parametrize(
    ("category", "region", "tier", "kind", "unit_region"),
    [
        ("0101", None, "village", "grid_team", VILLAGE),
        ("0701", None, "village", "village_mediation", VILLAGE),
        ("1005", None, "village", "village_committee", VILLAGE),
        ("0301", None, "town", "enforcement_team", "330203101"),
        ("0704", None, "town", "town_office", "330203101"),
        ("0801", None, "town", "police_station", "330203101"),
        ("1201", None, "town", "market_station", "330203101"),
        ("0504", None, "district", "district_ecology", "330203"),
        ("0402", None, "district", "utility", "330203"),
        # Reported for a town as a whole (no village): a village matter starts at the town.
        ("0101", "330203101", "town", "town_office", "330203101"),
        # No category and none suggested (no Chinese to read): the town sorts it out.
        (None, None, "town", "town_office", "330203101"),
    ],
)
def test_routing_proposes_the_tier_and_unit_the_policy_says(session, district, category, region, tier, kind, unit_region):
    text = "路边有一堆暴露垃圾，气味很大" if category else "Something is wrong at the gate, please come"
    done = make_event(session, category=category, region=region, text=text)
    event = service.transition(session, actor=district["admin"], code=done.event.code, name="accept")
    assert event.tier == tier
    assert event.proposed_org_id == district["units"][(kind, unit_region)]
    assert event.policy_version.startswith("catalog ")


def test_a_dispatcher_may_override_the_proposed_unit_and_the_override_is_recorded(session, district):
    done = make_event(session)
    admin = district["admin"]
    service.transition(session, actor=admin, code=done.event.code, name="accept")
    event = service.transition(session, actor=admin, code=done.event.code, name="dispatch",
                               unit=f"village_committee-{VILLAGE}")
    assert event.routing_overridden and event.assigned_org_id == district["units"][("village_committee", VILLAGE)]
    with pytest.raises(InvalidInput) as far:
        other = make_event(session)
        service.transition(session, actor=admin, code=other.event.code, name="accept")
        service.transition(session, actor=admin, code=other.event.code, name="dispatch",
                           unit="village_committee-330203102201")
    assert far.value.code == "unit_out_of_area"


def test_escalation_climbs_one_tier_reroutes_and_restarts_the_clock(session, district):
    done = make_event(session)
    admin = district["admin"]
    drive(session, admin, done.event.code, "dispatched")
    first_due = done.event.due_at
    event = service.transition(session, actor=admin, code=done.event.code, name="escalate", reason="村级无法处置")
    assert (event.status, event.tier, event.escalations, event.assigned_org_id) == ("accepted", "town", 1, None)
    assert event.proposed_org_id == district["units"][("town_office", "330203101")]
    assert event.due_at >= first_due
    service.transition(session, actor=admin, code=event.code, name="escalate", reason="镇级无法处置")
    with pytest.raises(Conflict) as top:
        service.transition(session, actor=admin, code=event.code, name="escalate", reason="再上报")
    assert top.value.code == "top_tier" and event.tier == "district"


def test_an_extension_moves_the_deadline_only_once_approved(session, district):
    done = make_event(session, category="0301", text="有人在河边违章搭建棚屋")  # 10 working days
    admin = district["admin"]
    drive(session, admin, done.event.code, "in_progress")
    due = done.event.due_at
    service.transition(session, actor=admin, code=done.event.code, name="request_extension", amount=5, reason="需拆除")
    assert done.event.due_at == due and done.event.pending_extension == 5
    event = service.transition(session, actor=admin, code=done.event.code, name="approve_extension")
    assert event.due_at > due and event.extensions == 1 and event.pending_extension is None
    with pytest.raises(Conflict):
        service.transition(session, actor=admin, code=done.event.code, name="approve_extension")


def test_on_the_spot_closure_is_only_for_categories_that_allow_it(session, district):
    worker = Actor(None, "网格员", (Grant("grid_worker", VILLAGE + "001001"),))
    ok = make_event(session)
    event = service.transition(session, actor=worker, code=ok.event.code, name="on_the_spot", result="已清理")
    assert (event.status, event.closed_tier, event.closed_on_time) == ("closed", "village", True)
    dispute = make_event(session, category="0701", text="两户人家为围墙吵起来了")
    with pytest.raises(Conflict) as info:  # a dispute goes to mediation, not closed on the spot
        service.transition(session, actor=worker, code=dispute.event.code, name="on_the_spot", result="劝开了")
    assert info.value.code == "not_on_the_spot" and dispute.event.status == "reported"


def test_merge_joins_a_duplicate_into_an_open_event(session, district):
    first, again = make_event(session), make_event(session, text="那堆垃圾还在，没人管")
    admin = district["admin"]
    event = service.transition(session, actor=admin, code=again.event.code, name="merge", into=first.event.code)
    assert event.status == "merged" and event.merged_into_id == first.event.id
    with pytest.raises(Conflict):
        service.transition(session, actor=admin, code=first.event.code, name="merge", into=first.event.code)


def test_a_stale_version_is_refused(session, district):
    done = make_event(session)
    stale = done.event.version
    service.transition(session, actor=district["admin"], code=done.event.code, name="accept")
    with pytest.raises(Conflict) as info:
        service.transition(session, actor=district["admin"], code=done.event.code, name="dispatch", version=stale)
    assert info.value.code == "stale_version"


def test_a_step_missing_its_inputs_is_refused(session, district):
    done = make_event(session)
    with pytest.raises(InvalidInput) as info:
        service.transition(session, actor=district["admin"], code=done.event.code, name="reject")
    assert info.value.code == "missing_input" and "reason" in info.value.message


def test_deadlines_follow_the_working_calendar(session, district):
    done = make_event(session)  # 0101: 8 working hours
    friday_noon = datetime(2026, 11, 27, 4, 8, tzinfo=UTC)  # 12:08 in Shanghai, lunch time
    event = service.transition(session, actor=district["admin"], code=done.event.code, name="accept", now=friday_noon)
    # Friday 13:30–17:30 is 4 h, Monday 08:30–12:00 and 13:30–14:00 the other 4 h.
    assert event.due_at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert event.limit_unit == "hours" and event.limit_amount == 8


def test_dispatching_tells_the_units_handlers_in_their_inbox(session, district):
    from builders import make_user
    from shanzhi.events.models import Notification

    unit = district["units"][("grid_team", VILLAGE)]
    handler = make_user(session, username="zhoujie", role="handler", scope=VILLAGE, org=f"grid_team-{VILLAGE}")
    bystander = make_user(session, username="sunli", role="handler", scope=VILLAGE, org=f"village_committee-{VILLAGE}")
    done = make_event(session)
    drive(session, district["admin"], done.event.code, "dispatched")
    assert done.event.assigned_org_id == unit
    inbox = session.scalars(select(Notification).where(Notification.user_id.in_([handler.id, bystander.id]))).all()
    assert [(n.user_id, n.kind) for n in inbox] == [(handler.id, "assigned")]
    assert done.event.code in inbox[0].message


def test_an_on_the_spot_closure_where_there_is_no_village_counts_for_the_town(session, district):
    done = make_event(session, region="330203101")  # reported for the town as a whole, like a street
    event = service.transition(session, actor=district["admin"], code=done.event.code, name="on_the_spot",
                               result="已当场清理")
    assert (event.status, event.tier, event.closed_tier) == ("closed", "town", "town")
