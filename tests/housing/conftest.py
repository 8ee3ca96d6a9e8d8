"""Housing fixtures: the lattice tree and a named actor for each kind of user of the registry."""

from __future__ import annotations

import pytest

from builders import bearer, lattice_tree, make_user
from housing_helpers import MG1, MG2, TOWN, VILLAGE
from shanzhi.geo import service as geo


@pytest.fixture
def tree(session):
    geo.import_regions(session, data=lattice_tree())


@pytest.fixture
def hs(session, client, tree):
    """Users and their bearer headers: a grid worker of MG1 (钱晓) and one of MG2, the village
    cadre, the town's duty chief (may reveal), a district leader (reads only) and the admin."""
    users = {
        "worker": make_user(session, username="qianxiao", role="grid_worker", scope=MG1),
        "worker2": make_user(session, username="sunli", role="grid_worker", scope=MG2),
        "cadre": make_user(session, username="wugang", role="village_cadre", scope=VILLAGE),
        "chief": make_user(session, username="liqiang", role="duty_chief", scope=TOWN),
        "leader": make_user(session, username="chenming", role="district_leader", scope="330203"),
        "admin": make_user(session, username="root", role="admin", scope="330203"),
    }
    session.commit()
    return {"users": users, **{k: bearer(session, u) for k, u in users.items()}}
