"""The demo registry (a small one, on the test tree): well-formed, encrypted like the real thing,
consistent with the reports, fast, and written once."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from builders import actor_of
from shanzhi.demo.housing import generate_housing
from shanzhi.events.models import Event
from shanzhi.geo.models import Region
from shanzhi.housing import reports, retention
from shanzhi.housing import documents
from shanzhi.housing.models import Building, Person, Registration
from shanzhi.housing.people import plain

VILLAGE_NAME = "1011村"  # the lattice tree's first village, 330203101201


def _factory(session):
    """Sessions on the test's connection: the generator's commit releases a savepoint."""
    conn = session.connection()
    return lambda: Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


def test_the_demo_registry_is_consistent_encrypted_and_written_once(session, hs):
    started = time.perf_counter()
    result = generate_housing(_factory(session), village=VILLAGE_NAME, buildings=40, floating=1500)
    assert time.perf_counter() - started < 30
    assert (result.buildings, result.floating, result.skipped) == (40, 1500, False)
    village = session.scalars(select(Region).where(Region.name == VILLAGE_NAME)).one()
    assert village.floating_population == 1500
    report = reports.region_report(session, actor=actor_of(session, hs["users"]["admin"]), region=village.code)
    totals = report["totals"]
    assert totals["buildings"] == 40 and totals["units"] == result.units and totals["floating_population"] == 1500
    assert totals["rented_units"] > 0 and totals["open_findings"] == result.open_findings
    assert session.scalar(select(func.count()).select_from(Registration).where(Registration.status == "ended")) \
        == result.ended
    codes = session.scalars(select(Building.region_code)).all()
    assert all(c.startswith(village.code) and len(c) == 18 for c in codes)
    sample = session.scalars(select(Person).order_by(Person.id).limit(50)).all()
    for person in sample:
        id_number, phone = plain(person)
        assert documents.validate(person.id_type, id_number) == id_number and len(phone) == 11
        assert id_number.encode() not in person.id_number_encrypted
    others = session.scalars(select(Person).where(Person.id_type != "resident_id")).all()
    assert 0 < len(others) < 40, "about 1% of migrants hold a passport or permit"
    for person in others:
        assert documents.validate(person.id_type, plain(person)[0]) == plain(person)[0]
    assert session.scalar(select(func.count()).select_from(Event)) == result.events
    plan = retention.purge(session, dry_run=True)
    assert plan.people > 0, "some stays ended long enough ago to be purged"
    again = generate_housing(_factory(session), village=VILLAGE_NAME, buildings=40, floating=1500)
    assert again.skipped and session.scalar(select(func.count()).select_from(Building)) == 40
    village.floating_population = 11_751  # as re-importing the demo regions leaves it
    session.flush()
    generate_housing(_factory(session), village=VILLAGE_NAME)
    session.refresh(village)
    assert village.floating_population == 1500
