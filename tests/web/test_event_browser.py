"""/events and /events/{code} in a real headless Chromium: 古林镇's dispatcher 王芳 narrows the list,
opens a report, accepts it (correcting its category) and dispatches it to the unit proposed.

The district is the lattice tree with real-looking names; units and a history of closed events
give the department patterns panel something to show, and two reports of one rubbish pile give
a duplicate. Everything is written through the services, as the demo would.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from browser import (
    ARTIFACTS,
    CLEAN,
    chromium_page,
    live_server,
    require_browser,
    sign_in,
    watch,
)
from builders import PASSWORD, lattice_tree, make_event
from PIL import Image, ImageDraw
from sqlalchemy import select

from shanzhi.accounts import service as accounts
from shanzhi.db import make_engine, session_scope, utcnow
from shanzhi.detect import classify
from shanzhi.events import photos, service
from shanzhi.events.models import Event
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

TOWN, VILLAGE = "330203101", "330203101201"
NAMES = {"330203": "海曙区", "330203101": "古林镇", "330203102": "高桥镇", "330203101201": "藕缆桥村",
         "330203101202": "布政村", "330203102201": "民乐村", "330203102202": "岐阳村"}
UNITS = (  # code, name, kind, region
    ("oulanqiao-grid", "藕缆桥村网格服务团队", "grid_team", VILLAGE),
    ("oulanqiao-committee", "藕缆桥村村民委员会", "village_committee", VILLAGE),
    ("gulin-enforcement", "古林镇综合行政执法队", "enforcement_team", TOWN),
    ("gulin-office", "古林镇城建办", "town_office", TOWN),
    ("haishu-housing", "海曙区住建局", "district_housing", "330203"),
)
PILE = "藕缆桥村菜场东侧路边有一堆暴露垃圾，已经堆了两天，气味很大，请尽快清运。"


def district() -> dict:
    tree = lattice_tree()
    for f in tree["features"]:
        p = f["properties"]
        p["name"] = NAMES.get(p["code"], p["name"])
    return tree


def snapshot_photo() -> bytes:
    image = Image.new("RGB", (640, 480), (176, 190, 197))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 640, 480), fill=(120, 124, 128))  # the road
    draw.ellipse((220, 250, 470, 380), fill=(121, 85, 72))  # the pile
    draw.ellipse((300, 230, 400, 300), fill=(93, 64, 55))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def seed(db: str) -> dict[str, str]:
    """Units, people, a closed history and today's reports, in the live server's database."""
    engine = make_engine(f"sqlite:///{db}")
    with session_scope(engine) as session:
        system = accounts.system_actor(session)
        regions = {r.code: r.id for r in session.scalars(select(Region))}
        for code, name, kind, region in UNITS:
            session.add(Organization(code=code, name=name, kind=kind, region_id=regions[region]))
        session.flush()
        for username, name, role, scope in (("wangfang", "古林镇派遣员·王芳", "dispatcher", TOWN),
                                            ("qianxiao", "网格员·钱晓", "grid_worker", VILLAGE + "001001")):
            user = accounts.create_user(session, actor=system, username=username, display_name=name,
                                        password=PASSWORD, home_region=scope)
            accounts.assign_role(session, actor=system, user_id=user.id, role=role, region=scope)
        worker = accounts.load_actor(session, user)  # 钱晓, the grid worker who reports
        # A month ago the village committee cleaned three dirty roads: the patterns panel's history.
        past = utcnow() - timedelta(days=30)
        for i in range(3):
            code = make_event(session, actor=worker, text=f"村道第{i + 1}段路面泥浆很多，雨后没法走", category="0104").event.code
            for step, inputs in (("accept", {}), ("dispatch", {}), ("start", {}), ("resolve", {"result": "已清扫"}),
                                 ("verify", {}), ("close", {})):
                past += timedelta(hours=1 + i)  # each step an hour or more after the last
                service.transition(session, actor=system, code=code, name=step, now=past, **inputs)
        make_event(session, actor=worker, text="路口施工围挡倒了一半，占了半条道，晚上很危险", category="0302")
        make_event(session, actor=worker, text="村委会后面电动车在楼道里飞线充电", category="0602")
        first = make_event(session, actor=worker, text="菜场东边路上垃圾堆成小山了，没人管", category="0104",
                           lon=121.3104)
        target = make_event(session, actor=worker, text=PILE, category="0104", address="藕缆桥村菜场东侧")
        photos.add_photo(session, actor=worker, code=target.event.code, data=snapshot_photo())
        codes = {"target": target.event.code, "first": first.event.code}
    engine.dispose()
    classify.suggest(PILE)  # train the classifier now rather than during the first page load
    return codes


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    tmp = tmp_path_factory.mktemp("events")
    with live_server(tmp, district()) as url:
        yield {"url": url, "db": str(tmp / "live.db"), **seed(str(tmp / "live.db"))}


def test_a_dispatcher_filters_opens_accepts_and_dispatches_an_event(live):
    base_url, codes = live["url"], live
    with chromium_page() as page:
        seen = watch(page, base_url)
        sign_in(page, base_url, "wangfang", then="/events")
        assert page.inner_text("#events-total").startswith("共 7 条")

        # Narrowing by status swaps only the results (htmx) and keeps a bookmarkable URL.
        page.evaluate("document.querySelector('.events-page h1').dataset.kept = 'yes'")
        page.select_option("select[name=status]", "reported")
        page.wait_for_function("document.querySelector('#events-total').innerText.startsWith('共 4 条')")
        assert parse_qs(urlparse(page.url).query) == {"status": ["reported"]}
        assert page.get_attribute(".events-page h1", "data-kept") == "yes"  # no full reload
        page.fill("input[name=q]", "垃圾")
        page.wait_for_function("document.querySelector('#events-total').innerText.startsWith('共 2 条')")
        assert parse_qs(urlparse(page.url).query) == {"status": ["reported"], "q": ["垃圾"]}
        assert page.locator("tbody tr").count() == 2
        assert "status=reported" in page.get_attribute("#export-xlsx", "href")
        page.screenshot(path=str(ARTIFACTS / "events.png"), full_page=True)

        # The same URL opened afresh shows the same list.
        page.goto(page.url)
        assert page.locator("tbody tr").count() == 2
        assert page.input_value("select[name=status]") == "reported"

        page.click(f"tr[data-code='{codes['target']}'] a")
        page.wait_for_url(f"**/events/{codes['target']}")
        page.wait_for_function("document.body.dataset.mapReady === '1'")
        assert page.locator("#event-map path.leaflet-interactive, #event-map path").count() >= 3
        assert page.inner_text("#event-status") == "待受理"
        assert page.locator("#photos img").count() == 1
        assert page.locator(f"#duplicates li[data-code='{codes['first']}']").count() == 1
        assert "%" in page.inner_text("#suggestions")
        page.wait_for_selector("#unit-patterns:not([hidden])")
        assert "藕缆桥村村民委员会" in page.inner_text("#unit-patterns")
        page.screenshot(path=str(ARTIFACTS / "event.png"), full_page=True)

        # A suggestion's 采用 puts its category into the acceptance form.
        accept = page.locator("details[data-step=accept]")
        suggested = page.locator("#suggestions li:has(.use-category)").first
        suggested.locator(".use-category").click()
        assert accept.locator("select[name=category]").input_value() == suggested.get_attribute("data-category")
        # Accept, correcting 道路积水 to 暴露垃圾.
        accept.locator("select[name=category]").select_option("0101")
        with page.expect_navigation():
            accept.locator("button[type=submit]").click()
        assert re.search(r"\?done=accept$", page.url)
        assert page.inner_text(".notice") == "已完成「受理」。"
        assert page.inner_text("#event-status") == "已受理"
        assert "暴露垃圾" in page.inner_text("#event-category")
        assert page.inner_text("#event-deadline") == "正常"

        # Dispatch to the unit the policy proposes (preselected).
        dispatch = page.locator("details[data-step=dispatch]")
        assert dispatch.locator("select[name=unit]").input_value() == "oulanqiao-grid"
        with page.expect_navigation():
            dispatch.locator("button[type=submit]").click()
        assert page.inner_text("#event-status") == "已派遣"
        assert page.inner_text("#event-unit").startswith("藕缆桥村网格服务团队")
        timeline = page.inner_text("#timeline")
        assert "受理" in timeline and "派遣" in timeline and "古林镇派遣员·王芳" in timeline
        assert set(page.eval_on_selector_all("[data-step]", "els => els.map(e => e.dataset.step)")) == {"escalate"}
        page.screenshot(path=str(ARTIFACTS / "event-dispatched.png"), full_page=True)
        assert seen == CLEAN

    # The browser's steps went through the service, as the dispatcher.
    engine = make_engine(f"sqlite:///{live['db']}")
    with session_scope(engine) as session:
        event = session.scalar(select(Event).where(Event.code == codes["target"]))
        assert (event.status, event.category_code, event.category_source) == ("dispatched", "0101", "corrected")
    engine.dispose()


def test_the_event_pages_fit_a_phone(live):
    base_url = live["url"]
    with chromium_page(width=360, height=740) as page:
        sign_in(page, base_url, "wangfang", then="/events")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "events-phone.png"), full_page=True)
        page.goto(f"{base_url}/events/{live['first']}")
        page.wait_for_function("document.body.dataset.mapReady === '1'")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "event-phone.png"), full_page=True)
