"""The `lattice` fixture: the lattice district with named actors (see gp_builders)."""

from __future__ import annotations

from typing import Any

import pytest
from builders import actor_of, bearer, lattice_tree, make_units, make_user
from gp_builders import DISTRICT, G111, TOWN1, V11, V21, WORKER_PHONE, add_person

from shanzhi.geo import service as geo


@pytest.fixture
def lattice(session) -> dict[str, Any]:
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    users = {
        "cadre": make_user(session, role="village_cadre", scope=V11, username="wu-cadre"),
        "cadre2": make_user(session, role="village_cadre", scope=V21, username="zheng-cadre"),
        "dispatcher": make_user(session, role="dispatcher", scope=TOWN1, username="wang-dispatch"),
        "leader": make_user(session, role="district_leader", scope=DISTRICT, username="chen-leader"),
        "worker": make_user(session, role="grid_worker", scope=G111, username="qian-worker"),
    }
    worker = add_person(session, "钱晓", V11, ("grid_worker", G111), phone=WORKER_PHONE, user_id=users["worker"].id)
    session.commit()
    return {
        **users,
        "worker_person": worker,
        "h": {name: bearer(session, user) for name, user in users.items()},
        "actor": {name: actor_of(session, user) for name, user in users.items()},
    }
