"""The phone pages in a real headless Chromium on a 360-px screen, used as the people they serve
would: a grid worker reports with the camera and the phone's position, closes a matter on the
spot from his task list and looks at his grid; a resident reports without signing in, follows
the event by its code and secret and, once it is closed, rates it.

Cast (the lattice district 330203): 钱晓 (gridman) is the grid worker of grid 330203101201001;
王芳 (dispatcher1) dispatches for 第1镇.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from browser import (
    ARTIFACTS,
    CLEAN,
    chromium,
    fits_the_screen,
    live_server,
    phone_context,
    require_browser,
    sign_in,
    snap,
    watch,
)
from builders import actor_of, lattice_tree, make_event, make_units
from PIL import Image, ImageDraw
from sqlalchemy import select

from shanzhi.accounts.models import User
from shanzhi.db import make_engine, session_scope, utcnow
from shanzhi.events import deadlines, service
from shanzhi.events.catalog import catalog
from shanzhi.events.models import Event, EventPhoto

GRID = "330203101201001"
MICROGRID = GRID + "001"
VILLAGE = "330203101201"
HERE = {"longitude": 121.31, "latitude": 29.81, "accuracy": 12}
PEOPLE = (("gridman", "grid_worker", GRID), ("dispatcher1", "dispatcher", "330203101"))


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, object]]:
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    tmp = tmp_path_factory.mktemp("mobile")
    with live_server(tmp, lattice_tree(), PEOPLE) as url:
        engine = make_engine(f"sqlite:///{tmp / 'live.db'}")
        with session_scope(engine) as session:
            make_units(session)
            seed_tasks(session)
        yield url, engine
        engine.dispose()


def actor(session, username: str):
    return actor_of(session, session.scalar(select(User).where(User.username == username)))


def clock_start_for(state: str, category: str, now) -> object:
    """When a clock on the working calendar must have started for the event to be `state` now
    (the calendar decides how many hours of a weekend or a night count)."""
    probe = Event(urgency="normal")
    for minutes in range(0, 30 * 24 * 60, 10):
        start = now - timedelta(minutes=minutes)
        deadlines.start_clock(probe, catalog().category(category), start)
        if deadlines.state_at(probe, now) == state:
            return start
    raise AssertionError(f"no start makes a {category} event {state}")


def seed_tasks(session) -> None:
    """Work already on the grid worker's list: one overdue, one due soon, one with time to spare."""
    worker, dispatcher = actor(session, "gridman"), actor(session, "dispatcher1")
    now = utcnow()
    for text, category, lon, lat, state in (
        ("菜场门口占道摆摊，行人只能走机动车道", "0201", 121.305, 29.805, "red"),
        ("3 号楼下电瓶车飞线充电，电线从窗口拉下来", "0602", 121.32, 29.82, "yellow"),
        ("河埠头有一堆建筑垃圾，没有人清理", "0101", 121.34, 29.815, "normal"),
    ):
        code = make_event(session, actor=worker, text=text, category=category, lon=lon, lat=lat).event.code
        at = clock_start_for(state, category, now)
        service.transition(session, actor=dispatcher, code=code, name="accept", now=at)
        service.transition(session, actor=dispatcher, code=code, name="dispatch", now=at)


@contextmanager
def phone(geolocation: dict | None = None) -> Iterator:
    """A 360-px phone; `geolocation` given means the user allowed the page to read it."""
    with chromium() as browser:
        yield phone_context(browser, geolocation).new_page()


