"""/map in a real headless Chromium: the district draws, drill-down works, nothing leaves the origin."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from browser import ARTIFACTS, chromium_page, live_server, require_browser, sign_in
from builders import voronoi_tree


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    require_browser()
    with live_server(tmp_path_factory.mktemp("live"), voronoi_tree(), (("mapper", "dispatcher", "330299"),)) as url:
        yield url


def watch(page, base_url: str) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"foreign": [], "errors": [], "failed": []}
    origin = urlparse(base_url).netloc
    page.on("request", lambda r: urlparse(r.url).netloc not in (origin, "") and seen["foreign"].append(r.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on("response", lambda r: r.status >= 400 and seen["failed"].append(f"{r.status} {r.url}"))
    return seen


def test_the_map_shows_the_district_and_drills_down_to_villages(base_url):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        seen = watch(page, base_url)
        sign_in(page, base_url, "mapper")
        page.wait_for_function("document.body.dataset.selected === '330299'")
        assert page.inner_text("#region-name") == "多边形区"
        assert page.locator(".leaflet-overlay-pane path").count() >= 6  # towns + outline
        assert page.locator(".region-label", has_text="镇1").count() == 1
        assert "下辖镇/街道/乡" in page.inner_text("#info")
        page.screenshot(path=str(ARTIFACTS / "map-district.png"))

        page.click("#children a[data-code='330299101']")
        page.wait_for_function("document.body.dataset.selected === '330299101'")
        assert page.inner_text("#crumbs").replace("\n", "") == "多边形区›镇1"
        assert page.locator("#children li").count() >= 5
        village = page.locator("#children a").first.get_attribute("data-code")

        # Clicking the middle of the map locates that point and shows its chain with codes.
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("#clicked-chain li")
        chain = page.inner_text("#clicked-chain")
        assert "多边形区" in chain and "330299101" in chain
        page.wait_for_function("document.body.dataset.selected.length === 12")
        page.screenshot(path=str(ARTIFACTS / "map-town.png"))

        page.click("#crumbs a[data-code='330299']")
        page.wait_for_function("document.body.dataset.selected === '330299'")
        assert village.startswith("330299101")
        assert seen == {"foreign": [], "errors": [], "failed": []}


def test_a_leaf_region_is_shown_among_its_siblings(base_url):
    with chromium_page() as page:
        sign_in(page, base_url, "mapper")
        page.goto(base_url + "/map#330299106")  # the town without villages
        page.wait_for_function("document.body.dataset.selected === '330299106'")
        assert page.locator("#children li.current").inner_text().startswith("镇6")
        assert page.inner_text("#children-title") == "同级区域"


def test_the_map_page_fits_a_phone_screen(base_url):
    with chromium_page(width=360, height=740) as page:
        sign_in(page, base_url, "mapper")
        page.wait_for_function("document.body.dataset.selected === '330299'")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
        page.screenshot(path=str(ARTIFACTS / "map-phone.png"))


def test_the_map_opens_on_the_users_own_scope(tmp_path):
    require_browser()
    people = (("towner", "dispatcher", "330299102"),)
    with live_server(tmp_path, voronoi_tree(), people) as url, chromium_page() as page:
        sign_in(page, url, "towner")
        page.wait_for_function("document.body.dataset.selected === '330299102'")
        assert page.inner_text("#crumbs").replace("\n", "") == "多边形区›镇2"
