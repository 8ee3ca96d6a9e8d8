"""The phone pages over HTTP: grid workers report, close on the spot and report results; residents
report without signing in, within limits and a challenge, follow their event and rate it; a
village's QR code opens the report form preset to that village.

Cast (the lattice district 330203): 钱晓 (qianxiao) is the grid worker of grid 330203101201001;
孙丽 (sunli) works the neighbouring grid 330203101201002 and must not see qianxiao's events;
王芳 (wangfang) dispatches for 第1镇; 执法队 (zhifa) handles for 第1镇's enforcement team and
赵敏 (zhaomin) for its town office — each sees only what is assigned to their own unit.
"""

from __future__ import annotations

import io
import re
import time

import pytest
from builders import PASSWORD, actor_of, lattice_tree, make_event, make_units, make_user
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from shanzhi.events import photos, service
from shanzhi.events.models import Event, EventPhoto
from shanzhi.geo import coords
from shanzhi.geo import service as geo
from shanzhi.web import challenge, mobile_pages, throttle
from shanzhi.web.village_qr import qr_code

GRID = "330203101201001"
MICROGRID = GRID + "001"  # where (121.31, 29.81) lies
VILLAGE = "330203101201"
POINT = {"lon": "121.31", "lat": "29.81"}
REPORT = {"text": "村口垃圾桶满了，垃圾堆到路上", "category": "0101", "crs": "wgs84", **POINT}


@pytest.fixture
def people(session):
    geo.import_regions(session, data=lattice_tree())
    units = make_units(session)
    made = {
        "qianxiao": make_user(session, username="qianxiao", role="grid_worker", scope=GRID),
        "sunli": make_user(session, username="sunli", role="grid_worker", scope="330203101201002"),
        "wangfang": make_user(session, username="wangfang", role="dispatcher", scope="330203101"),
        "zhifa": make_user(session, username="zhifa", role="handler", scope="330203101",
                           org="enforcement_team-330203101"),
        "zhaomin": make_user(session, username="zhaomin", role="handler", scope="330203101",
                             org="town_office-330203101"),
        "liaison": make_user(session, username="liaison", role="liaison", scope=GRID),
    }
    session.commit()
    return {"users": made, "units": units}


