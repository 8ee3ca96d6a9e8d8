"""Builders for the grid-people tests: the lattice district's codes, people with roles.

吴 is the cadre of 村 V11 (330203101201); 郑 the cadre of V21 in the other town; 王 dispatches for
第1镇; 陈 is a district leader who reads everything but reveals nothing; 钱 is a grid worker of grid
G111 whose account is linked to her grid-person record.
"""

from __future__ import annotations

from datetime import date, timedelta

from shanzhi.accounts.service import system_actor
from shanzhi.gridpeople import service

DISTRICT, TOWN1, TOWN2 = "330203", "330203101", "330203102"
V11, V12, V21, V22 = "330203101201", "330203101202", "330203102201", "330203102202"
G111 = V11 + "001"  # grid 1 of V11
M1111 = G111 + "001"  # micro-grid 1 of G111; the point (121.31, 29.81) lies in it
WORKER_PHONE = "13905741234"


def days_ago(n: int) -> date:
    return service.today() - timedelta(days=n)


def add_person(session, name: str, home: str, *roles: tuple[str, str], phone: str | None = None,
               since: int = 200, user_id: int | None = None):
    """A grid person created by the system actor, holding `roles` [(role, region)] since `since` days ago."""
    actor = system_actor(session)
    person = service.create_person(session, actor=actor, name=name, home_region=home, phone=phone, user_id=user_id)
    for role, region in roles:
        service.assign(session, actor=actor, person_id=person.id, role=role, region=region, start_date=days_ago(since))
    return person
