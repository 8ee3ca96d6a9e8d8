"""The organization layers of /map and the village page in a real headless Chromium, on the
village world of test_org_layers: the layers switch on and draw, a village of the 联建覆盖 layer
leads to its page, and the page shows alliances, pairings, needs with their explained proposals,
projects and grid people — and a coordinator confirms a match there."""

from __future__ import annotations

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
from builders import lattice_tree
from orgs.orgs_world import TOWN1, V1, V2, make_org
from test_org_layers import (
    TOWN_ALLIANCE,
    VILLAGE_ALLIANCE,
    VillageWorld,
    build_village_world,
)

from shanzhi.db import make_engine, session_scope

VILLAGE_NAME = "1011村"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[str, VillageWorld]:
    require_browser()
    tmp = tmp_path_factory.mktemp("village")
    with live_server(tmp, lattice_tree(), (("wangfang", "dispatcher", TOWN1),)) as url:
        engine = make_engine(f"sqlite:///{tmp / 'live.db'}")
        with session_scope(engine) as session:
            make_org(session, "HS-RMYY", "public_institution", name="海曙区人民医院1村分院", region=V1)
            built = build_village_world(session)
        engine.dispose()
        yield url, built


def ready(page, key: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(f".layer-row[data-layer={key}][data-state=ready]")


def test_the_map_draws_the_organization_layers_and_a_village_leads_to_its_page(site):
    base_url, vw = site
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        seen = watch(page, base_url)
        sign_in(page, base_url, "wangfang")
        page.wait_for_function(f"document.body.dataset.selected === '{TOWN1}'")
        page.wait_for_selector(".layer-row[data-layer=resources]")
        labels = {r.get_attribute("data-layer"): r.locator(".layer-label").inner_text()
                  for r in page.locator(".layer-row").all()}
        assert {k: labels[k] for k in ("orgs", "alliances", "needs", "resources")} == {
            "orgs": "组织", "alliances": "联建覆盖", "needs": "需求", "resources": "资源"}
        page.uncheck("input[data-layer=events]")

        # 联建覆盖: the two villages of 第1镇 in the town alliance's colour, its name in the legend.
        page.check("input[data-layer=alliances]")
        ready(page, "alliances")
        assert page.locator("path.layer-alliances").count() == 2
        legend = page.locator(".layer-row[data-layer=alliances] .legend li").all_inner_texts()
        assert legend == [TOWN_ALLIANCE]
        assert "联建覆盖 2 个" in page.inner_text(".layer-row[data-layer=alliances] .layer-note")
        fills = set(page.evaluate("[...document.querySelectorAll('path.layer-alliances')]"
                                  ".map((p) => p.getAttribute('fill'))"))
        assert len(fills) == 1  # one alliance, one colour

        # A click on a village selects it in the drill-down and opens its popup with the page link.
        shape = page.locator("path.layer-alliances").first.bounding_box()
        page.mouse.click(shape["x"] + shape["width"] * 0.3, shape["y"] + shape["height"] * 0.7)
        page.wait_for_function("document.body.dataset.selected.length === 12")
        popup = page.locator(".leaflet-popup .layer-popup")
        popup.wait_for()
        chosen = page.evaluate("document.body.dataset.selected")
        assert popup.locator("strong").inner_text() == page.inner_text("#region-name")
        assert TOWN_ALLIANCE in popup.locator("dd").first.inner_text()
        assert popup.locator("a").get_attribute("href") == f"/villages/{chosen}"

        # The point layers, drawn over the selected village; the popup stays open.
        for key in ("needs", "resources", "orgs"):
            page.check(f"input[data-layer={key}]")
        for key in ("needs", "resources", "orgs"):
            ready(page, key)
        if chosen == V1:
            assert page.locator("path.layer-needs").count() >= 1
        assert page.locator("path.layer-orgs").count() >= 4
        assert page.locator("path.layer-resources").count() >= 1
        page.wait_for_timeout(400)  # the popup fades in
        assert popup.is_visible()
        page.screenshot(path=str(ARTIFACTS / "map-alliances-village.png"))

        # The needs layer rings the need left unmatched for 20 days (in 2村).
        page.click("#crumbs a[data-code='330203101']")
        page.wait_for_function(f"document.body.dataset.selected === '{TOWN1}'")
        page.wait_for_function("document.querySelectorAll('path.layer-needs').length === 2")
        ringed = page.locator("path.layer-needs[stroke='#212121']")
        assert ringed.count() == 1
        assert "其中 1 项久未对接" in page.inner_text(".layer-row[data-layer=needs] .layer-note")
        ringed.click(force=True)
        need_popup = page.locator(".leaflet-popup .layer-popup", has_text="返乡青年就业")  # the last fades out
        need_popup.wait_for()
        assert need_popup.locator("dd").first.inner_text() == vw.jobs_need
        assert need_popup.locator("a").get_attribute("href") == f"/villages/{V2}#{vw.jobs_need}"
        page.wait_for_timeout(600)  # the popup pans itself into view and the layers follow: it stays
        assert need_popup.is_visible()
        page.screenshot(path=str(ARTIFACTS / "map-alliances.png"))
        page.uncheck("input[data-layer=needs]")  # its popup goes with the layer
        page.wait_for_selector(".leaflet-popup", state="detached")

        page.goto(f"{base_url}/villages/{chosen}")
        page.wait_for_selector("#village-name")
        assert seen == CLEAN


def test_the_village_page_shows_its_alliances_pairings_needs_projects_and_people_and_confirms_a_match(site):
    base_url, vw = site
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(height=1000) as page:
        seen = watch(page, base_url)
        sign_in(page, base_url, "wangfang", then=f"/villages/{V1}")
        assert page.inner_text("#village-name").startswith(VILLAGE_NAME)
        kpis = dict(zip(page.locator("#kpis li span").all_inner_texts(), page.locator("#kpis li strong").all_inner_texts()))
        assert (kpis["党建联建"], kpis["联建成员单位"], kpis["结对单位"], kpis["待对接需求"], kpis["在办项目"]) == (
            "2", "3", "1", "1", "1")

        alliances = page.locator("#alliances .alliance")
        assert alliances.locator("h3").all_inner_texts() == [TOWN_ALLIANCE, VILLAGE_ALLIANCE]
        assert alliances.first.locator(".lead").inner_text() == "中共第1镇委员会"
        assert alliances.first.locator("table.members tbody tr").count() == 3
        assert "陈立新（新乡贤）" in page.inner_text("#pairings")

        need = page.locator(f"#needs .need[data-need='{vw.medical_need}']")
        assert need.locator("h3").inner_text() == "留守老人慢病随访"
        assert need.locator(".badge.urg-urgent").inner_text() == "紧急"
        first = need.locator(".proposal").first
        assert first.get_attribute("data-resource") == vw.clinic
        assert first.locator("input[type=radio]").is_checked()
        first.locator("details.why summary").click()
        factors = first.locator(".factors li .f-label").all_inner_texts()
        assert factors == ["类型匹配", "距离", "剩余容量", "联建覆盖", "以往成效"]
        assert "属覆盖1011村的联建/结对" in first.locator(".factors").inner_text()

        project = page.locator(f"#projects tr[data-project='{vw.project}']")
        assert "文化礼堂修缮" in project.inner_text() and "60%" in project.inner_text()
        assert project.locator(".badge").inner_text() == "实施中"

        grid = page.locator("#grid-people")
        assert "1 个无网格长" in grid.inner_text() and "130****7016" in grid.inner_text()
        assert "13000007016" not in page.content()
        for name in ("袁磊", "徐平", "戴国芳"):
            assert name in grid.inner_text()
        assert "上级派驻" in grid.inner_text()  # the town's mediator serves the village from above
        page.screenshot(path=str(ARTIFACTS / "village.png"), full_page=True)

        # A coordinator confirms the best proposal: a project is created and the need leaves the list.
        need.locator("input[name=owner_name]").fill("王主任")
        need.locator("button[type=submit]").click()
        page.wait_for_url(f"**/villages/{V1}?done=matched*")
        assert "已确认对接" in page.inner_text(".notice")
        assert page.locator(f"#needs .need[data-need='{vw.medical_need}']").count() == 0
        made = page.locator("#projects tr", has_text="留守老人慢病随访")
        assert made.count() == 1 and "海曙区人民医院1村分院" in made.inner_text() and "王主任" in made.inner_text()
        assert made.locator(".badge").inner_text() == "已立项"
        assert seen == CLEAN


def test_the_village_page_fits_a_phone(site):
    base_url, _ = site
    with chromium_page(width=360, height=780) as page:
        sign_in(page, base_url, "wangfang", then=f"/villages/{V2}")
        assert page.inner_text("#village-name").startswith("1012村")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / "village-phone.png"), full_page=True)
