"""The demo's grid people: most grids and micro-grids led, a few not; liaisons at a plausible ratio;
the demo accounts are grid people; the history's grid-worker events have their patrol logs; once only,
and the same for the same seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from builders import lattice_tree
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.service import find_user, load_actor
from shanzhi.audit.models import AuditEntry
from shanzhi.db import AppMeta
from shanzhi.demo.district import build_district
from shanzhi.demo.gridpeople import GRIDPEOPLE_KEY, create_demo_gridpeople
from shanzhi.demo.history import generate_history
from shanzhi.demo.history_texts import Words
from shanzhi.demo.people import create_demo_people
from shanzhi.demo.units import create_demo_units
from shanzhi.events.models import Event
from shanzhi.geo import service as geo
from shanzhi.geo.models import Region
from shanzhi.gridpeople import patrols
from shanzhi.gridpeople.coverage import coverage_of
from shanzhi.gridpeople.models import GridAssignment, GridPerson, PatrolLog
from shanzhi.gridpeople.policy import gridpeople_policy

END = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def on(session: Session):  # type: ignore[no-untyped-def]
    """A session factory on the test's connection: the demo's commit releases a savepoint."""
    conn = session.get_bind()
    return lambda: Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


def test_the_demo_district_gets_its_grid_people_and_patrols(session):
    geo.import_regions(session, data={"type": "FeatureCollection", "features": build_district(seed=2026)})
    create_demo_units(session)
    create_demo_people(session)
    generate_history(on(session), months=1, scale=0.05, end=END)
    result = create_demo_gridpeople(on(session), seed=2026)
    assert not result.skipped and result.people > 3000 and result.patrols > 1000 and result.linked_events > 0
    session.expire_all()

    district = session.scalar(select(Region).where(Region.level == "district"))
    report = coverage_of(session, root=district)
    grids, micro = report["leaders"]["grid"], report["leaders"]["microgrid"]
    assert grids["total"] == 572 and 0 < grids["without_leader"] < 0.15 * 572
    assert micro["total"] == 2229 and 0 < micro["without_leader"] < 0.2 * 2229
    assert 0.8 < report["liaisons"]["ratio"] < 3.0
    # The policy holds in the bulk-written data too: one current leader per region, allowed levels only.
    rows = session.execute(select(GridAssignment.role, Region.level, Region.code, GridAssignment.start_date,
                                  GridAssignment.end_date).join(Region, Region.id == GridAssignment.region_id)).all()
    policy = gridpeople_policy()
    assert all(level in policy.roles[role].levels for role, level, *_ in rows)
    current = Counter((role, code) for role, _, code, _, end in rows if end is None and policy.roles[role].single)
    assert max(current.values()) == 1
    assert all(end >= start for *_, start, end in rows if end is not None)

    # The demo accounts are grid people; the grid worker's patrols are logged as herself.
    cadre = find_user(session, username="cadre")
    led = session.execute(select(GridAssignment.role, Region.name).join(Region, Region.id == GridAssignment.region_id)
                          .join(GridPerson, GridPerson.id == GridAssignment.person_id)
                          .where(GridPerson.user_id == cadre.id)).all()
    assert [tuple(r) for r in led] == [("grid_leader", "藕缆桥村第一网格")]
    worker = find_user(session, username="gridworker")
    mine = session.scalar(select(GridPerson).where(GridPerson.user_id == worker.id))
    assert mine.name == "钱晓"
    place = session.scalar(select(Region).where(Region.name == "藕缆桥村第一网格1号微网格"))
    log, _ = patrols.log_patrol(session, actor=load_actor(session, worker),
                             finding=patrols.Finding(text="巡查正常，未发现问题", region=place.code))
    assert log.person_id == mine.id

    # Every grid-worker event of the last week came from a patrol of the village's named grid worker.
    linked = session.execute(
        select(PatrolLog.village_code, PatrolLog.at, GridPerson.name, Event.channel, Event.village_code,
               Event.created_at)
        .join(Event, Event.id == PatrolLog.event_id).join(GridPerson, GridPerson.id == PatrolLog.person_id)
    ).all()
    assert len(linked) == result.linked_events
    for village, at, name, channel, event_village, created in linked:
        assert channel == "grid_worker" and village == event_village and name == Words.person(village)
        assert at.replace(tzinfo=None) < created.replace(tzinfo=None)
    assert session.scalar(select(func.count()).select_from(PatrolLog)) == result.patrols + 1

    assert create_demo_gridpeople(on(session), seed=2026).skipped
    assert session.scalar(select(func.count()).where(AuditEntry.action == "demo.gridpeople")) == 1


def snapshot(session: Session) -> tuple[list, list]:
    session.expire_all()
    people = session.execute(
        select(GridPerson.name, GridAssignment.role, GridAssignment.region_id, GridAssignment.start_date,
               GridAssignment.end_date).join(GridAssignment, GridAssignment.person_id == GridPerson.id)
        .order_by(GridAssignment.id)).all()
    logs = session.execute(select(PatrolLog.at, PatrolLog.region_code, PatrolLog.text, PatrolLog.kind)
                           .order_by(PatrolLog.id)).all()
    return [tuple(r) for r in people], [tuple(r) for r in logs]


def test_the_same_seed_makes_the_same_people_and_another_seed_others(session):
    geo.import_regions(session, data=lattice_tree())
    create_demo_units(session)

    def run(seed: int) -> tuple[list, list]:
        create_demo_gridpeople(on(session), seed=seed, now=END)
        out = snapshot(session)
        for model in (PatrolLog, GridAssignment, GridPerson):
            session.execute(delete(model))
        session.execute(delete(AppMeta).where(AppMeta.key == GRIDPEOPLE_KEY))
        return out

    first = run(2026)
    assert first[0] and first[1]
    assert run(2026) == first
    assert run(7) != first
