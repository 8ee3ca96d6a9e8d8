"""The coverage report on the lattice district, with numbers counted by hand.

The lattice has 2 towns × 2 villages × 2 grids × 2 micro-grids; villages hold 1,201 (…201) and
1,202 (…202) residents, so each town has 2,403 and the district 4,806.

Fixture: 网格长 on all 4 grids of 第1镇 and on V21's first grid (V21's second had one whose term
ended: still uncovered) → 3 of 8 grids without. 微网格长 on 12 of 16 micro-grids (one person leads
two) → 4 without, 2 in each town. 民情联络员: A at V11 and at its first grid (one person), B in a
micro-grid of V12, C at a grid of V21, D's term at V22 ended → 3 people: 0.62 per 1,000 in the
district (3,000 / 4,806), 0.83 in 第1镇 (2,000 / 2,403), 0.42 in 第2镇 (1,000 / 2,403).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from gp_builders import DISTRICT, G111, TOWN1, TOWN2, V11, V12, V21, V22, add_person, days_ago
from sqlalchemy import select
from typer.testing import CliRunner

from shanzhi.accounts.service import system_actor
from shanzhi.cli import app
from shanzhi.gridpeople import cli as gridpeople_cli
from shanzhi.gridpeople import service
from shanzhi.gridpeople.coverage import coverage
from shanzhi.gridpeople.models import GridAssignment

GRIDS = [v + g for v in (V11, V12, V21, V22) for g in ("001", "002")]
MICROGRIDS = [g + m for g in GRIDS for m in ("001", "002")]
NO_MICRO_LEADER = [V11 + "001002", V12 + "002001", V22 + "001001", V22 + "002002"]


@pytest.fixture
def covered(session, lattice):
    system = system_actor(session)
    for i, grid in enumerate(GRIDS[:5]):
        add_person(session, f"网格长{i}", grid[:12], ("grid_leader", grid))
    gone = add_person(session, "离任网格长", V21, ("grid_leader", V21 + "002"))
    led = [m for m in MICROGRIDS if m not in NO_MICRO_LEADER]
    add_person(session, "双微网格长", led[0][:12], ("microgrid_leader", led[0]), ("microgrid_leader", led[1]))
    for i, micro in enumerate(led[2:]):
        add_person(session, f"微网格长{i}", micro[:12], ("microgrid_leader", micro))
    add_person(session, "联络员甲", V11, ("liaison", V11), ("liaison", G111))
    add_person(session, "联络员乙", V12, ("liaison", V12 + "001001"))
    add_person(session, "联络员丙", V21, ("liaison", V21 + "001"))
    former = add_person(session, "联络员丁", V22, ("liaison", V22))
    add_person(session, "镇调解师", V11, ("mediator", TOWN1))
    add_person(session, "村调解师", V11, ("mediator", V11))
    for person in (gone, former):
        aid = session.scalar(select(GridAssignment.id).where(GridAssignment.person_id == person.id))
        service.end_assignment(session, actor=system, person_id=person.id, assignment_id=aid, end_date=days_ago(5))
    session.commit()
    return lattice


def leaders(report: dict, level: str) -> tuple[int, int]:
    row = report["leaders"][level]
    return row["total"], row["without_leader"]


def test_the_district_report_matches_the_hand_count(session, covered):
    report = coverage(session, actor=covered["actor"]["leader"], region=DISTRICT)
    assert leaders(report, "grid") == (8, 3)
    assert [r["code"] for r in report["leaders"]["grid"]["uncovered"]] == [V21 + "002", V22 + "001", V22 + "002"]
    assert leaders(report, "microgrid") == (16, 4)
    assert [r["code"] for r in report["leaders"]["microgrid"]["uncovered"]] == NO_MICRO_LEADER
    assert report["liaisons"] == {"role": "liaison", "role_label": "民情联络员", "people": 3, "residents": 4806,
                                  "per": 1000, "ratio": 0.62}
    assert {r["role"]: (r["assignments"], r["people"]) for r in report["roles"]} == {
        "grid_leader": (5, 5), "grid_worker": (1, 1), "microgrid_leader": (12, 11), "liaison": (4, 3),
        "mediator": (2, 2),
    }
    assert report["people"] == 5 + 1 + 11 + 3 + 2
    towns = {c["code"]: c for c in report["children"]}
    assert list(towns) == [TOWN1, TOWN2]
    t1, t2 = towns[TOWN1], towns[TOWN2]
    assert (leaders(t1, "grid"), leaders(t1, "microgrid"), t1["residents"], t1["liaisons"], t1["liaison_ratio"]) \
        == ((4, 0), (8, 2), 2403, 2, 0.83)
    assert (leaders(t2, "grid"), leaders(t2, "microgrid"), t2["residents"], t2["liaisons"], t2["liaison_ratio"]) \
        == ((4, 3), (8, 2), 2403, 1, 0.42)


def test_a_village_report_counts_its_grids_and_its_own_residents(session, covered):
    report = coverage(session, actor=covered["actor"]["cadre"], region=V11)
    assert leaders(report, "grid") == (2, 0) and leaders(report, "microgrid") == (4, 1)
    liaisons = report["liaisons"]
    assert (liaisons["people"], liaisons["residents"], liaisons["ratio"]) == (1, 1201, 0.83)
    # The village's mediator counts; the town's does not serve from inside the village.
    assert next(r for r in report["roles"] if r["role"] == "mediator")["people"] == 1
    grids = {c["code"]: c for c in report["children"]}
    assert grids[G111]["liaisons"] == 1 and grids[V11 + "002"]["liaisons"] == 0
    assert grids[G111]["residents"] is None and grids[G111]["liaison_ratio"] is None  # no population on grids
    assert leaders(grids[G111], "microgrid") == (2, 1)
    micro = coverage(session, actor=covered["actor"]["cadre"], region=V11 + "001002")
    assert leaders(micro, "grid") == (0, 0) and leaders(micro, "microgrid") == (1, 1) and micro["children"] == []


def test_the_api_answers_in_scope_only(client, session, covered):
    r = client.get(f"/api/v1/coverage?region={TOWN2}", headers=covered["h"]["cadre2"])
    assert r.status_code == 404
    r = client.get(f"/api/v1/coverage?region={V21}", headers=covered["h"]["cadre2"])
    assert r.status_code == 200 and leaders(r.json(), "grid") == (2, 1)
    assert client.get(f"/api/v1/coverage?region={V11}", headers=covered["h"]["cadre2"]).status_code == 404
    assert client.get("/api/v1/coverage?region=330203109", headers=covered["h"]["leader"]).status_code == 404
    assert client.get("/api/v1/coverage?region=33x", headers=covered["h"]["leader"]).status_code == 422
    assert client.get("/api/v1/coverage", headers=covered["h"]["leader"]).status_code == 422
    assert client.get(f"/api/v1/coverage?region={DISTRICT}").status_code == 401


def test_the_roster_lists_who_serves_a_village_including_the_towns_mediator(client, session, covered):
    roster = client.get(f"/api/v1/grid-people/roster?region={V11}", headers=covered["h"]["cadre"]).json()
    by_role = {r["role"]: [(p["person"]["name"], p["assignment"]["region"]["code"], p["from_above"])
                           for p in r["people"]] for r in roster["roles"]}
    assert by_role["mediator"] == [("镇调解师", TOWN1, True), ("村调解师", V11, False)]
    assert by_role["liaison"] == [("联络员甲", V11, False), ("联络员甲", G111, False)]
    assert len(by_role["grid_leader"]) == 2 and by_role["grid_worker"] == [("钱晓", G111, False)]


@pytest.fixture
def cli(session, monkeypatch, wide_terminal):
    @contextmanager
    def scope() -> Iterator:
        yield session

    monkeypatch.setattr(gridpeople_cli, "session_scope", scope)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["gridpeople", "coverage", *args])


def test_the_cli_prints_the_report_and_its_json_equals_the_api(client, session, covered, cli):
    out = cli("--region", DISTRICT)
    assert out.exit_code == 0, out.output
    assert "网格 8 个，无网格长 3 个" in out.output and "微网格 16 个，无微网格长 4 个" in out.output
    assert "民情联络员 3 人，居民 4,806 人，每千人 0.62 人" in out.output
    town2 = next(line for line in out.output.splitlines() if TOWN2 in line)
    assert "4 / 3" in town2 and "0.42" in town2
    as_json = cli("--region", DISTRICT, "--json")
    api = client.get(f"/api/v1/coverage?region={DISTRICT}", headers=covered["h"]["leader"]).json()
    assert json.loads(as_json.output) == api
    bad = cli("--region", "330203999")
    assert bad.exit_code == 1 and "不存在" in bad.output
