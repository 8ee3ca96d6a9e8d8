"""Duplicate detection: the same garbage pile reported twice is found; what is far, old, of
another kind or already closed is not; disputes match by village; the dispatcher merges a
duplicate found through the API; the policy file is validated."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from builders import bearer, lattice_tree, make_event, make_units, make_user
from pydantic import ValidationError

from shanzhi.detect.duplicates import (
    METRES_PER_DEGREE_LAT,
    DuplicatePolicy,
    duplicate_policy,
    find_duplicates,
    load_policy,
    text_similarity,
)
from shanzhi.geo import service as geo

LON, LAT = 121.31, 29.81  # in village 330203101201 of town 330203101
PILE = "小区门口路边有一堆暴露垃圾，气味很大"


def east(metres: float) -> float:
    return LON + metres / (METRES_PER_DEGREE_LAT * math.cos(math.radians(LAT)))


@pytest.fixture
def district(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)


def report(session, *, hours_ago: float = 0, **over):
    event = make_event(session, **over).event
    if hours_ago:
        event.created_at = event.created_at - timedelta(hours=hours_ago)
        session.flush()
    return event


def codes(candidates) -> list[str]:
    return [c.event.code for c in candidates]


def test_it_finds_the_same_garbage_pile_reported_twice_30_metres_and_2_hours_apart(session, district):
    first = report(session, text=PILE, hours_ago=2)
    again = report(session, text="小区门口那堆垃圾还在路边，很臭", lon=east(30))
    found = find_duplicates(session, event=again)
    assert codes(found) == [first.code]
    c = found[0]
    assert 25 < c.distance_m < 35 and 1.9 < c.hours < 2.1 and 0 < c.text_similarity < 1 and 0 < c.score <= 1


def test_it_ignores_what_is_far_of_another_kind_too_old_or_closed(session, district):
    report(session, text=PILE, lon=east(2000))
    report(session, text=PILE, category="0102")
    report(session, text=PILE, hours_ago=73)  # 01 looks back 72 hours
    closed = report(session, text=PILE)
    closed.status = "closed"
    session.flush()
    event = report(session, text=PILE, lon=east(30))
    assert find_duplicates(session, event=event) == []


def test_disputes_match_within_the_same_village_over_weeks(session, district):
    quarrel = "两户邻居因宅基地边界发生纠纷，多次争吵"
    earlier = report(session, text=quarrel, category="0701", hours_ago=24 * 21, lon=121.38, lat=29.84)
    report(session, text=quarrel, category="0701", hours_ago=24, lon=121.31, lat=29.86)  # the next village
    event = report(session, text="宅基地边界纠纷，邻居又吵起来了", category="0701")
    assert event.village_code == earlier.village_code
    found = find_duplicates(session, event=event)
    assert codes(found) == [earlier.code] and found[0].distance_m > 5000


def test_the_closest_most_similar_report_ranks_first(session, district):
    far = report(session, text="小区门口路边垃圾没人清理，气味大", lon=east(50), hours_ago=20)
    near = report(session, text=PILE, lon=east(10), hours_ago=1)
    found = find_duplicates(session, event=report(session, text=PILE))
    assert codes(found) == [near.code, far.code]
    assert found[0].score > found[1].score


def test_text_similarity_is_high_for_the_same_words_and_zero_for_none():
    assert text_similarity(PILE, PILE) == 1.0
    assert text_similarity(PILE, "路灯不亮") == 0.0


# -- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture
def hs(session, client, district):
    worker = make_user(session, username="qianxiao", role="grid_worker", scope="330203101201001001")
    dispatcher = make_user(session, username="wangfang", role="dispatcher", scope="330203101")
    other = make_user(session, username="zhaoyi", role="dispatcher", scope="330203102")
    session.commit()
    return {"worker": bearer(session, worker), "dispatcher": bearer(session, dispatcher),
            "other": bearer(session, other)}


def post(client, headers, text: str, lon: float) -> str:
    r = client.post("/api/v1/events", json={"text": text, "category": "0101", "lon": lon, "lat": LAT,
                                            "channel": "grid_worker"}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["code"]


def test_the_dispatcher_finds_a_duplicate_and_merges_it_after_which_it_is_no_candidate(client, hs):
    first = post(client, hs["worker"], PILE, LON)
    second = post(client, hs["worker"], "小区门口路边垃圾堆，气味很大", east(20))
    third = post(client, hs["worker"], "小区门口垃圾堆了好几天，气味很大", east(30))
    r = client.get(f"/api/v1/events/{third}/duplicates", headers=hs["dispatcher"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and {i["code"] for i in body["items"]} == {first, second}
    assert set(body["items"][0]) == {"code", "score", "distance_m", "hours", "text_similarity", "text", "status"}
    merged = client.post(f"/api/v1/events/{second}/steps/merge", json={"into": first}, headers=hs["dispatcher"])
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged"
    after = client.get(f"/api/v1/events/{third}/duplicates", headers=hs["dispatcher"]).json()
    assert [i["code"] for i in after["items"]] == [first]
    assert second not in [i["code"] for i in client.get(f"/api/v1/events/{first}/duplicates",
                                                        headers=hs["dispatcher"]).json()["items"]]


def test_a_dispatcher_of_another_town_gets_404(client, hs):
    post(client, hs["worker"], PILE, LON)
    code = post(client, hs["worker"], PILE, east(10))
    r = client.get(f"/api/v1/events/{code}/duplicates", headers=hs["other"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# -- the policy ----------------------------------------------------------------------------------


def test_the_shipped_policy_validates_and_a_minor_falls_back_to_its_major():
    policy = duplicate_policy()
    assert policy.limits("0701").radius_m == 0 and policy.limits("1301").window_hours == 6
    assert policy.limits("9999") == policy.limits(None) == policy.default


GOOD = {"version": "t", "min_score": 0.4, "weights": {"distance": 1, "time": 1, "text": 1},
        "default": {"radius_m": 100, "window_hours": 72}, "categories": {"0101": {"radius_m": 50, "window_hours": 24}}}


@pytest.mark.parametrize("bad", [
    {**GOOD, "surprise": 1},
    {**GOOD, "default": {"radius_m": 100, "window_hours": 72, "radius_km": 1}},
    {**GOOD, "default": {"radius_m": -1, "window_hours": 72}},
    {**GOOD, "categories": {"1": {"radius_m": 50, "window_hours": 24}}},
    {**GOOD, "min_score": 1.5},
    {**GOOD, "weights": {"distance": 0, "time": 0, "text": 0}},
], ids=["unknown-key", "unknown-limit", "negative-radius", "bad-category", "score-above-1", "no-weight"])
def test_a_bad_policy_is_refused(bad):
    assert DuplicatePolicy.model_validate(GOOD).limits("0101").radius_m == 50
    with pytest.raises(ValidationError):
        DuplicatePolicy.model_validate(bad)


def test_a_policy_file_with_an_unknown_key_is_refused_on_load(tmp_path):
    path = tmp_path / "duplicates.toml"
    path.write_text('version = "x"\nmin_score = 0.4\nradius = 5\n[weights]\ndistance = 1\ntime = 1\ntext = 1\n'
                    '[default]\nradius_m = 100\nwindow_hours = 72\n', encoding="utf-8")
    with pytest.raises(ValidationError):
        load_policy(path)
