"""/map in a real headless Chromium: the district draws, drill-down works, layers switch on and
off and follow the view, nothing leaves the origin."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
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
from builders import actor_of, make_event, make_units, voronoi_tree
from sqlalchemy import select

from shanzhi.accounts.models import User
from shanzhi.db import make_engine, session_scope, utcnow
from shanzhi.errors import NotFound
from shanzhi.events.service import transition
from shanzhi.geo import service as geo
from shanzhi.web import layers


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    require_browser()
    with live_server(tmp_path_factory.mktemp("live"), voronoi_tree(), (("mapper", "dispatcher", "330299"),)) as url:
        yield url


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
        assert seen == CLEAN


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


# -- layers ------------------------------------------------------------------------------------

EVENTS = 130


def seed_events(db: Path) -> None:
    """EVENTS reports at random places of the district, a third of them accepted at various past
    moments so that the map shows every deadline colour."""
    engine = make_engine(f"sqlite:///{db}")
    rng = np.random.default_rng(11)
    with session_scope(engine) as session:
        make_units(session, voronoi_tree())
        dispatcher = actor_of(session, session.scalar(select(User).where(User.username == "mapper")))
        made = 0
        while made < EVENTS:
            lon, lat = rng.uniform(121.27, 121.58), rng.uniform(29.77, 29.93)
            try:
                geo.locate(session, lon=lon, lat=lat)
            except NotFound:
                continue  # outside the district's irregular outline
            event = make_event(session, lon=lon, lat=lat).event
            if made % 3 == 0:
                ago = timedelta(hours=float(rng.choice([0.5, 5, 30, 300])))
                transition(session, actor=dispatcher, code=event.code, name="accept", now=utcnow() - ago)
            made += 1
    engine.dispose()


@pytest.fixture(scope="module")
def layered_url(tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("layers")
    with live_server(tmp, voronoi_tree(), (("mapper", "dispatcher", "330299"),)) as url:
        seed_events(tmp / "live.db")
        yield url


def rows(page) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    return {r.get_attribute("data-layer"): r.locator("input").is_checked()
            for r in page.locator(".layer-row").all()}


def ready(page, key: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(f".layer-row[data-layer={key}][data-state=ready]")


def drawn(page, key: str) -> tuple[list[int], int]:  # type: ignore[no-untyped-def]
    """The cluster counts and single points of a layer, read in one go (a reload may land between
    two separate reads)."""
    return tuple(page.evaluate("""(key) => [
        [...document.querySelectorAll('.layer-cluster.layer-' + key)].map((e) => Number(e.textContent)),
        document.querySelectorAll('path.layer-' + key).length]""", key))


def test_layers_switch_on_and_off_and_follow_the_view(layered_url):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        seen = watch(page, layered_url)
        sign_in(page, layered_url, "mapper")
        page.wait_for_function("document.body.dataset.selected === '330299'")
        # The switcher is built from /api/v1/map/layers: labels, default choices, legends.
        page.wait_for_selector(".layer-row[data-layer=heat]")
        assert {k: rows(page)[k] for k in ("regions", "events", "heat")} == {"regions": False, "events": True, "heat": False}
        assert page.inner_text(".layer-row[data-layer=events] .layer-label") == "待办事件"
        assert page.locator(".layer-row[data-layer=events] .legend li").all_inner_texts() == [
            "待受理", "办理中", "临期（黄灯）", "超期（红灯）"]
        assert page.locator(".layer-row[data-layer=heat] .legend").is_hidden()

        # The whole district at once: open events come as numbered clusters that add up.
        ready(page, "events")
        page.wait_for_function(f"document.querySelector('.layer-row[data-layer=events] .layer-note')"
                               f".textContent.includes('视野内 {EVENTS} 件')")
        clusters, points = drawn(page, "events")
        assert clusters and sum(clusters) + points == EVENTS

        page.check("input[data-layer=heat]")
        page.check("input[data-layer=regions]")
        ready(page, "heat")
        ready(page, "regions")
        painted = page.evaluate("""() => {
            const c = document.querySelector('canvas.leaflet-heatmap-layer');
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
            return n; }""")
        assert painted > 1000  # the heat really drew, not just an empty canvas
        assert page.locator("path.layer-regions").count() >= 60  # villages at this zoom
        assert page.locator(".layer-row[data-layer=heat] .legend-ramp").is_visible()
        page.screenshot(path=str(ARTIFACTS / "map-layers.png"))

        page.uncheck("input[data-layer=events]")
        assert page.locator(".layer-events").count() == 0
        assert page.get_attribute(".layer-row[data-layer=events]", "data-state") == "off"
        page.uncheck("input[data-layer=heat]")
        assert page.locator("canvas.leaflet-heatmap-layer").count() == 0
        page.check("input[data-layer=events]")
        ready(page, "events")

        # Clicking a cluster zooms in on it; the layers reload for the new view, and from
        # street level single events come back, each with its popup.
        for _ in range(3):
            clusters = page.locator(".layer-cluster.layer-events")
            if not clusters.count():
                break
            sizes = [int(t) for t in clusters.all_inner_texts()]
            before = page.locator(".layer-row[data-layer=regions] .layer-note").inner_text()
            clusters.nth(sizes.index(max(sizes))).click()
            page.wait_for_function(
                "([before]) => document.querySelector('.layer-row[data-layer=regions] .layer-note')"
                ".textContent !== before", arg=[before])
            ready(page, "events")
        assert page.locator(".layer-cluster.layer-events").count() == 0
        assert page.locator("path.layer-events").count() > 0
        page.locator("path.layer-events").first.click(force=True)
        popup = page.locator(".leaflet-popup .layer-popup")
        popup.wait_for()
        assert popup.locator("dt").first.inner_text() == "编号"
        code = popup.locator("dd").first.inner_text()
        assert popup.locator("a").get_attribute("href") == f"/events/{code}"
        page.wait_for_timeout(400)  # the popup fades in and pans into view
        page.screenshot(path=str(ARTIFACTS / "map-layers-street.png"))

        # The choice of layers is remembered for the next visit.
        page.reload()
        page.wait_for_selector(".layer-row[data-layer=heat]")
        assert {k: rows(page)[k] for k in ("regions", "events", "heat")} == {"regions": True, "events": True, "heat": False}
        ready(page, "events")
        assert seen == CLEAN


def test_a_layer_registered_on_the_server_appears_without_any_page_change(layered_url, monkeypatch):
    # One function and one entry on the server; no JS or template knows this layer.
    monkeypatch.setattr(layers, "LAYERS", dict(layers.LAYERS))

    @layers.layer("villages", "村社人口", kind="choropleth", action="region.read",
                  legend=(layers.LegendItem("村社", "#8e24aa"),))
    def villages(session, *, actor, bbox, zoom, params):
        fc = geo.region_features(session, code="330299101", children=True)
        for f in fc["features"]:
            f["properties"] |= {"color": "#8e24aa", "tooltip": f["properties"]["name"]}
        return fc

    with chromium_page() as page:
        seen = watch(page, layered_url)
        sign_in(page, layered_url, "mapper")
        page.wait_for_selector(".layer-row[data-layer=villages]")
        assert page.inner_text(".layer-row[data-layer=villages] .layer-label") == "村社人口"
        page.check("input[data-layer=villages]")
        ready(page, "villages")
        shapes = page.locator("path.layer-villages")
        assert shapes.count() == 12
        # A choropleth region is a way into the drill-down, like the map's own shapes.
        box = shapes.first.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function("document.body.dataset.selected.length === 12")
        assert page.inner_text("#region-name").startswith("村1-")
        assert seen == CLEAN
