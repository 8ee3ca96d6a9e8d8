"""A live server and a headless Chromium for page tests (Debian's /usr/bin/chromium)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn
from builders import PASSWORD, make_user

from shanzhi.app import create_app
from shanzhi.config import Settings
from shanzhi.db import make_engine, session_factory, session_scope
from shanzhi.geo.service import import_regions
from shanzhi.migrate import upgrade

CHROMIUM = os.environ.get("SHANZHI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def require_browser() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("SHANZHI_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing but SHANZHI_REQUIRE_BROWSER=1")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(tmp: Path, regions: dict, people: tuple[tuple[str, str, str], ...] = ()) -> Iterator[str]:
    """Serve a fresh SQLite database holding `regions` and `people` (username, role, scope code)
    on a free port; yield the base URL. Everyone's password is builders.PASSWORD."""
    engine = make_engine(f"sqlite:///{tmp / 'live.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        import_regions(session, data=regions)
        for username, role, scope in people:
            make_user(session, username=username, role=role, scope=scope)
    app = create_app(Settings(data_dir=tmp), sessions=session_factory(engine))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


@contextmanager
def chromium() -> Iterator:
    """Headless Chromium; each person in a test gets a context of their own (browser.new_context)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator:
    with chromium() as browser:
        yield browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")


def sign_in(page, base_url: str, username: str, password: str = PASSWORD, then: str = "/map") -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form, as a person would."""
    page.goto(f"{base_url}/login?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{then}*")


# -- phones ----------------------------------------------------------------------------------------

PHONE = {"width": 360, "height": 780}


def phone_context(browser, geolocation: dict | None = None):  # type: ignore[no-untyped-def]
    """A 360-px touch phone; `geolocation` given means its user let pages read the position."""
    return browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                               locale="zh-CN", geolocation=geolocation,
                               permissions=["geolocation"] if geolocation else [])


def snap(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A screenshot of a phone page, whole, as a tall phone shows it (a full-page capture would
    paint the fixed bars where the 780-px viewport ends), into ARTIFACTS."""
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": PHONE["width"], "height": max(PHONE["height"], height)})
    page.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(PHONE)


def fits_the_screen(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing is wider than the phone: no sideways scrolling."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


# -- what a clean page never does ------------------------------------------------------------------


def watch(page, base_url: str, *, expected: tuple[str, ...] = ()) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Record what a clean page never does: requests leaving the server's origin ("foreign"),
    uncaught errors and console errors ("errors"), and requests that fail or answer 400 or more
    ("failed"; the browser's own "Failed to load resource" console line is counted there, not
    twice). A URL containing one of `expected` may answer with an error: a test that provokes a
    refusal, or an endpoint the page copes without. Compare the result with CLEAN at the end."""
    seen: dict[str, list[str]] = {"foreign": [], "errors": [], "failed": []}
    origin = urlparse(base_url).netloc

    def tolerated(url: str) -> bool:
        return any(part in url for part in expected)

    page.on("request", lambda r: urlparse(r.url).netloc not in (origin, "") and seen["foreign"].append(r.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
            and seen["errors"].append(m.text))
    # A request cut off by leaving the page (a live feed's stream, say) has not failed.
    page.on("requestfailed", lambda r: not tolerated(r.url) and r.failure != "net::ERR_ABORTED"
            and seen["failed"].append(f"{r.failure} {r.url}"))
    page.on("response", lambda r: r.status >= 400 and not tolerated(r.url)
            and seen["failed"].append(f"{r.status} {r.url}"))
    return seen


CLEAN: dict[str, list[str]] = {"foreign": [], "errors": [], "failed": []}
