"""The demo's handling units and its event history: made once, placed right, timed by the workflow's
own rules, numbered so live intake carries on, and the same for the same seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pytest
from builders import lattice_tree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.audit.models import AuditEntry
from shanzhi.db import as_utc
from shanzhi.demo import history_plan
from shanzhi.demo.district import build_district
from shanzhi.demo.history import HistoryResult, generate_history
from shanzhi.demo.history_texts import REPORT_TEMPLATES
from shanzhi.demo.people import create_demo_people
from shanzhi.demo.units import create_demo_units
from shanzhi.events import deadlines, routing
from shanzhi.events.catalog import catalog
from shanzhi.events.codes import next_code
from shanzhi.events.models import OPEN_STATUSES, Event, EventCounter, EventStep
from shanzhi.events.policy import routing as routing_policy
from shanzhi.events.policy import workflow
from shanzhi.events.workcal import work_calendar
from shanzhi.geo import service as geo
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

# Wednesday 25 Nov 2026, 14:00 in Ningbo: mid-week, mid-afternoon.
END = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def on(session: Session):  # type: ignore[no-untyped-def]
    """A session factory on the test's connection: generate_history's commit releases a savepoint."""
    conn = session.get_bind()
    return lambda: Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def lattice(session: Session) -> Session:
    geo.import_regions(session, data=lattice_tree())
    create_demo_units(session)
    return session


def history(session: Session, **kw) -> HistoryResult:  # type: ignore[no-untyped-def]
    return generate_history(on(session), **{"months": 1, "scale": 0.1, "end": END, **kw})


def events_of(session: Session) -> list[Event]:
    session.expire_all()
    return list(session.scalars(select(Event).order_by(Event.id)))


def steps_by_event(session: Session) -> dict[int, list[EventStep]]:
    out: dict[int, list[EventStep]] = {}
    for s in session.scalars(select(EventStep).order_by(EventStep.id)):
        out.setdefault(s.event_id, []).append(s)
    return out


# -- units -----------------------------------------------------------------------------------


def test_the_demo_district_gets_its_units_once_with_real_names_and_its_history(session):
    features = build_district(seed=2026)
    geo.import_regions(session, data={"type": "FeatureCollection", "features": features})
    created = create_demo_units(session)
    create_demo_people(session)  # after the units: it finds 古林镇's enforcement team GL-ZFD made already
    assert created > 600 and create_demo_units(session) == 0, "a second run creates nothing"
    orgs = {o.code: o for o in session.scalars(select(Organization))}
    names = {o.name for o in orgs.values()}
    assert {"藕缆桥村村民委员会", "藕缆桥村网格团队", "藕缆桥村人民调解委员会", "古林镇城建办", "古林派出所",
            "古林市场监管所", "海曙区住房和城乡建设局", "国网宁波市海曙区供电公司"} <= names
    guling = session.scalar(select(Region).where(Region.name == "古林镇"))
    teams = [o for o in orgs.values() if o.kind == "enforcement_team" and o.region_id == guling.id]
    assert [t.code for t in teams] == ["GL-ZFD"]
    # every handler type the catalog routes to has a unit at every place it may be needed
    kinds = Counter(o.kind for o in orgs.values())
    assert kinds["village_committee"] == kinds["grid_team"] == kinds["village_mediation"] == 164
    assert kinds["police_station"] == kinds["market_station"] == kinds["town_mediation"] == 17
    assert {h.code for h in catalog().handler_types} <= set(kinds)

    result = history(session, scale=0.1)
    assert result.events > 1000 and not result.skipped
    evs = events_of(session)
    towns = {r.code: r for r in session.scalars(select(Region).where(Region.level == "town"))}
    # volumes follow the towns' shares
    counts = Counter(e.town_code for e in evs)
    for code, town in towns.items():
        expected = history_plan.TOWN_SHARE[town.name] * len(evs)
        assert abs(counts[code] - expected) < 4 * expected**0.5 + 5, town.name
    # 古林镇 closes everything; elsewhere the last days' events are still open
    guling_events = [e for e in evs if e.town_code == guling.code]
    assert guling_events and all(e.status == "closed" for e in guling_events)
    assert any(e.status in OPEN_STATUSES for e in evs)
    # streets have no villages: their events stop at the street; rural ones reach a micro-grid
    streets = {c for c, t in towns.items() if t.name.endswith("街道")}
    for e in evs:
        if e.town_code in streets:
            assert e.region_code == e.town_code and e.village_code is None
        else:
            assert len(e.region_code) == 18 and e.village_code == e.region_code[:12]
    # channels as in a grid system
    share = Counter(e.channel for e in evs)
    assert 0.47 < share["grid_worker"] / len(evs) < 0.63
    assert 0.10 < share["hotline"] / len(evs) < 0.22
    # routing proposes what routing.propose proposes
    for e in evs[::25]:
        if e.proposed_org_id is None:
            continue
        p = routing.propose(session, category=catalog().category(e.category_code), region_code=e.region_code,
                            min_tier=e.proposed_tier)
        assert (p.tier, p.org_id) == (e.proposed_tier, e.proposed_org_id), e.code
    # a report reads like one, with its place
    sample = next(e for e in evs if e.village_code)
    assert sample.address.startswith("古林镇") or any(sample.address.startswith(t.name) for t in towns.values())
    assert len(sample.text) > 10


def test_units_on_any_tree_are_created_once(lattice):
    assert create_demo_units(lattice) == 0
    orgs = list(lattice.scalars(select(Organization)))
    first_office = min((o for o in orgs if o.kind == "town_office"), key=lambda o: o.id)
    assert first_office.name.endswith("城建办"), "routing's pick (the first town office) is the 城建办"


def test_every_category_has_its_report_texts():
    assert {c.code for c in catalog().categories} <= set(REPORT_TEMPLATES)
    assert all("{p}" in t for ts in REPORT_TEMPLATES.values() for t in ts)


# -- history ---------------------------------------------------------------------------------


def test_every_timeline_runs_in_order_through_the_workflow_and_ends_in_the_events_status(lattice):
    history(lattice)
    steps = steps_by_event(lattice)
    transitions = workflow().transitions
    for e in events_of(lattice):
        timeline = steps[e.id]
        assert timeline[0].action == "report" and timeline[0].to_status == "reported"
        assert as_utc(timeline[0].at) == as_utc(e.created_at)
        for before, after in pairwise(timeline):
            assert as_utc(before.at) <= as_utc(after.at), e.code
            assert after.from_status == before.to_status, (e.code, after.action)
            if after.action in transitions:
                assert after.from_status in transitions[after.action].from_
        assert timeline[-1].to_status == e.status
        assert as_utc(e.updated_at) == max(as_utc(s.at) for s in timeline)
        assert as_utc(e.created_at) <= as_utc(END)
        if e.status == "closed":
            closing = next(s for s in timeline if s.to_status == "closed")
            assert as_utc(closing.at) == as_utc(e.closed_at)
            assert e.closed_tier == e.tier
            assert (closing.action == "on_the_spot") == (e.limit_unit is None)
        if e.status in OPEN_STATUSES:
            assert e.closed_at is None and e.closed_on_time is None
        assert e.escalations == sum(s.action == "escalate" for s in timeline)
        assert e.reworks == sum(s.action == "reopen" for s in timeline)
        assert e.extensions == sum(s.action == "approve_extension" for s in timeline)
        assert (e.rating is not None) == any(s.action == "rate" for s in timeline)


def test_every_event_lies_where_its_region_chain_says(lattice):
    history(lattice)
    evs = events_of(lattice)
    codes = set(lattice.scalars(select(Region.code)))
    located = geo.locate_many(lattice, lons=np.array([e.lon for e in evs]), lats=np.array([e.lat for e in evs]))
    for e, chain in zip(evs, located):
        assert chain is not None and chain[-1].code == e.region_code
        assert e.region_code in codes
        assert e.town_code == e.region_code[:9]
        assert e.village_code == (e.region_code[:12] if len(e.region_code) >= 12 else None)
        assert e.address and e.text


def test_deadlines_are_the_ones_the_workflow_would_set(lattice):
    history(lattice, scale=0.2)
    cal = work_calendar()
    steps = steps_by_event(lattice)
    checked = extended = 0
    for e in events_of(lattice):
        if e.clock_started_at is None:
            assert e.due_at is None and e.deadline_state == "none"
            continue
        start = as_utc(e.clock_started_at)
        if e.extensions:
            approve = next(s for s in steps[e.id] if s.action == "approve_extension")
            assert json.loads(approve.data)["due_at"] == as_utc(e.due_at).isoformat()
            extended += 1
        else:
            fresh = Event(urgency=e.urgency)
            deadlines.start_clock(fresh, catalog().category(e.category_code), start)
            assert (as_utc(fresh.due_at), as_utc(fresh.yellow_at)) == (as_utc(e.due_at), as_utc(e.yellow_at)), e.code
            assert (fresh.limit_amount, fresh.limit_unit) == (e.limit_amount, e.limit_unit)
            checked += 1
        if e.status == "closed":
            assert e.closed_on_time == (as_utc(e.closed_at) <= as_utc(e.due_at)), e.code
            if not e.extensions:  # the worker marks red once the deadline has passed
                marks = {s.action for s in steps[e.id] if as_utc(s.at) >= start}
                assert ("deadline_red" in marks) == (e.deadline_state == "red"), e.code
        elif e.status in OPEN_STATUSES:
            assert e.next_check_at is not None
            used = cal.progress_for(start, as_utc(e.due_at), as_utc(END), e.limit_unit)
            assert used < routing_policy().deadlines.escalate_share, "short of the worker's automatic escalation"
    assert checked > 500 and extended > 0
    closed = [e for e in events_of(lattice) if e.status == "closed"]
    on_time = sum(bool(e.closed_on_time) for e in closed) / len(closed)
    assert 0.92 < on_time < 0.995
    rated = [e.rating for e in closed if e.rating is not None]
    assert 0.45 < len(rated) / len(closed) < 0.7 and sum(r >= 4 for r in rated) / len(rated) > 0.8


def test_codes_are_unique_and_live_intake_continues_their_sequence(lattice):
    result = history(lattice)
    codes = list(lattice.scalars(select(Event.code)))
    assert len(codes) == len(set(codes)) == result.events
    last: dict[str, int] = {}
    for code in codes:
        prefix, seq = code.rsplit("-", 1)
        last[prefix] = max(last.get(prefix, 0), int(seq))
    counters = dict(lattice.execute(select(EventCounter.prefix, EventCounter.last)).tuples().all())
    assert counters == last
    # both lattice towns are "D": they share one counter per day, as next_code shares it
    prefix = max(last, key=lambda p: last[p])
    day = datetime.strptime(prefix.rsplit("-", 1)[1], "%Y%m%d").replace(hour=4, tzinfo=UTC)
    nxt = next_code(lattice, district=("330203", "测试区"), town=("330203102", "第2镇"), at=day)
    assert nxt == f"{prefix}-{last[prefix] + 1:04d}" and nxt not in codes


def test_the_same_seed_makes_the_same_history_and_another_seed_another(lattice):
    def snapshot() -> list[tuple]:
        lattice.expire_all()
        evs = lattice.execute(select(Event.code, Event.text, Event.status, Event.created_at, Event.due_at,
                                     Event.lon, Event.assigned_org_id, Event.rating).order_by(Event.id)).all()
        steps = lattice.execute(select(EventStep.action, EventStep.at, EventStep.note).order_by(EventStep.id)).all()
        return [*evs, *steps]

    conn = lattice.get_bind()
    runs = []
    for seed in (7, 7, 8):
        savepoint = conn.begin_nested()
        history(lattice, seed=seed)
        runs.append(snapshot())
        savepoint.rollback()
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_a_second_run_writes_nothing_and_the_history_is_one_audit_row(lattice):
    before = lattice.scalar(select(func.count()).select_from(AuditEntry))
    first = history(lattice)
    assert lattice.scalar(select(func.count()).select_from(AuditEntry)) == before + 1
    row = lattice.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    assert row.action == "demo.history" and str(first.events) in row.summary
    again = history(lattice)
    assert again.skipped and lattice.scalar(select(func.count()).select_from(Event)) == first.events


def test_an_always_closed_town_closes_every_event_while_others_keep_open_work(lattice, monkeypatch):
    monkeypatch.setattr(history_plan, "ALWAYS_CLOSED", frozenset({"第1镇"}))
    history(lattice, scale=0.2)
    evs = events_of(lattice)
    first = [e for e in evs if e.town_code == "330203101"]
    other = [e for e in evs if e.town_code == "330203102"]
    assert first and all(e.status == "closed" for e in first)
    open_ = [e for e in other if e.status in OPEN_STATUSES]
    assert open_ and {e.deadline_state for e in open_} >= {"normal", "yellow"}
    # open work is recent work: a week back, nearly everything is closed
    older = [e for e in other if (END - as_utc(e.created_at)).days >= 7]
    assert sum(e.status in OPEN_STATUSES for e in older) / len(older) < 0.02


def test_village_matters_mostly_stay_in_the_village(lattice):
    history(lattice, scale=0.3)
    village = {c.code for c in catalog().categories if c.default_tier == "village"}
    closed = [e for e in events_of(lattice) if e.status == "closed" and e.category_code in village]
    tiers = Counter(e.closed_tier for e in closed)
    assert 0.9 < tiers["village"] / len(closed) < 0.995
    assert tiers["town"] > 0, "a few are escalated to the town"
    escalated = [e for e in closed if e.escalations]
    assert all(e.closed_tier == "town" for e in escalated)
    # the units serve the event's place: a village unit of its village, a town unit of its town
    orgs = {o.id: o for o in lattice.scalars(select(Organization))}
    regions = {r.id: r.code for r in lattice.scalars(select(Region))}
    for e in closed:
        if e.assigned_org_id is not None:
            assert e.region_code.startswith(regions[orgs[e.assigned_org_id].region_id])


def test_seasons_bring_floods_in_summer_and_burning_in_winter(lattice):
    history(lattice, months=12, scale=0.03)
    by_month: dict[int, Counter] = {}
    for code, created in lattice.execute(select(Event.category_code, Event.created_at)):
        by_month.setdefault(as_utc(created).month, Counter())[code] += 1

    def share(code: str, months: tuple[int, ...]) -> float:
        return sum(by_month[m][code] for m in months) / sum(sum(by_month[m].values()) for m in months)

    assert share("1302", (7, 8, 9)) > 5 * share("1302", (1, 2, 3, 11))
    assert share("0502", (12, 1, 2)) > 3 * share("0502", (6, 7, 8))
    assert 0.5 < share("0701", (12, 1, 2)) / share("0701", (6, 7, 8)) < 2, "disputes hold steady"


def test_any_set_of_units_will_do_the_dispatchers_picks_fall_back_to_routings(session):
    from builders import make_units

    geo.import_regions(session, data=lattice_tree())
    units = set(make_units(session).values())
    result = history(session)
    evs = events_of(session)
    assert result.events == len(evs) > 500
    assert {e.assigned_org_id for e in evs if e.assigned_org_id} <= units
    assert not any(e.routing_overridden for e in evs if not e.escalations and e.status == "closed"
                   and e.closed_tier == "village")
