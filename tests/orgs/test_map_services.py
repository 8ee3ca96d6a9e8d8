"""What the live map's layers will call: organizations, available resources and open needs in a
box, each kept to what the actor may read."""

from __future__ import annotations

from datetime import date

import pytest

from orgs_world import V1, V3, make_org
from shanzhi.accounts.service import system_actor
from shanzhi.errors import InvalidInput
from shanzhi.orgs import needs, resources, service

# 1村 lies in 121.30–121.35 × 29.80–29.85 of the lattice; 第2镇's first village east of 121.40.
WEST = (121.30, 29.80, 121.36, 29.85)


def test_the_box_holds_what_lies_in_it_for_whoever_reads_the_directory_or_the_place(world):
    s, admin = world.session, system_actor(world.session)
    make_org(s, "QY-IN", region=V1, lon=121.32, lat=29.81)
    make_org(s, "QY-OUT", region=V3, lon=121.42, lat=29.81)
    for org, title in (("QY-IN", "岗位"), ("QY-OUT", "远处岗位")):
        resources.create_resource(s, actor=admin, org=org, kind="employment", title=title, capacity=5)
    resources.create_resource(s, actor=admin, org="QY-IN", kind="training", title="过期培训", capacity=5,
                              available_until=date(2020, 1, 1))
    needs.raise_need(s, actor=admin, kind="medical", title="义诊", region=V1, lon=121.33, lat=29.82)
    needs.raise_need(s, actor=admin, kind="medical", title="外村义诊", region=V3)

    codes = {o["code"] for o in service.orgs_in_bbox(s, actor=world.cadre2, bbox=WEST)}
    assert "QY-IN" in codes and "QY-OUT" not in codes  # the directory is the district's
    assert [r["title"] for r in resources.resources_in_bbox(s, actor=world.cadre2, bbox=WEST)] == ["岗位"]
    assert [n["title"] for n in needs.open_needs_in_bbox(s, actor=world.cadre, bbox=WEST)] == ["义诊"]
    assert needs.open_needs_in_bbox(s, actor=world.cadre2, bbox=WEST) == []  # another village's needs
    everywhere = (121.0, 29.0, 122.0, 30.0)
    assert [n["title"] for n in needs.open_needs_in_bbox(s, actor=world.cadre2, bbox=everywhere)] == ["外村义诊"]
    with pytest.raises(InvalidInput):
        service.orgs_in_bbox(s, actor=world.cadre, bbox=(121.4, 29.8, 121.3, 29.9))
