"""The demo district loaded into the database: exact counts, and a point finds its village."""

from __future__ import annotations

import shapely
from sqlalchemy import func, select

from shanzhi.demo.district import build_district
from shanzhi.demo.people import create_demo_people
from shanzhi.policy.loader import permissions
from shanzhi.geo import service
from shanzhi.geo.models import Region


def test_the_demo_district_loads_with_exact_counts_and_locates_its_villages(session):
    features = build_district(seed=2026)
    result = service.import_regions(session, data={"type": "FeatureCollection", "features": features})
    assert result.created == 2983
    levels = dict(session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert levels == {"district": 1, "town": 17, "village": 164, "grid": 572, "microgrid": 2229}

    village = session.scalar(select(Region).where(Region.name == "藕缆桥村"))
    assert service.region_detail(session, code=village.code)["chain"][1]["name"] == "高桥镇"
    inside = service.get_region(session, code=village.code)
    p = shapely.from_wkb(inside.geometry_wkb).representative_point()
    found = service.locate(session, lon=p.x, lat=p.y)
    assert [r.level for r in found.chain] == ["district", "town", "village", "grid", "microgrid"]
    assert found.chain[2].name == "藕缆桥村"
    people = {p.role: place for p, place, created in create_demo_people(session)}
    assert set(people) == set(permissions().roles)  # one account for every role
    assert people["grid_worker"].level == "microgrid" and people["grid_worker"].code.startswith(village.code)
    assert people["dispatcher"].name == "古林镇" and people["district_leader"].level == "district"
    assert all(not created for *_, created in create_demo_people(session)), "a second run creates nobody"
    # Loading it again changes nothing but the revision: the demo command is idempotent.
    assert service.import_regions(session, data={"type": "FeatureCollection", "features": features}).updated == 2983
