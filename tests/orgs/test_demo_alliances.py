"""The demo's alliances at the article's scale: 139 alliances, 3,320 member units, 14 CPPCC
members in 20 pairings with 洞桥镇's villages, and lists whose numbers hang together."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.accounts.service import system_actor
from shanzhi.demo.alliances import create_demo_alliances
from shanzhi.demo.district import build_district
from shanzhi.demo.people import create_demo_people
from shanzhi.demo.units import create_demo_units
from shanzhi.geo import service as geo
from shanzhi.geo.models import Region
from shanzhi.orgs.alliance_models import Alliance, AllianceMember, AllianceVillage
from shanzhi.orgs.list_models import Project
from shanzhi.orgs.models import Organization
from shanzhi.orgs.numbers import numbers


def test_the_demo_alliances_come_at_the_articles_scale_and_only_once(connection):
    def sessions() -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    with sessions() as session:
        geo.import_regions(session, data={"type": "FeatureCollection", "features": build_district(seed=2026)})
        create_demo_people(session)
        create_demo_units(session)
        session.commit()
    result = create_demo_alliances(sessions, seed=2026)
    assert (result.alliances, result.units, result.pairings) == (139, 3320, 20)
    assert create_demo_alliances(sessions, seed=2026).skipped

    with sessions() as session:
        figures = numbers(session, actor=system_actor(session), region="330203")
        assert (figures["alliances"], figures["member_units"], figures["pairings"], figures["paired_units"]) == \
            (139, 3320, 20, 14)
        assert figures["needs"]["total"] == result.needs > 900 and figures["needs"]["met"] == result.met
        assert figures["projects"]["total"] == result.projects
        assert 0 < figures["avg_days_to_match"] < figures["avg_days_to_outcome"]
        cppcc = session.scalar(select(func.count()).where(Organization.kind == "cppcc_member"))
        assert cppcc == 14
        dongqiao = session.scalar(select(Region.code).where(Region.name == "洞桥镇"))
        paired = session.scalars(select(Region.code).join(AllianceVillage, AllianceVillage.region_id == Region.id)
                                 .join(Alliance, Alliance.id == AllianceVillage.alliance_id)
                                 .where(Alliance.kind == "pairing")).all()
        villages = session.scalars(select(Region.code).where(Region.level == "village",
                                                             Region.code.startswith(dongqiao))).all()
        assert set(paired) == set(villages) and all(c.startswith(dongqiao) for c in paired)
        # The pairings solved more than ten problems within the year.
        solved = session.scalar(select(func.count(func.distinct(Project.id)))
                                .join(AllianceMember, AllianceMember.org_id == Project.owner_org_id)
                                .join(Alliance, Alliance.id == AllianceMember.alliance_id)
                                .where(Alliance.kind == "pairing", Project.status == "completed"))
        assert solved >= 10
        # Every village is covered by an active alliance; every alliance has members.
        covered = session.scalar(select(func.count(func.distinct(AllianceVillage.region_id)))
                                 .join(Alliance, Alliance.id == AllianceVillage.alliance_id)
                                 .where(Alliance.kind == "alliance"))
        assert covered == 164
        empty = session.scalar(select(func.count()).select_from(Alliance).where(
            ~Alliance.id.in_(select(AllianceMember.alliance_id))))
        assert empty == 0
