"""Keeping personal data no longer than needed.

Purge: a floating resident whose registrations have all ended, the last more than the policy's
retention period ago, loses name, ID number, phone and registered address; the person row and
every registration stay (dates, units, regions), so counts and history remain. Owners, landlords,
managers and registered (户籍) residents are not purged: the registry holds them for other reasons.

Moving personal data to a new key is `shanzhi.pii_rotation`, for every table at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from shanzhi.audit import service as audit
from shanzhi.db import utcnow
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Building, Person, Registration, Unit
from shanzhi.housing.policy import housing_policy

CHUNK = 1000


@dataclass(frozen=True)
class PurgePlan:
    cutoff: date  # registrations that ended before this day are past retention
    people: int
    registrations: int
    by_village: dict[str, int] = field(default_factory=dict)
    oldest_end: date | None = None
    purged: bool = False


def _parties() -> list[Any]:
    return [select(c).where(c.is_not(None)) for c in
            (Building.owner_person_id, Building.manager_person_id, Unit.landlord_person_id)]


def purge_candidates(session: Session, *, cutoff: date) -> list[tuple[int, str | None, int, date]]:
    """(person id, region code, registrations, last end) of everyone past retention."""
    per_person = (
        select(Registration.person_id,
               func.count().label("n"),
               func.max(Registration.ended_on).label("last_end"),
               func.sum(case((Registration.status == "active", 1), else_=0)).label("active"))
        .group_by(Registration.person_id).subquery()
    )
    rows = session.execute(
        select(Person.id, Person.region_code, per_person.c.n, per_person.c.last_end)
        .join(per_person, per_person.c.person_id == Person.id)
        .where(Person.purged_at.is_(None), Person.is_local.is_(False), per_person.c.active == 0,
               per_person.c.last_end < cutoff, *(Person.id.not_in(q) for q in _parties()))
        .order_by(Person.id)
    ).all()
    return [(r[0], r[1], int(r[2]), r[3]) for r in rows]


def purge(session: Session, *, now: datetime | None = None, dry_run: bool = False,
          by: str = "命令行 CLI") -> PurgePlan:
    """Blank the personal fields of everyone past retention (or, `dry_run`, say who would go)."""
    now = now or utcnow()
    cutoff = today_local(now) - timedelta(days=housing_policy().retention.ended_registration_days)
    found = purge_candidates(session, cutoff=cutoff)
    by_village = Counter((code or "")[:12] for _, code, _, _ in found)
    plan = PurgePlan(cutoff, len(found), sum(n for *_, n, _ in found), dict(sorted(by_village.items())),
                     min((end for *_, end in found), default=None), purged=not dry_run)
    if dry_run or not found:
        return plan
    ids = [pid for pid, *_ in found]
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(Person).where(Person.id.in_(ids[start:start + CHUNK]), Person.purged_at.is_(None))
            .values(name=None, id_number_encrypted=None, id_number_digest=None, phone_encrypted=None,
                    phone_digest=None, pii_key=None, registered_address=None, user_id=None, purged_at=now,
                    version=Person.version + 1)
            .execution_options(synchronize_session=False)
        )
    session.expire_all()
    audit.record(session, action="housing.purge", actor_name=by, target_type="housing_person",
                 detail={"people": plan.people, "registrations": plan.registrations, "cutoff": cutoff.isoformat(),
                         "by_village": plan.by_village,
                         "retention_days": housing_policy().retention.ended_registration_days})
    return plan
