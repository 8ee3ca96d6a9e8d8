"""Dispute early warning: the same household, parties or story again, or a reopened or escalated
dispute, raises a risk alert with the reason; detection failing never loses a report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import actor_of, lattice_tree, make_event, make_units, make_user
from sqlalchemy import func, select

from shanzhi.detect import disputes, on_intake
from shanzhi.detect.alerts import list_alerts
from shanzhi.detect.models import DetectAlert
from shanzhi.events import service
from shanzhi.events.models import Event
from shanzhi.geo import service as geo

VILLAGE_POINT = (121.31, 29.81)  # village 330203101201
OTHER_VILLAGE = (121.31, 29.86)  # village 330203101202


@pytest.fixture
def district(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    return {"admin": actor_of(session, make_user(session, username="root", role="admin", scope="330203")),
            "cadre": actor_of(session, make_user(session, username="cadre", role="village_cadre", scope="330203101201"))}


def dispute(session, text: str, *, address: str | None = None, days_ago: float = 0, at=VILLAGE_POINT,
            category: str = "0701") -> Event:
    event = make_event(session, text=text, category=category, lon=at[0], lat=at[1], address=address).event
    event.created_at -= timedelta(days=days_ago)
    session.flush()
    return event


def alert_of(session, event: Event) -> DetectAlert | None:
    return session.scalar(select(DetectAlert).where(DetectAlert.event_id == event.id))


def test_the_same_household_again_raises_a_risk(session, district):
    first = dispute(session, "楼上楼下因为漏水的事吵起来了", address="横街村 12 号", days_ago=40)
    again = dispute(session, "楼上卫生间又漏水到楼下，两家人差点动手", address="横街村12号")
    alert = alert_of(session, again)
    assert alert is not None and alert.kind == "dispute_risk"
    assert first.code in alert.reason and "同一地址" in alert.reason
    assert alert_of(session, first) is None


def test_the_same_parties_again_raise_a_risk_even_about_something_else(session, district):
    first = dispute(session, "张某与李某因院墙归属发生争执", days_ago=10)
    again = dispute(session, "李某家的狗咬了邻居的鸡，双方又吵起来", category="0701")
    alert = alert_of(session, again)
    assert alert is not None and "同一当事人（李某）" in alert.reason and first.code in alert.reason


def test_unrelated_disputes_old_ones_and_other_villages_raise_nothing(session, district):
    dispute(session, "张某与李某因院墙归属发生争执", days_ago=200)  # beyond the 180-day window
    dispute(session, "张某与李某因院墙归属发生争执", at=OTHER_VILLAGE)
    dispute(session, "王某某反映被拖欠三个月工资", category="0704", days_ago=3)
    fresh = dispute(session, "李某与张某又为院墙的事情吵架")
    assert alert_of(session, fresh) is None
    assert disputes.parties("张某与老李因宅基地吵架，王阿姨劝架") == {"张某", "老李", "王阿姨"}


def test_an_escalated_dispute_raises_a_risk_and_it_reaches_the_inbox(session, district):
    event = dispute(session, "两户村民因承包地界发生纠纷", category="0703")
    admin = district["admin"]
    service.transition(session, actor=admin, code=event.code, name="accept")
    service.transition(session, actor=admin, code=event.code, name="escalate", reason="村里调解不成")
    alert = alert_of(session, event)
    assert alert is not None and "纠纷已上报上级" in alert.reason
    inbox = list_alerts(session, actor=district["cadre"], kind="dispute_risk")
    assert [a["event_code"] for a in inbox] == [event.code]


def test_a_failing_check_never_loses_the_report(session, district, monkeypatch):
    def broken(*_a, **_k):
        session.add(DetectAlert(kind="x", key="half-written", region_code="330203", title="t", reason="r", score=1))
        session.flush()
        raise RuntimeError("boom")

    monkeypatch.setattr(disputes, "check_report", broken)
    event = dispute(session, "邻居家装修把我家墙震裂了")
    assert session.get(Event, event.id) is not None
    assert session.scalar(select(func.count()).select_from(DetectAlert)) == 0  # the savepoint rolled back


def test_intake_suggests_the_category_when_the_reporter_gives_none(session, district):
    event = make_event(session, text="路边的垃圾桶满了好几天没人来收，垃圾都堆到马路上了", category=None).event
    assert (event.category_code, event.category_source) == ("0101", "suggested")
    code, top3 = on_intake.suggest_category("Hello, the lamp is broken")
    assert code is None and top3 == []
