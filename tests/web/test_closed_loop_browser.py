"""The closed loop end to end, in real headless Chromium, one browser context per person: a grid
worker reports from his phone with a photo and his position; the event appears live on the
dispatcher's command center; she accepts and dispatches it to the unit the policy proposes; that
unit's handler resolves it; the grid worker verifies it on the spot; the dispatcher closes it;
the resident who raised it follows it by its code and 查询码 and rates it.

At every stage each person sees the buttons of the steps they may take then, and no others, and
a forged POST of a step they may not take is refused and changes nothing.

Cast (the lattice district, renamed): 钱晓 (qianxiao) is the grid worker of micro-grid
330203101201001001 in 藕缆桥村; 王芳 (wangfang) dispatches for 古林镇; 李强 (liqiang) handles for
藕缆桥村's grid team, the unit policy routes a 0101 garbage report in the village to
(catalog: village tier, handler type grid_team).
"""

from __future__ import annotations

import io
import time

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
from builders import PASSWORD, lattice_tree, make_event, make_units
from PIL import Image, ImageDraw
from sqlalchemy import select

from shanzhi.accounts import service as accounts
from shanzhi.db import make_engine, session_scope
from shanzhi.detect import classify
from shanzhi.events import photos, service
from shanzhi.events.catalog import catalog
from shanzhi.events.models import Event
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

TOWN, VILLAGE = "330203101", "330203101201"
MICROGRID = VILLAGE + "001001"
HERE = {"longitude": 121.31, "latitude": 29.81, "accuracy": 10}  # inside MICROGRID
NAMES = {"330203": "海曙区", TOWN: "古林镇", "330203102": "高桥镇", VILLAGE: "藕缆桥村", "330203101202": "布政村"}
GRID_TEAM = f"grid_team-{VILLAGE}"  # make_units' code for the village's grid team
PEOPLE = (  # username, display name, role, scope, unit
    ("qianxiao", "网格员·钱晓", "grid_worker", MICROGRID, None),
    ("wangfang", "古林镇派遣员·王芳", "dispatcher", TOWN, None),
    ("liqiang", "藕缆桥村网格团队·李强", "handler", VILLAGE, GRID_TEAM),
)
REPORT = "藕缆桥村菜场东侧垃圾桶满了，垃圾堆到路上，气味很大"
RESULT = "已组织保洁员清运，垃圾桶已清洗复位，现场恢复整洁"
DESKTOP = {"width": 1400, "height": 900}
REFUSED = (403, 404, 409)


def district() -> dict:
    tree = lattice_tree()
    for f in tree["features"]:
        f["properties"]["name"] = NAMES.get(f["properties"]["code"], f["properties"]["name"])
    return tree


def seed(engine) -> None:
    """The units of every kind, named as the catalog names their kinds; the three people; and
    a few residents' reports elsewhere in the town, so the command center has something on it."""
    with session_scope(engine) as session:
        make_units(session, district())
        regions = {r.id: r.name for r in session.scalars(select(Region))}
        for unit in session.scalars(select(Organization)):
            unit.name = regions[unit.region_id] + catalog().handler_type(unit.kind).name
        system = accounts.system_actor(session)
        for username, name, role, scope, unit in PEOPLE:
            user = accounts.create_user(session, actor=system, username=username, display_name=name,
                                        password=PASSWORD, home_region=scope)
            accounts.assign_role(session, actor=system, user_id=user.id, role=role, region=scope, org_code=unit)
        for text, category, lon, lat in (("布政村村委会后面电动车在楼道里飞线充电", "0602", 121.33, 29.87),
                                         ("菜场门口占道摆摊，行人只能走机动车道", "0201", 121.37, 29.88),
                                         ("公园东门的路灯不亮了，晚上很黑", "0401", 121.36, 29.83)):
            make_event(session, text=text, category=category, lon=lon, lat=lat)
    classify.suggest(REPORT)  # train the classifier now rather than while the worker types


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    tmp = tmp_path_factory.mktemp("loop")
    with live_server(tmp, district()) as url:
        engine = make_engine(f"sqlite:///{tmp / 'live.db'}")
        seed(engine)
        yield url, engine
        engine.dispose()


