"""The people and bodies of the orgs tests, on the lattice district (2 towns × 2 villages …):

  第1镇 330203101 — villages 1村 330203101201 (south half, y 29.80–29.85) and 2村 330203101202
  第2镇 330203102 — villages 330203102201, 330203102202
  王芳, dispatcher of 第1镇; 李强, duty chief of 第1镇 (may reveal phones); 吴刚, cadre of 1村;
  郑红, cadre of 第2镇's first village; the 人民医院's 1村 branch acts through its alliance-unit
  account (an API token is narrowed to its holder's scope, 1村, so the branch sits there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from builders import actor_of, bearer, lattice_tree, make_user
from shanzhi.accounts.authz import Actor
from shanzhi.accounts.service import system_actor
from shanzhi.geo import service as geo
from shanzhi.orgs import service as orgs

DISTRICT, TOWN1, TOWN2 = "330203", "330203101", "330203102"
V1, V2, V3 = "330203101201", "330203101202", "330203102201"


@dataclass
class World:
    session: Any
    admin: Actor
    dispatcher: Actor
    chief: Actor
    cadre: Actor
    cadre2: Actor
    hospital: Actor
    headers: dict[str, dict[str, str]]


def make_org(session, code: str, kind: str = "private_enterprise", *, region: str = TOWN1, **over: Any):
    return orgs.create_org(session, actor=system_actor(session), code=code, name=over.pop("name", code), kind=kind,
                           region=region, **over)


@pytest.fixture
def world(session) -> World:
    geo.import_regions(session, data=lattice_tree())
    make_org(session, "HS-RMYY", "public_institution", name="海曙区人民医院1村分院", region=V1)
    users = {
        "admin": make_user(session, username="admin", scope=DISTRICT),
        "dispatcher": make_user(session, username="wangfang", role="dispatcher", scope=TOWN1),
        "chief": make_user(session, username="liqiang", role="duty_chief", scope=TOWN1),
        "cadre": make_user(session, username="wugang", role="village_cadre", scope=V1),
        "cadre2": make_user(session, username="zhenghong", role="village_cadre", scope=V3),
        "hospital": make_user(session, username="yiyuan", role="alliance_unit", scope=V1, org="HS-RMYY"),
    }
    session.commit()
    actors = {k: actor_of(session, u) for k, u in users.items()}
    return World(session=session, headers={k: bearer(session, u) for k, u in users.items()}, **actors)