def page_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def login(client: TestClient, username: str) -> None:
    csrf = page_value(client.get("/login").text, "csrf_token")
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf, "next": "/m/tasks"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def jpeg(color: str = "green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "JPEG")
    return out.getvalue()


def photo_file(data: bytes | None = None) -> dict:
    return {"photo": ("scene.jpg", data if data is not None else jpeg(), "image/jpeg")}


def count(session, model=Event) -> int:
    return session.scalar(select(func.count()).select_from(model))


def worker_report(client: TestClient, fields: dict, files: dict | None = None):
    form = client.get("/m/report").text
    data = {"csrf_token": page_value(form, "csrf_token"), "key": page_value(form, "key"), **fields}
    return client.post("/m/report", data=data, files=files, follow_redirects=False)


def reported_code(response) -> str:
    """The code the report page shows after a successful report (the page itself: no redirect,
    since it shows the secret once)."""
    assert response.status_code == 200 and "上报成功" in response.text, response.text[:400]
    return re.search(r'id="reported-code"[^>]*>([^<]+)<', response.text).group(1)


def reported_secret(response) -> str | None:
    found = re.search(r'id="reported-secret"[^>]*>([^<]+)<', response.text)
    return found.group(1) if found else None


# -- /m/report ---------------------------------------------------------------------------------


def test_a_grid_worker_reports_with_a_photo_and_his_position_in_one_tap(client, session, people):
    login(client, "qianxiao")
    r = worker_report(client, REPORT, photo_file())
    code = reported_code(r)
    # The tracking secret is shown once, for the worker to pass on to the resident, and not cached.
    assert r.headers["cache-control"] == "no-store" and "/track" in r.text
    assert service.track(session, code=code, secret=reported_secret(r))["status"] == "reported"
    worker = actor_of(session, people["users"]["qianxiao"])
    event = service.get_event(session, actor=worker, code=code)
    assert (event.channel, event.region_code, event.category_code) == ("grid_worker", MICROGRID, "0101")
    assert event.reporter_id == people["users"]["qianxiao"].id
    assert [p.kind for p in photos.list_photos(session, actor=worker, code=code)] == ["report"]


def test_a_position_from_a_gcj02_map_app_is_stored_where_it_really_is(client, session, people):
    login(client, "qianxiao")
    lon, lat = coords.wgs84_to_gcj02(121.31, 29.81)
    code = reported_code(worker_report(client, {**REPORT, "lon": f"{lon:.7f}", "lat": f"{lat:.7f}", "crs": "gcj02"}))
    event = session.scalar(select(Event).where(Event.code == code))
    assert abs(event.lon - 121.31) < 1e-5 and abs(event.lat - 29.81) < 1e-5 and event.region_code == MICROGRID


def test_without_a_position_the_worker_must_choose_a_region(client, session, people):
    login(client, "qianxiao")
    form = client.get("/m/report").text
    # The fallback lists the worker's grid and its micro-grids, and nothing outside it.
    assert f'value="{GRID}"' in form and f'value="{MICROGRID}"' in form and 'value="330203101201002"' not in form
    refused = worker_report(client, {**REPORT, "lon": "", "lat": ""})
    assert refused.status_code == 422 and "请选择所在区域" in refused.text
    assert "村口垃圾桶满了" in refused.text  # what was typed is kept
    code = reported_code(worker_report(client, {**REPORT, "lon": "", "lat": "", "region": GRID + "002"}))
    event = session.scalar(select(Event).where(Event.code == code))
    assert event.region_code == GRID + "002" and event.lon is None


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"text": "短"}, 422, "个字描述问题"),
    ({"lon": "东经121度"}, 422, "经纬度应为数字"),
    ({"lon": "116.4", "lat": "39.9"}, 422, "不在本辖区范围内"),
    ({"lon": "121.45", "lat": "29.85"}, 404, "不在您的管辖范围内"),  # another town
    ({"category": "9999"}, 422, "未知的事件类别"),
    ({"crs": "mars"}, 422, "坐标系"),
])
def test_bad_reports_are_refused_clearly_and_write_nothing(client, session, people, change, status, message):
    login(client, "qianxiao")
    r = worker_report(client, {**REPORT, **change})
    assert r.status_code == status and message in r.text, r.text[:400]
    assert count(session) == 0


def test_a_file_that_is_not_a_picture_undoes_the_whole_report(client, session, people):
    login(client, "qianxiao")
    r = worker_report(client, REPORT, photo_file(b"not an image at all"))
    assert r.status_code == 422 and "不是有效的图片" in r.text
    assert count(session) == 0 and count(session, EventPhoto) == 0


def test_a_double_tap_makes_one_event(client, session, people):
    login(client, "qianxiao")
    form = client.get("/m/report").text
    data = {"csrf_token": page_value(form, "csrf_token"), "key": page_value(form, "key"), **REPORT}
    first = client.post("/m/report", data=data, files=photo_file(), follow_redirects=False)
    again = client.post("/m/report", data=data, files=photo_file(), follow_redirects=False)
    assert reported_code(first) == reported_code(again)
    assert reported_secret(first) and reported_secret(again) is None  # shown once only
    assert count(session) == 1 and count(session, EventPhoto) == 1