def camera_photo() -> dict:
    image = Image.new("RGB", (800, 600), "#8fa37c")
    ImageDraw.Draw(image).rectangle((250, 300, 560, 520), fill="#5b4a3a")
    out = io.BytesIO()
    image.save(out, "JPEG")
    return {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def test_a_grid_worker_reports_with_the_camera_and_his_position_then_closes_it_on_the_spot(server):
    base_url, engine = server
    with phone(HERE) as page:
        seen = watch(page, base_url)
        sign_in(page, base_url, "gridman", then="/m/report")
        page.wait_for_selector(".m-geo-status.ok >> text=已定位：")
        assert "1号网格 › 1号微网格" in page.inner_text("[data-geo-status]")
        assert page.input_value("input[name=lon]") == "121.310000"
        page.fill("#text", "村口垃圾桶满了，垃圾堆到路上，气味很大")
        page.wait_for_selector(".m-chip")
        page.click(".m-chip >> nth=0")
        assert page.input_value("#category") == "0101"
        assert not page.is_visible(".m-photo-preview")  # nothing chosen yet
        page.set_input_files("input[name=photo]", files=[camera_photo()])
        page.wait_for_selector(".m-photo-preview img[src^='blob:']")
        fits_the_screen(page)
        snap(page, "m-report.png")
        page.click(".m-submit")
        page.wait_for_selector("#reported-code")
        code = page.inner_text("#reported-code")
        with session_scope(engine) as session:
            event = session.scalar(select(Event).where(Event.code == code))
            assert (event.region_code, event.channel, event.category_code) == (MICROGRID, "grid_worker", "0101")
            assert session.scalar(select(EventPhoto.kind).where(EventPhoto.event_id == event.id)) == "report"

        page.click(".m-tabs a[href='/m/tasks']")
        page.wait_for_selector(f"#task-{code}")
        states = page.eval_on_selector_all(".m-task", "cards => cards.map(c => c.className.match(/m-deadline-(\\w+)/)[1])")
        assert states[:3] == ["red", "yellow", "normal"] and states[-1] == "none"  # by deadline; not yet timed last
        fits_the_screen(page)
        snap(page, "m-tasks.png")
        card = page.locator(f"#task-{code}")
        card.locator("summary", has_text="现场自办结").click()
        card.locator("textarea[name=result]").fill("已当场清理，垃圾桶已换新")
        card.locator("button[type=submit]").click()
        page.wait_for_url("**/m/tasks?done=on_the_spot*")
        assert "已现场办结" in page.inner_text("#notice") and page.locator(f"#task-{code}").count() == 0
        with session_scope(engine) as session:
            assert session.scalar(select(Event.status).where(Event.code == code)) == "closed"

        page.click(".m-tabs a[href='/m/grid']")
        page.wait_for_function("document.body.dataset.mapReady === '1'")
        assert page.locator(".leaflet-overlay-pane path").count() >= 3  # micro-grids, outline, events
        assert page.locator("#grid-events li").count() == 3
        fits_the_screen(page)
        snap(page, "m-grid.png")
        assert seen == CLEAN


def test_a_worker_who_denies_location_reports_by_choosing_his_region(server):
    base_url, engine = server
    with phone() as page:
        sign_in(page, base_url, "gridman", then="/m/report")
        page.wait_for_selector(".m-geo-status.fail")
        assert page.eval_on_selector("#region", "el => el.required") and not page.is_visible("[data-geo-clear]")
        page.fill("#text", "公园东门的路灯不亮了，晚上很黑")
        page.click(".m-submit")  # the browser itself asks for the region first
        assert page.url.endswith("/m/report")
        page.select_option("#region", GRID + "002")
        page.click(".m-submit")
        page.wait_for_selector("#reported-code")
        code = page.inner_text("#reported-code")
        with session_scope(engine) as session:
            event = session.scalar(select(Event).where(Event.code == code))
            assert event.region_code == GRID + "002" and event.lon is None


def test_a_resident_reports_follows_the_event_and_rates_it_after_it_is_closed(server):
    base_url, engine = server
    with phone(HERE) as page:
        seen = watch(page, base_url)
        page.goto(f"{base_url}/report?village={VILLAGE}")
        assert page.input_value("#village") == VILLAGE
        page.fill("#text", "小区门口的垃圾桶倒了，垃圾散了一地")
        page.select_option("#category", "0101")
        page.set_input_files("input[name=photo]", files=[camera_photo()])
        page.click("[data-geo-locate]")
        page.wait_for_selector(".m-geo-status.ok")
        fits_the_screen(page)
        snap(page, "report.png")
        page.wait_for_timeout(2000)  # a person takes a moment; the challenge refuses instant posts
        page.click(".m-submit")
        page.wait_for_selector("#done-secret")
        code, secret = page.inner_text("#done-code"), page.inner_text("#done-secret")
        fits_the_screen(page)
        snap(page, "report-done.png")

        page.click("a[href^='/track?code=']")
        assert page.input_value("input[name=code]") == code
        page.fill("input[name=secret]", secret)
        page.click(".m-submit")
        page.wait_for_selector("#tracked")
        assert page.inner_text("#tracked-status") == "待受理" and page.locator("#rating").count() == 0

        with session_scope(engine) as session:
            event = session.scalar(select(Event).where(Event.code == code))
            assert (event.channel, event.region_code, event.reporter_id) == ("resident", MICROGRID, None)
            service.transition(session, actor=actor(session, "gridman"), code=code, name="on_the_spot",
                               result="已扶正垃圾桶，散落垃圾已清扫干净")

        page.goto(f"{base_url}/track?code={code}")
        page.fill("input[name=secret]", secret)
        page.click(".m-submit")
        page.wait_for_selector("#rating")
        assert page.inner_text("#tracked-status") == "已结案"
        assert "散落垃圾已清扫干净" in page.inner_text("#tracked-result")
        page.click("label[for=star-5]")
        page.fill("textarea[name=comment]", "处理很快，谢谢！")
        page.click("#rating .m-submit")
        page.wait_for_selector("#notice")
        assert "感谢您的评价" in page.inner_text("#notice")
        assert page.locator(".m-stars-shown .on").count() == 5
        fits_the_screen(page)
        snap(page, "track.png")
        with session_scope(engine) as session:
            assert session.scalar(select(Event.rating).where(Event.code == code)) == 5
        assert seen == CLEAN
