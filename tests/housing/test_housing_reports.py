"""Per-region figures and the density of residents, on a small registry whose answers are known."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import actor_of
from housing_helpers import IN_MG1, IN_MG2, MG1, MG2, VILLAGE, make_id
from shanzhi.housing import inspections, registrations, reports, service
from shanzhi.housing.dates import today_local
from shanzhi.housing.inspections import Answer
from shanzhi.housing.people import PersonInput

TODAY = today_local()


def _person(seq: int, local: bool = False) -> PersonInput:
    return PersonInput(f"租客{seq}", make_id(seq), None, None, local)


@pytest.fixture
def registry(session, hs):
    admin = actor_of(session, hs["users"]["admin"])
    a = service.create_building(session, actor=admin, data=service.BuildingInput("甲楼", *IN_MG1, use="housing"),
                                units=[service.UnitInput("101", area_m2=12.0), service.UnitInput("102", area_m2=20.0),
                                       service.UnitInput("201", kind="flat", area_m2=60.0)])
    b = service.create_building(session, actor=admin, data=service.BuildingInput("乙楼", *IN_MG2, use="shop"),
                                units=[service.UnitInput("1", kind="shop", area_m2=10.0)])
    units = {u["number"]: u["id"] for u in service.building_detail(session, actor=admin, building_id=a.id)["units"]}
    [b_unit] = [u["id"] for u in service.building_detail(session, actor=admin, building_id=b.id)["units"]]
    for seq in (1, 2, 3):  # three people in 12 m²: over the limit of two
        registrations.register(session, actor=admin, unit_id=units["101"], person=_person(seq), start_date=TODAY)
    registrations.register(session, actor=admin, unit_id=units["102"], person=_person(4),
                           start_date=TODAY - timedelta(days=300), end_date=TODAY - timedelta(days=5))  # overdue
    registrations.register(session, actor=admin, unit_id=units["201"], person=_person(5, local=True), start_date=TODAY)
    gone = registrations.register(session, actor=admin, unit_id=b_unit, person=_person(6),
                                  start_date=TODAY - timedelta(days=30))
    registrations.end_registration(session, actor=admin, registration_id=gone.id, reason="退租")
    inspections.record_inspection(session, actor=admin, building_id=a.id, answers={"gas": Answer(False)})
    inspections.record_inspection(session, actor=admin, building_id=b.id, answers={"fire_exit": Answer(False)})
    inspections.record_inspection(session, actor=admin, building_id=b.id, answers={"fire_exit": Answer(True)})
    return admin, a, b


def test_a_village_report_counts_what_the_registry_holds(session, registry):
    admin, *_ = registry
    report = reports.region_report(session, actor=admin, region=VILLAGE)
    assert report["totals"] == {
        "buildings": 2, "units": 4, "rented_units": 3, "residents": 5, "floating_population": 4,
        "overdue_registrations": 1, "units_over_limit": 1, "open_findings": 1, "overdue_findings": 0,
    }
    grids = {c["code"]: c for c in report["children"]}
    assert grids[VILLAGE + "001"]["buildings"] == 2 and grids[VILLAGE + "002"]["buildings"] == 0
    micro = {c["code"]: c for c in reports.region_report(session, actor=admin, region=VILLAGE + "001")["children"]}
    assert (micro[MG1]["residents"], micro[MG2]["residents"]) == (5, 0)
    assert (micro[MG1]["open_findings"], micro[MG2]["open_findings"]) == (1, 0)
    later = reports.region_report(session, actor=admin, region=VILLAGE, today=TODAY + timedelta(days=30))
    assert later["totals"]["overdue_findings"] == 1


def test_reports_and_density_keep_to_the_reader_s_reach(client, session, registry, hs):
    r = client.get("/api/v1/housing/report", params={"region": VILLAGE}, headers=hs["worker"])
    assert r.status_code == 404  # a micro-grid's worker does not see the village
    mine = client.get("/api/v1/housing/report", params={"region": MG1}, headers=hs["worker"]).json()
    assert mine["totals"]["residents"] == 5 and mine["children"] == []
    assert client.get("/api/v1/housing/report", params={"region": "330203"}, headers=hs["leader"]).status_code == 200
    box = "121.30,29.80,121.40,29.90"
    points = client.get("/api/v1/housing/density", params={"bbox": box}, headers=hs["cadre"]).json()["points"]
    assert points == [[IN_MG1[1], IN_MG1[0], 5.0]]
    assert client.get("/api/v1/housing/density", params={"bbox": box}, headers=hs["worker2"]).json()["points"] == []
    cells = client.get("/api/v1/housing/density", params={"bbox": box, "cell": "0.5"}, headers=hs["cadre"]).json()
    assert cells["points"] == [[IN_MG1[1], IN_MG1[0], 5.0]]
    assert client.get("/api/v1/housing/density", params={"bbox": "x"}, headers=hs["cadre"]).status_code == 422