def camera_photo() -> dict:
    image = Image.new("RGB", (1024, 768), (176, 190, 197))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 480, 1024, 768), fill=(120, 124, 128))  # the road
    draw.rectangle((380, 300, 560, 560), fill=(46, 125, 50))  # the bin
    draw.ellipse((500, 470, 820, 640), fill=(121, 85, 72))  # the spill
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return {"name": "IMG_2031.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def stored(engine, code: str) -> Event:
    with session_scope(engine) as session:
        event = session.scalar(select(Event).where(Event.code == code))
        session.expunge(event)
        return event


def offered(page) -> set[str]:
    """The workflow steps the event page offers this user (each a form or a folded form)."""
    return set(page.eval_on_selector_all("#actions [data-step]", "els => els.map(e => e.dataset.step)"))


def open_event(page, base_url: str, code: str) -> None:
    page.goto(f"{base_url}/events/{code}")
    page.wait_for_function("document.body.dataset.mapReady === '1'")


def take(page, step: str, **fields: str) -> None:
    """Take a step through its form on the event page, as a person would."""
    form = page.locator(f"#actions [data-step={step}]")
    if form.evaluate("el => el.tagName") == "DETAILS" and not form.evaluate("el => el.open"):
        form.locator("summary").click()
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.url.endswith(f"?done={step}"), page.url


def forge(page, base_url: str, engine, code: str, step: str, **fields: str) -> None:
    """POST a step the page does not offer, with the page's own CSRF token and the event's
    current version, as a user poking at the server would: refused, and nothing changes."""
    assert step not in offered(page)
    before = stored(engine, code)
    token = page.locator("input[name=csrf_token]").first.input_value()
    response = page.request.post(f"{base_url}/events/{code}/steps/{step}", max_redirects=0,
                                 form={"csrf_token": token, "version": str(before.version), **fields})
    assert response.status in REFUSED, (step, response.status)
    assert "表单已过期" not in response.text()  # refused for who the user is, not for the token
    after = stored(engine, code)
    assert (after.status, after.version, after.assigned_org_id) == (before.status, before.version,
                                                                    before.assigned_org_id)


def status_shown(page) -> str:
    return page.inner_text("#event-status")


def test_a_report_goes_round_the_closed_loop_in_the_browser(server):
    base_url, engine = server
    with chromium() as browser:
        # a) The dispatcher watches her command center.
        command = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
        dispatcher_seen = watch(command, base_url)
        sign_in(command, base_url, "wangfang", then="/command")
        command.wait_for_function("document.body.dataset.ready", timeout=15000)
        command.wait_for_selector("#live.on", timeout=5000)
        assert command.inner_text("#scope-name") == "古林镇指挥中心"

        # b) The grid worker reports from his phone: text, a suggested category, a photo, his position.
        phone = phone_context(browser, HERE).new_page()
        worker_seen = watch(phone, base_url)
        sign_in(phone, base_url, "qianxiao", then="/m/report")
        phone.wait_for_selector(".m-geo-status.ok")
        assert phone.input_value("input[name=lon]") == "121.310000"
        phone.fill("#text", REPORT)
        phone.click(".m-chip[data-code='0101']")
        assert phone.input_value("#category") == "0101"
        phone.set_input_files("input[name=photo]", files=[camera_photo()])
        phone.wait_for_selector(".m-photo-preview img[src^='blob:']")
        fits_the_screen(phone)
        phone.click(".m-submit")  # one tap
        phone.wait_for_selector("#reported-secret")
        shown = time.monotonic()
        code, secret = phone.inner_text("#reported-code"), phone.inner_text("#reported-secret")
        assert "/track" in phone.inner_text("#reported-note")
        fits_the_screen(phone)
        snap(phone, "closed-loop-1-report.png")
        event = stored(engine, code)
        assert (event.status, event.region_code, event.channel, event.category_code) == (
            "reported", MICROGRID, "grid_worker", "0101")
        with session_scope(engine) as session:  # the 查询码 shown is the event's
            assert service.track(session, code=code, secret=secret)["status"] == "reported"

        # c) Within two seconds, without a reload, it is in her live feed and on her map.
        command.evaluate("window.stillTheSamePage = true")
        command.wait_for_selector(f'#feed li[data-code="{code}"]', timeout=2000)
        command.wait_for_selector(f'.leaflet-marker-icon[title="{code}"]', timeout=2000)
        assert time.monotonic() - shown < 2.0
        assert command.evaluate("window.stillTheSamePage") is True
        assert "待受理" in command.inner_text(f'#feed li[data-code="{code}"]')
        command.wait_for_timeout(1500)  # the clusters and counts settle after a report
        command.screenshot(path=str(ARTIFACTS / "closed-loop-2-live.png"))

        # d) She opens it from the feed, accepts it and dispatches it to the proposed unit.
        with command.expect_navigation():
            command.click(f'#feed li[data-code="{code}"] a')
        command.wait_for_function("document.body.dataset.mapReady === '1'")
        assert status_shown(command) == "待受理" and command.locator("#photos img").count() == 1
        assert offered(command) == {"accept", "reject", "merge"}
        forge(command, base_url, engine, code, "on_the_spot", result="派遣员越权现场办结")
        # Before acceptance the grid worker may only close it on the spot; the handler, nothing.
        open_event(phone, base_url, code)
        assert offered(phone) == {"on_the_spot"}
        forge(phone, base_url, engine, code, "accept")
        handler = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
        handler_seen = watch(handler, base_url)
        sign_in(handler, base_url, "liqiang", then="/events")
        open_event(handler, base_url, code)
        assert offered(handler) == set() and handler.locator("#actions button").count() == 0
        forge(handler, base_url, engine, code, "accept")
        open_event(command, base_url, code)
        take(command, "accept")
        assert status_shown(command) == "已受理"
        assert offered(command) == {"dispatch", "escalate", "merge"}
        unit = command.locator("#actions [data-step=dispatch] select[name=unit]")
        assert unit.input_value() == GRID_TEAM  # the policy's unit, preselected
        take(command, "dispatch")
        assert status_shown(command) == "已派遣"
        assert command.inner_text("#event-unit").startswith("藕缆桥村网格团队")
        assert offered(command) == {"escalate"}
        forge(command, base_url, engine, code, "resolve", result="派遣员越权处置")
        # Grid workers handle what lies in their grid, but never dispatch, accept or close.
        open_event(phone, base_url, code)
        assert offered(phone) == {"start", "return", "resolve", "request_extension"}
        forge(phone, base_url, engine, code, "escalate", reason="网格员越权上报")
        command.screenshot(path=str(ARTIFACTS / "closed-loop-3-dispatched.png"), full_page=True)

        # e) The handler of that unit finds it in his list and resolves it.
        handler.goto(f"{base_url}/events")
        with handler.expect_navigation():
            handler.click(f"tr[data-code='{code}'] a")
        handler.wait_for_function("document.body.dataset.mapReady === '1'")
        assert offered(handler) == {"start", "return", "resolve", "request_extension", "escalate"}
        forge(handler, base_url, engine, code, "close")
        take(handler, "resolve", result=RESULT)
        assert status_shown(handler) == "已处置"
        assert offered(handler) == set()
        assert "您当前没有可办理的操作" in handler.inner_text("#actions")
        forge(handler, base_url, engine, code, "verify")
        handler.screenshot(path=str(ARTIFACTS / "closed-loop-4-resolved.png"), full_page=True)

        # f) The grid worker, back at the spot, verifies it from his phone.
        open_event(phone, base_url, code)
        assert offered(phone) == {"verify", "reopen"}
        forge(phone, base_url, engine, code, "close")
        take(phone, "verify")
        assert status_shown(phone) == "已核查"
        assert offered(phone) == {"reopen"}  # no 结案, no 派遣
        forge(phone, base_url, engine, code, "close")
        fits_the_screen(phone)
        snap(phone, "closed-loop-5-verified.png")

        # g) The dispatcher closes it.
        open_event(command, base_url, code)
        assert offered(command) == {"close", "reopen"}
        take(command, "close")
        assert status_shown(command) == "已结案"
        assert offered(command) == set()
        timeline = command.inner_text("#timeline")
        for who in ("网格员·钱晓", "古林镇派遣员·王芳", "藕缆桥村网格团队·李强"):
            assert who in timeline
        command.screenshot(path=str(ARTIFACTS / "closed-loop-6-closed.png"), full_page=True)
        for page in (phone, handler):
            open_event(page, base_url, code)
            assert offered(page) == set()

        # h) The resident follows it by code and 查询码, sees the result and rates it.
        resident = phone_context(browser).new_page()
        resident_seen = watch(resident, base_url)
        resident.goto(f"{base_url}/track")
        resident.fill("input[name=code]", code)
        resident.fill("input[name=secret]", secret)
        resident.click(".m-submit")
        resident.wait_for_selector("#tracked")
        assert resident.inner_text("#tracked-status") == "已结案"
        stages = resident.eval_on_selector_all(".m-stages li", "els => els.map(e => [e.innerText.trim(), e.className])")
        assert stages[-1] == ["已办结", "done"] and all(cls == "done" for _, cls in stages)
        assert resident.inner_text("#tracked-result") == RESULT
        fits_the_screen(resident)
        snap(resident, "closed-loop-7-tracked.png")
        resident.click("label[for=star-5]")
        resident.fill("textarea[name=comment]", "当天就清理干净了，谢谢网格员！")
        resident.click("#rating .m-submit")
        resident.wait_for_selector("#notice")
        assert "感谢您的评价" in resident.inner_text("#notice")
        assert resident.locator(".m-stars-shown .on").count() == 5
        fits_the_screen(resident)
        snap(resident, "closed-loop-8-rated.png")

        for seen in (dispatcher_seen, worker_seen, handler_seen, resident_seen):
            assert seen == CLEAN

    with session_scope(engine) as session:
        event = session.scalar(select(Event).where(Event.code == code))
        unit = session.get(Organization, event.assigned_org_id)
        assert (event.status, event.rating, unit.code) == ("closed", 5, GRID_TEAM)
        assert [p.kind for p in photos.list_photos(session, actor=accounts.system_actor(session), code=code)] == [
            "report"]