def test_a_form_without_its_csrf_token_is_refused(client, session, people):
    login(client, "qianxiao")
    r = client.post("/m/report", data={**REPORT, "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and count(session) == 0


def test_the_report_page_asks_for_sign_in_and_the_detection_api_for_suggestions(client, people):
    r = client.get("/m/report", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/m/report")
    login(client, "qianxiao")
    page = client.get("/m/report").text
    assert 'data-classify="/api/v1/detect/classify"' in page
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    csrf = page_value(page, "csrf_token")
    suggested = client.post("/api/v1/detect/classify", json={"text": "路边垃圾堆了好几天没人清理，臭气熏天"},
                            headers={"X-CSRF-Token": csrf})
    assert suggested.status_code == 200 and suggested.json()["items"][0]["code"] == "0101"


# -- /m/tasks ----------------------------------------------------------------------------------


def task_form(client: TestClient, code: str) -> dict[str, str]:
    page = client.get("/m/tasks").text
    card = page[page.index(f'id="task-{code}"'):]
    return {"csrf_token": page_value(card, "csrf_token"), "version": page_value(card, "version")}


def test_a_grid_worker_closes_a_small_matter_on_the_spot(client, session, people):
    login(client, "qianxiao")
    code = reported_code(worker_report(client, REPORT))
    page = client.get("/m/tasks").text
    assert f'id="task-{code}"' in page and "现场自办结" in page
    fields = task_form(client, code)
    empty = client.post(f"/m/tasks/{code}/on_the_spot", data={**fields, "result": ""}, follow_redirects=False)
    assert empty.status_code == 422 and "需要填写" in empty.text
    done = client.post(f"/m/tasks/{code}/on_the_spot", data={**fields, "result": "已当场清理，现场恢复整洁"},
                       files=photo_file(jpeg("blue")), follow_redirects=False)
    assert done.status_code == 303 and "done=on_the_spot" in done.headers["location"]
    assert "已现场办结" in client.get(done.headers["location"]).text
    event = session.scalar(select(Event).where(Event.code == code))
    session.refresh(event)
    assert event.status == "closed" and event.result_text == "已当场清理，现场恢复整洁"
    assert sorted(p.kind for p in session.scalars(select(EventPhoto).where(EventPhoto.event_id == event.id))) == \
        ["result"]
    # The same form once more: the event moved on meanwhile.
    stale = client.post(f"/m/tasks/{code}/on_the_spot", data={**fields, "result": "再来一次"}, follow_redirects=False)
    assert stale.status_code == 409 and "请刷新后重试" in stale.text


def test_a_worker_sees_only_his_own_grid_and_cannot_act_on_another(client, session, people):
    login(client, "qianxiao")
    code = reported_code(worker_report(client, REPORT))
    client.cookies.clear()
    login(client, "sunli")
    assert code not in client.get("/m/tasks").text
    csrf = page_value(client.get("/m/report").text, "csrf_token")
    r = client.post(f"/m/tasks/{code}/on_the_spot", data={"csrf_token": csrf, "result": "越界操作"},
                    follow_redirects=False)
    assert r.status_code == 404
    assert session.scalar(select(Event.status).where(Event.code == code)) == "reported"


def dispatch_to(session, people, code: str, unit: str) -> None:
    dispatcher = actor_of(session, people["users"]["wangfang"])
    service.transition(session, actor=dispatcher, code=code, name="accept")
    service.transition(session, actor=dispatcher, code=code, name="dispatch", unit=unit)
    session.commit()


def test_a_handler_sees_his_units_events_by_deadline_and_reports_the_result(client, session, people):
    login(client, "qianxiao")
    codes = [reported_code(worker_report(client, {**REPORT, "text": f"第{i}处垃圾堆放，影响通行"})) for i in range(3)]
    dispatch_to(session, people, codes[0], "enforcement_team-330203101")
    dispatch_to(session, people, codes[1], "town_office-330203101")
    dispatch_to(session, people, codes[2], "enforcement_team-330203101")
    client.cookies.clear()
    login(client, "zhifa")
    page = client.get("/m/tasks").text
    assert codes[0] in page and codes[2] in page and codes[1] not in page
    assert page.index(codes[0]) < page.index(codes[2])  # the earlier deadline first
    assert "现场自办结" not in page and "处置完毕" in page and 'data-deadline="normal"' in page
    fields = task_form(client, codes[2])
    done = client.post(f"/m/tasks/{codes[2]}/resolve", data={**fields, "result": "已清运垃圾两车"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert session.scalar(select(Event.status).where(Event.code == codes[2])) == "resolved"
    assert codes[2] not in client.get("/m/tasks").text
    client.cookies.clear()
    login(client, "zhaomin")
    assert codes[1] in client.get("/m/tasks").text


def test_a_step_the_phone_does_not_offer_is_refused(client, session, people):
    login(client, "qianxiao")
    code = reported_code(worker_report(client, REPORT))
    csrf = page_value(client.get("/m/report").text, "csrf_token")
    r = client.post(f"/m/tasks/{code}/accept", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 422 and "手机端不支持该操作" in r.text


def test_whoever_holds_no_handling_role_has_no_task_list(client, people):
    login(client, "liaison")
    assert client.get("/m/tasks").status_code == 403
    assert client.get("/m/report").status_code == 200


# -- /m/grid -----------------------------------------------------------------------------------


def test_the_grid_page_maps_my_grid_and_lists_its_open_events(client, session, people):
    login(client, "qianxiao")
    code = reported_code(worker_report(client, REPORT))
    page = client.get("/m/grid")
    assert page.status_code == 200 and "1号网格" in page.text and code in page.text
    config = re.search(r'<script id="grid-config" type="application/json">(.*?)</script>', page.text, re.DOTALL).group(1)
    assert f'"region": "{GRID}"' in config and code in config
    assert client.get(f"/api/v1/regions/{GRID}/geojson?children=true").json()["features"]
    client.cookies.clear()
    login(client, "sunli")
    assert code not in client.get("/m/grid").text


# -- residents: /report ------------------------------------------------------------------------


def resident_form(client: TestClient, path: str = "/report") -> tuple[str, dict[str, str]]:
    page = client.get(path)
    assert page.status_code == 200
    # The form was served a while ago, as when a person read and typed.
    return page.text, {"csrf_token": page_value(page.text, "csrf_token"), "key": page_value(page.text, "key"),
                       challenge.FIELD: challenge.issue(now=time.time() - 30)}


def resident_report(client: TestClient, fields: dict, files: dict | None = None):
    _, hidden = resident_form(client)
    return client.post("/report", data={**hidden, **fields}, files=files)


def shown_ticket(html: str) -> tuple[str, str]:
    code = re.search(r'id="done-code"[^>]*>([^<]+)<', html).group(1)
    secret = re.search(r'id="done-secret"[^>]*>([^<]+)<', html).group(1)
    return code, secret


def test_a_resident_reports_from_a_village_qr_code_with_a_photo_and_gets_a_secret(client, session, people):
    page, hidden = resident_form(client, f"/report?village={VILLAGE}")
    assert f'<option value="{VILLAGE}" selected>' in page and "已按二维码选定" in page
    r = client.post("/report", data={**hidden, "text": "小区门口的路灯坏了一个多星期", "village": VILLAGE},
                    files=photo_file())
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    code, secret = shown_ticket(r.text)
    event = session.scalar(select(Event).where(Event.code == code))
    assert (event.channel, event.region_code, event.reporter_id) == ("resident", VILLAGE, None)
    assert session.scalar(select(func.count()).where(EventPhoto.event_id == event.id)) == 1
    assert service.track(session, code=code, secret=secret)["status"] == "reported"


def test_a_resident_may_report_by_gps_and_leave_a_phone_number(client, session, people):
    r = resident_report(client, {"text": "河边有人倒建筑垃圾", **POINT, "crs": "wgs84", "phone": "13800138000"})
    code, _ = shown_ticket(r.text)
    event = session.scalar(select(Event).where(Event.code == code))
    assert event.region_code == MICROGRID and event.reporter_phone_encrypted is not None
    assert b"13800138000" not in event.reporter_phone_encrypted


def test_a_resident_report_needs_a_place(client, session, people):
    r = resident_report(client, {"text": "河边有人倒建筑垃圾"})
    assert r.status_code == 422 and "请获取当前位置，或选择所在村（社区）" in r.text and count(session) == 0


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda f: f.update({challenge.FIELD: challenge.issue()}), "提交过快"),
    (lambda f: f.update({challenge.HONEYPOT: "http://spam.example"}), "提交未通过校验"),
    (lambda f: f.update({challenge.FIELD: "forged.token"}), "页面已过期"),
    (lambda f: f.pop(challenge.FIELD), "页面已过期"),
])
def test_scripted_submissions_fail_the_challenge(client, session, people, tamper, message):
    _, hidden = resident_form(client)
    data = {**hidden, "text": "河边有人倒建筑垃圾", "village": VILLAGE}
    tamper(data)
    r = client.post("/report", data=data)
    assert r.status_code == 422 and message in r.text and count(session) == 0


def test_each_address_may_report_five_times_an_hour(client, session, people):
    refused = resident_report(client, {"text": "短", "village": VILLAGE})
    assert refused.status_code == 422  # a refused report uses up nothing
    for i in range(throttle.limit("report").uses):
        assert resident_report(client, {"text": f"第{i}次：河边有人倒建筑垃圾", "village": VILLAGE}).status_code == 200
    sixth = resident_report(client, {"text": "第六次：河边有人倒建筑垃圾", "village": VILLAGE})
    assert sixth.status_code == 429 and "过于频繁" in sixth.text and "分钟后再试" in sixth.text
    assert count(session) == throttle.limit("report").uses
    # A neighbour on another network is not held back.
    with TestClient(client.app, client=("198.51.100.7", 40000)) as other:
        assert resident_report(other, {"text": "邻居：河边有人倒建筑垃圾", "village": VILLAGE}).status_code == 200


# -- residents: /track -------------------------------------------------------------------------


def track(client: TestClient, code: str, secret: str):
    csrf = page_value(client.get(f"/track?code={code}").text, "csrf_token")
    return client.post("/track", data={"csrf_token": csrf, "code": code, "secret": secret})


def test_a_resident_follows_the_event_and_rates_it_once_closed(client, session, people):
    code, secret = shown_ticket(resident_report(client, {"text": "村口垃圾堆了三天没人清理", "category": "0101",
                                                          **POINT}).text)
    wrong = track(client, code, "WRONG1")
    assert wrong.status_code == 404 and "事件编号或查询码不正确" in wrong.text
    seen = track(client, code, secret.lower())
    assert seen.status_code == 200 and "待受理" in seen.text and 'id="rating"' not in seen.text
    worker = actor_of(session, people["users"]["qianxiao"])
    service.transition(session, actor=worker, code=code, name="on_the_spot", result="已清运，现场已清扫")
    session.commit()
    closed = track(client, code, secret)
    assert "已结案" in closed.text and "已清运，现场已清扫" in closed.text and 'name="rating"' in closed.text
    csrf = page_value(closed.text, "csrf_token")
    rated = client.post("/track/rate", data={"csrf_token": csrf, "code": code, "secret": secret, "rating": "4",
                                             "comment": "处理很及时"})
    assert rated.status_code == 200 and "感谢您的评价" in rated.text and 'name="rating"' not in rated.text
    assert session.scalar(select(Event.rating).where(Event.code == code)) == 4
    again = client.post("/track/rate", data={"csrf_token": csrf, "code": code, "secret": secret, "rating": "1"})
    assert again.status_code == 409 and "该事件已评价" in again.text
    assert session.scalar(select(Event.rating).where(Event.code == code)) == 4


def test_a_rating_outside_one_to_five_is_refused(client, session, people):
    code, secret = shown_ticket(resident_report(client, {"text": "村口垃圾堆了三天没人清理", "category": "0101",
                                                          **POINT}).text)
    service.transition(session, actor=actor_of(session, people["users"]["qianxiao"]), code=code,
                       name="on_the_spot", result="已清运")
    session.commit()
    csrf = page_value(client.get("/track").text, "csrf_token")
    for bad in ("0", "6", "x", ""):
        r = client.post("/track/rate", data={"csrf_token": csrf, "code": code, "secret": secret, "rating": bad})
        assert r.status_code == 422 and "1–5" in r.text, bad


def test_guessing_secrets_is_stopped_after_twenty_misses(client, session, people):
    code, secret = shown_ticket(resident_report(client, {"text": "村口垃圾堆了三天没人清理", "village": VILLAGE}).text)
    for i in range(throttle.limit("track").uses):
        assert track(client, code, f"GUESS{i}").status_code == 404
    blocked = track(client, code, secret)
    assert blocked.status_code == 429 and "查询过于频繁" in blocked.text


# -- village QR codes --------------------------------------------------------------------------


def read_modules(png: bytes, url: str) -> list[list[bool]]:
    """The dark modules of the PNG, sampled where the generator put them."""
    image = Image.open(io.BytesIO(png)).convert("L")
    size = qr_code(url).symbol_size(scale=1, border=0)[0]
    side = image.width
    scale = side // (size + 8)
    offset = (side - (size + 8) * scale) // 2 + 4 * scale
    return [[image.getpixel((offset + x * scale + scale // 2, offset + y * scale + scale // 2)) < 128
             for x in range(size)] for y in range(size)]


def test_a_village_qr_code_opens_the_report_form_for_that_village(client, people):
    r = client.get(f"/report/qr/{VILLAGE}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert image.width == 600 and image.height >= 600
    url = f"http://testserver/report?village={VILLAGE}"
    expected = [[bool(v) for v in row] for row in qr_code(url).matrix]
    assert read_modules(r.content, url) == expected
    try:
        import zxingcpp
    except ImportError:
        return
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [url]


def test_qr_codes_exist_only_for_villages(client, people):
    assert client.get("/report/qr/330203101201001.png").status_code == 404  # a grid
    assert client.get("/report/qr/999999999999.png").status_code == 404
    assert client.get("/report/qr/abc.png").status_code == 404


def test_the_printable_poster_is_for_signed_in_staff(client, people):
    assert client.get(f"/report/qr/{VILLAGE}", follow_redirects=False).status_code == 303
    login(client, "wangfang")
    poster = client.get(f"/report/qr/{VILLAGE}")
    assert poster.status_code == 200 and f"/report/qr/{VILLAGE}.png" in poster.text and "1村" in poster.text


def test_a_qr_code_of_a_village_that_is_gone_lets_the_resident_choose(client, people):
    page = client.get("/report?village=330203101299")
    assert page.status_code == 200 and "二维码中的村（社区）已不存在" in page.text and "已按二维码选定" not in page.text


def test_a_grid_worker_verifies_a_handled_event_from_the_task_list(client, session, people):
    """Resolved events in the worker's grid wait on /m/tasks for the on-the-spot check."""
    from builders import make_event

    from shanzhi.events import service

    admin = actor_of(session, make_user(session, username="boss", role="admin", scope="330203"))
    code = make_event(session).event.code
    for step, inputs in (("accept", {}), ("dispatch", {}), ("resolve", {"result": "已清运垃圾并冲洗路面"})):
        service.transition(session, actor=admin, code=code, name=step, **inputs)
    session.commit()
    login(client, "qianxiao")
    page = client.get("/m/tasks").text
    assert f"/m/tasks/{code}/verify" in page and "已清运垃圾并冲洗路面" in page
    form = page[page.index(f"/m/tasks/{code}/verify"):]
    r = client.post(f"/m/tasks/{code}/verify", data={"csrf_token": page_value(form, "csrf_token"),
                                                     "version": page_value(form, "version")}, follow_redirects=False)
    assert r.status_code == 303
    assert service.get_event(session, actor=admin, code=code).status == "verified"
    login(client, "sunli")  # the next grid: not his to verify
    assert f"/m/tasks/{code}/verify" not in client.get("/m/tasks").text


def test_a_phone_lists_the_hundred_nearest_deadlines_and_says_there_are_more(client, session, people):
    codes = [make_event(session, text=f"第{i}处垃圾堆放，影响通行", lon=float(POINT["lon"]),
                        lat=float(POINT["lat"])).event.code
             for i in range(mobile_pages.LIST_SIZE + 1)]
    session.commit()
    login(client, "qianxiao")
    page = client.get("/m/tasks").text
    listed = re.findall(r'id="task-([^"]+)"', page)
    # None is accepted yet, so no clock runs: the oldest reports come first and the newest waits.
    assert listed == codes[:mobile_pages.LIST_SIZE]
    assert f"仅列出期限最近的 {mobile_pages.LIST_SIZE} 件" in page
