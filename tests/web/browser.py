"""A live server and a headless Chromium for page tests (Debian's /usr/bin/chromium)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
def chromium_page(width: int = 1400, height: int = 900) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            yield page
        finally:
            browser.close()


def sign_in(page, base_url: str, username: str, password: str = PASSWORD, then: str = "/map") -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form, as a person would."""
    page.goto(f"{base_url}/login?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{then}*")
