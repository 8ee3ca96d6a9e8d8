"""The housing pages in a real headless Chromium: on a 360-px phone, 钱晓 (a grid worker) finds a
building by address and near her, registers a tenant, renews the tenancy and records an
inspection with a photo; the town's duty chief 李强 reveals a tenant's full ID number, giving a
reason; on /map, the village cadre 吴刚 sees the rental buildings and the population density.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from browser import (
    ARTIFACTS,
    CLEAN,
    chromium,
    chromium_page,
    fits_the_screen,
    live_server,
    phone_context,
    require_browser,
    sign_in,
    snap,
    watch,
)
from builders import actor_of, lattice_tree
from housing.housing_helpers import IN_MG1, make_id
from PIL import Image, ImageDraw
from sqlalchemy import select
from test_housing_pages import make_building

from shanzhi.accounts.models import User
from shanzhi.db import make_engine, session_scope
from shanzhi.housing import inspections, registrations
from shanzhi.housing.dates import today_local
from shanzhi.housing.models import Unit
from shanzhi.housing.people import PersonInput

GRID = "330203101201001"  # micro-grids MG1 and MG2: 121.30–121.35 × 29.80–29.85
VILLAGE = "330203101201"
TOWN = "330203101"
BUILDINGS = 24
LODGER = make_id(60)  # 赵雪, living in 河东路 12 号 room 201 from the start


def seed_housing(db: Path) -> None:
    """The building of the story (河东路 12 号, at IN_MG1, empty) and BUILDINGS more across the grid,
    most with tenants, a few with an open finding, so the map shows every colour and some heat."""
    engine = make_engine(f"sqlite:///{db}")
    rng = np.random.default_rng(8)
    with session_scope(engine) as session:
        worker = actor_of(session, session.scalar(select(User).where(User.username == "qianxiao")))
        story = make_building(session, worker)
        room = session.scalar(select(Unit).where(Unit.building_id == story.id, Unit.number == "201"))
        registrations.register(session, actor=worker, unit_id=room.id, start_date=today_local(),
                               person=PersonInput("赵雪", LODGER, "13805740060"))
        seq = 100
        for n in range(BUILDINGS):
            lon, lat = rng.uniform(121.302, 121.348), rng.uniform(29.802, 29.848)
            building = make_building(session, worker, (lon, lat), f"藕缆桥村新村 {n + 1} 号")
            units = list(session.scalars(select(Unit).where(Unit.building_id == building.id).order_by(Unit.number)))
            for unit in units[: int(rng.integers(0, 4))]:
                for _ in range(int(rng.integers(1, 4))):
                    seq += 1
                    registrations.register(session, actor=worker, unit_id=unit.id, start_date=registrations.today_local(),
                                           person=PersonInput(f"租客{seq}", make_id(seq), f"1380574{seq:04d}"))
            if n % 6 == 0:
                inspections.record_inspection(session, actor=worker, building_id=building.id,
                                              answers={"gas": inspections.Answer(False, "钢瓶过期")})
    engine.dispose()


@pytest.fixture(scope="module")
def housing_url(tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("housing")
    people = (("qianxiao", "grid_worker", GRID), ("wugang", "village_cadre", VILLAGE),
              ("liqiang", "duty_chief", TOWN))
    with live_server(tmp, lattice_tree(), people) as url:
        seed_housing(tmp / "live.db")
        yield url


def photo() -> bytes:
    """Something like a phone photo of a stairwell: a wall, a step, a doorway."""
    picture = Image.new("RGB", (640, 480), "#d7ccc8")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 330, 640, 480), fill="#8d6e63")
    draw.rectangle((380, 90, 520, 330), fill="#455a64")
    draw.rectangle((60, 250, 300, 330), fill="#ff7043")
    out = io.BytesIO()
    picture.save(out, "JPEG")
    return out.getvalue()


def open_building(page, base_url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, base_url, username, then="/m/housing")
    page.fill("input[name=q]", "河东路 12")
    page.click("form.h-search button[type=submit]")
    page.wait_for_url("**/m/housing?q=*")
    page.click("#buildings a:has-text('藕缆桥村河东路 12 号')")
    page.wait_for_url("**/m/housing/buildings/*")


def test_a_grid_worker_registers_a_tenant_and_records_an_inspection_on_her_phone(housing_url):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = phone_context(browser, geolocation={"longitude": IN_MG1[0], "latitude": IN_MG1[1]}).new_page()
        seen = watch(page, housing_url, expected=("/tenancies",))  # the typo below is refused: a 422
        sign_in(page, housing_url, "qianxiao", then="/m/housing")

        # Near me: the phone's position finds the building a few steps away.
        page.click("#near-me")
        page.wait_for_url("**/m/housing?near=*")
        assert "藕缆桥村河东路 12 号" in page.inner_text("#buildings")
        # By address, as typed.
        page.fill("input[name=q]", "河东路 12")
        page.click("form.h-search button[type=submit]")
        page.wait_for_url("**/m/housing?q=*")
        page.click("#buildings a:has-text('藕缆桥村河东路 12 号')")
        page.wait_for_url("**/m/housing/buildings/*")
        fits_the_screen(page)

        # A typo in the ID number: told next to the field, and nothing typed is lost.
        page.click("#register summary")
        page.select_option("#register select[name=unit_id]", index=0)  # 101
        page.fill("#register input[name=name]", "李明华")
        assert page.input_value("#register select[name=id_type]") == "resident_id"  # 居民身份证 unless changed
        good = make_id(7)
        page.fill("#register input[name=id_number]", good[:-1] + ("0" if good[-1] != "0" else "1"))
        page.fill("#register input[name=phone]", "13805740007")
        page.click("#register button[type=submit]")
        error = page.locator("[data-error-for=id_number]")
        error.wait_for()
        assert "校验" in error.inner_text()
        assert page.input_value("#register input[name=name]") == "李明华"
        page.fill("#register input[name=id_number]", good)
        page.click("#register button[type=submit]")
        page.wait_for_selector("#notice")
        tenant = page.locator(".h-tenant", has_text="李明华")
        assert tenant.locator("[data-field=id_number]").inner_text() == f"{good[:4]}**********{good[-4:]}"
        assert tenant.locator("[data-field=phone]").inner_text() == "138****0007"
        assert tenant.locator("[data-field=id_type]").inner_text() == "居民身份证"
        assert good not in page.content()
        assert tenant.locator("summary", has_text="查看完整信息").count() == 0  # hers to register, not to reveal

        # The tenancy is renewed for a year.
        tenant.locator("summary", has_text="续期").click()
        until = (today_local() + timedelta(days=365)).isoformat()
        tenant.locator("input[name=end_date]").fill(until)
        fits_the_screen(page)
        snap(page, "m-housing-renew.png")
        tenant.locator("button", has_text="确认续期").click()
        page.wait_for_selector("#notice:has-text('租住已续期')")
        assert f"至 {until}" in page.locator(".h-tenant", has_text="李明华").inner_text()

        # An inspection of the whole building: one item fails, with a note.
        page.click("#inspect summary")
        assert page.locator(".h-item[data-places='unit']").is_hidden()  # overcrowding: rooms only
        item = page.locator(".h-item", has_text="电动车规范停放充电")
        item.locator("text=不合格").click()
        item.locator("input.h-note").fill("一楼楼道飞线充电")
        # A photo from the camera: previewed before it is sent.
        page.set_input_files("#inspect input[name=photos]",
                             files=[{"name": "stairs.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
        assert page.locator("#inspect .h-thumbs img").count() == 1
        assert "已选 1 张" in page.inner_text("#inspect [data-photos-label]")
        page.click("#inspect button[type=submit]")
        page.wait_for_selector("#notice:has-text('检查记录已保存')")
        finding = page.locator(".h-finding", has_text="电动车规范停放充电")
        assert "整改期限" in finding.inner_text() and "一楼楼道飞线充电" in finding.inner_text()
        # The recorded inspection shows its photo, fetched through the authorised photo route.
        shot = page.locator("#inspections .h-shots img")
        assert shot.count() == 1
        shot.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shot.element_handle())
        fits_the_screen(page)
        snap(page, "m-housing.png")

        # One tap makes it an event.
        finding.locator("button:has-text('转为事件')").click()
        page.wait_for_selector("#notice:has-text('已转为事件')")
        assert "已转事件" in page.locator(".h-finding", has_text="电动车规范停放充电").inner_text()
        assert seen == CLEAN


def test_a_duty_chief_reveals_a_tenants_id_number_giving_a_reason(housing_url):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = phone_context(browser).new_page()
        seen = watch(page, housing_url)
        open_building(page, housing_url, "liqiang")
        tenant = page.locator(".h-tenant", has_text="赵雪")
        assert tenant.locator("[data-field=id_number]").inner_text() == f"{LODGER[:4]}**********{LODGER[-4:]}"
        reveal = tenant.locator("details", has_text="查看完整信息")
        reveal.locator("summary").click()
        reveal.locator("input[name=show_phone]").uncheck()  # only what is needed
        reveal.locator("input[name=reason]").fill("派出所协查核对身份")
        reveal.locator("button[type=submit]").click()
        page.wait_for_selector("[data-revealed]")
        tenant = page.locator(".h-tenant", has_text="赵雪")
        assert tenant.locator("[data-field=id_number]").inner_text() == LODGER
        assert tenant.locator("[data-field=phone]").inner_text() == "138****0060"
        fits_the_screen(page)
        snap(page, "m-housing-reveal.png")
        page.goto(page.url)  # opened again: the building page, masked again
        page.wait_for_url("**/m/housing/buildings/*")
        assert "/reveal" not in page.url and LODGER not in page.content()
        assert seen == CLEAN


def test_the_map_shows_rental_buildings_and_population_density(housing_url):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        seen = watch(page, housing_url)
        sign_in(page, housing_url, "wugang")
        page.wait_for_selector(".layer-row[data-layer=housing]")
        assert page.inner_text(".layer-row[data-layer=housing] .layer-label") == "出租房屋"
        assert page.inner_text(".layer-row[data-layer=density] .layer-label") == "人口密度"
        page.check("input[data-layer=housing]")
        page.check("input[data-layer=density]")
        page.wait_for_selector(".layer-row[data-layer=housing][data-state=ready]")
        page.wait_for_selector(".layer-row[data-layer=density][data-state=ready]")
        assert f"视野内 {BUILDINGS + 1} 栋房屋" in page.inner_text(".layer-row[data-layer=housing] .layer-note")
        assert page.locator("path.layer-housing").count() == BUILDINGS + 1
        painted = page.evaluate("""() => {
            const c = document.querySelector('canvas.leaflet-heatmap-layer');
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
            return n; }""")
        assert painted > 500
        page.screenshot(path=str(ARTIFACTS / "map-housing.png"))

        # A building's popup: counts only, and the way to its page (events off: the event the phone
        # test made sits on its building).
        page.uncheck("input[data-layer=events]")
        page.locator("path.layer-housing").first.click(force=True)
        popup = page.locator(".leaflet-popup .layer-popup")
        popup.wait_for()
        labels = popup.locator("dt").all_inner_texts()
        assert labels == ["编号", "用途", "房间", "出租", "登记住户", "待整改"]
        assert popup.locator("a").get_attribute("href").startswith("/m/housing/buildings/")
        assert seen == CLEAN
