"""The live feed: timeline rows after a cursor, within reach; late commits; the SSE loop's end."""

from __future__ import annotations

import json
import time

import anyio
import pytest
from builders import actor_of, lattice_tree, make_event, make_units, make_user

from shanzhi.events import service, stream
from shanzhi.geo import service as geo


@pytest.fixture
def district(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    people = {
        "dispatcher1": make_user(session, role="dispatcher", scope="330203101", username="dispatcher1"),
        "dispatcher2": make_user(session, role="dispatcher", scope="330203102", username="dispatcher2"),
    }
    session.commit()
    return {name: actor_of(session, user) for name, user in people.items()}


def test_the_first_page_shows_recent_steps_in_reach_and_a_cursor_to_follow(session, district):
    west = make_event(session, lon=121.31, lat=29.81).event
    make_event(session, lon=121.47, lat=29.87)
    first = stream.recent(session, actor=district["dispatcher1"])
    assert [(i["code"], i["action"], i["label"], i["place"]) for i in first["items"]] == [
        (west.code, "report", "上报", "第1镇·1011村")]
    assert first["cursor"] >= first["items"][0]["id"]


def test_new_reports_and_status_changes_come_after_the_cursor_and_only_within_reach(session, district):
    cursor = stream.Cursor(stream.recent(session, actor=district["dispatcher1"])["cursor"])
    west = make_event(session, lon=121.31, lat=29.81).event
    east = make_event(session, lon=121.47, lat=29.87).event
    service.transition(session, actor=district["dispatcher1"], code=west.code, name="accept")
    items = stream.poll(session, actor=district["dispatcher1"], cursor=cursor)
    assert [(i["code"], i["action"], i["status_label"]) for i in items] == [
        (west.code, "report", "已受理"), (west.code, "accept", "已受理")]  # the event as it is now
    assert items[0]["lon"] == pytest.approx(121.31) and items[1]["deadline_state"] == "normal"
    assert east.code not in {i["code"] for i in items}
    # The cursor moved past the step it did not send, too: nothing comes twice.
    assert stream.poll(session, actor=district["dispatcher1"], cursor=cursor) == []
    other = stream.Cursor(0)
    assert {i["code"] for i in stream.poll(session, actor=district["dispatcher2"], cursor=other)} == {east.code}


def test_a_step_committed_late_below_the_cursor_is_still_sent(session, district):
    west = make_event(session, lon=121.31, lat=29.81).event
    step_id = stream.recent(session, actor=district["dispatcher1"])["items"][-1]["id"]
    # As if the step's transaction had committed after a later id was already sent.
    cursor = stream.Cursor(step_id + 5, gaps={step_id: time.monotonic()})
    assert [i["code"] for i in stream.poll(session, actor=district["dispatcher1"], cursor=cursor)] == [west.code]
    assert cursor.gaps == {}


def test_the_cursor_remembers_skipped_ids_for_a_while():
    cursor = stream.Cursor(10)
    cursor.advance([11, 14], now=100.0)
    assert cursor.last == 14 and set(cursor.gaps) == {12, 13}
    cursor.advance([12], now=101.0)
    assert set(cursor.gaps) == {13}
    cursor.advance([], now=100.0 + stream.GAP_SECONDS + 1)
    assert cursor.gaps == {}  # a rolled-back id never comes: it expires


def test_the_event_stream_sends_what_happened_and_ends_when_told(session, district):
    start = stream.recent(session, actor=district["dispatcher1"])["cursor"]
    west = make_event(session, lon=121.31, lat=29.81).event
    session.commit()
    polls = 0

    async def stop() -> bool:
        nonlocal polls
        polls += 1
        return polls > 2

    async def collect() -> list[str]:
        return [chunk async for chunk in stream.sse(lambda: session, actor=district["dispatcher1"], after=start,
                                                    stop=stop, poll_seconds=0.01)]

    chunks = anyio.run(collect)
    assert chunks[0] == "retry: 10\n\n"
    message = chunks[1].split("\n")
    assert message[1] == "event: step" and json.loads(message[2].removeprefix("data: "))["code"] == west.code
    assert len(chunks) == 2 and polls == 3


def test_an_idle_stream_pings_and_moves_the_browsers_last_event_id_past_unsent_steps(session, district,
                                                                                      monkeypatch):
    start = stream.recent(session, actor=district["dispatcher1"])["cursor"]
    make_event(session, lon=121.47, lat=29.87)  # in 第2镇: not for this dispatcher
    session.commit()
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", -1.0)
    polls = 0

    async def stop() -> bool:
        nonlocal polls
        polls += 1
        return polls > 1

    async def collect() -> list[str]:
        return [chunk async for chunk in stream.sse(lambda: session, actor=district["dispatcher1"], after=start,
                                                    stop=stop, poll_seconds=0.01)]

    chunks = anyio.run(collect)
    last = stream.recent(session, actor=district["dispatcher2"])["cursor"]
    assert chunks[1:] == [f": ping\nid: {last}\n\n"] and last > start
