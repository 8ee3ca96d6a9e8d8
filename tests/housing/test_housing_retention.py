"""Retention: personal fields of people whose registrations all ended longer ago than the policy
keeps them are purged — not a day earlier — while the rows, and so the counts, remain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from builders import actor_of
from housing_helpers import IN_MG1, VILLAGE, make_id
from shanzhi.audit.models import AuditEntry
from shanzhi.housing import registrations, reports, retention, service, views
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Person, Registration
from shanzhi.housing.people import PersonInput
from shanzhi.housing.policy import housing_policy

TODAY = today_local()
KEEP = housing_policy().retention.ended_registration_days


def _stay(session, actor, unit_id, seq, *, start_ago, end_ago=None, local=False):
    reg = registrations.register(session, actor=actor, unit_id=unit_id, start_date=TODAY - timedelta(days=start_ago),
                                 person=PersonInput(f"住户{seq}", make_id(seq), f"1390574{seq:04d}", "四川省某县", local))
    if end_ago is not None:
        registrations.end_registration(session, actor=actor, registration_id=reg.id, reason="搬离",
                                       ended_on=TODAY - timedelta(days=end_ago))
    return reg.person_id


@pytest.fixture
def people(session, hs):
    admin = actor_of(session, hs["users"]["admin"])
    owner = service.PartyInput("person", "房东老张", "13705749999", make_id(900, prefix="330203"))
    b = service.create_building(session, actor=admin, units=[service.UnitInput("1", area_m2=30.0),
                                                             service.UnitInput("2", area_m2=30.0)],
                                data=service.BuildingInput("丙楼", *IN_MG1, use="housing", owner=owner))
    u1, u2 = (u["id"] for u in service.building_detail(session, actor=admin, building_id=b.id)["units"])
    return {
        "expired": _stay(session, admin, u1, 1, start_ago=KEEP + 200, end_ago=KEEP - 1),
        "recent": _stay(session, admin, u1, 2, start_ago=200, end_ago=100),
        "active": _stay(session, admin, u2, 3, start_ago=50),
        "local": _stay(session, admin, u1, 4, start_ago=KEEP + 200, end_ago=KEEP + 50, local=True),
        "owner": b.owner_person_id,
        "admin": admin,
    }


def _now(days_ahead: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days_ahead)


def test_nothing_is_purged_before_the_retention_period_ends(session, people):
    # The first stay ended KEEP − 1 days ago: kept today and tomorrow, gone the day after.
    assert retention.purge(session, now=_now(0)).people == 0
    assert retention.purge(session, now=_now(1)).people == 0
    assert session.get(Person, people["expired"]).name == "住户1"


def test_a_dry_run_shows_what_would_go_and_changes_nothing(session, people):
    plan = retention.purge(session, now=_now(2), dry_run=True)
    assert (plan.people, plan.registrations, plan.purged) == (1, 1, False)
    assert plan.by_village == {VILLAGE: 1} and plan.cutoff == TODAY + timedelta(days=2) - timedelta(days=KEEP)
    assert session.get(Person, people["expired"]).id_number_encrypted is not None


def test_purging_blanks_personal_fields_only_and_the_counts_remain(session, people):
    before = reports.region_report(session, actor=people["admin"], region=VILLAGE)["totals"]
    regs = session.scalar(select(func.count()).select_from(Registration))
    plan = retention.purge(session, now=_now(2))
    assert (plan.people, plan.purged) == (1, True)
    gone = session.get(Person, people["expired"])
    assert (gone.name, gone.id_number_encrypted, gone.id_number_digest, gone.phone_encrypted,
            gone.registered_address, gone.pii_key) == (None, None, None, None, None, None)
    assert gone.purged_at is not None and views.person_dict(gone)["name"] == "（已清除）"
    for key in ("recent", "active", "local", "owner"):
        assert session.get(Person, people[key]).id_number_encrypted is not None, key
    assert session.scalar(select(func.count()).select_from(Registration)) == regs
    assert reports.region_report(session, actor=people["admin"], region=VILLAGE)["totals"] == before
    row = session.scalars(select(AuditEntry).where(AuditEntry.action == "housing.purge")).one()
    assert '"people":1' in row.summary
    assert retention.purge(session, now=_now(2)).people == 0, "a second run finds nothing more"
