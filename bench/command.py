"""First render of the command center on the demo district, in headless Chromium.

    python bench/command.py [--demo-dir DIR] [--visits 4]

Serves the demo district (built in a temporary folder unless --demo-dir names a data folder that
holds one) with `shanzhi serve`, signs in as the district leader, a town dispatcher and a village
cadre, then opens /command `visits` times more each; the leader's first visit meets cold server caches
and an empty browser cache.
The page marks itself drawn: body[data-ready] holds the milliseconds from navigation start until
its charts, region layer and events are on screen. Baseline, in the same browser and run: the
sign-in page (navigation start → load event), the least the server and browser can do for a page.
Needs Debian's /usr/bin/chromium. Last line:
`command_cold_ms=… leader_ms=… dispatcher_ms=… cadre_ms=… login_ms=… leader_ratio=…`
(medians of the warm visits).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
from _server import HOST, Server, build_demo, free_port  # noqa: E402

PASSWORD = "shanzhi-demo-2026"  # the demo's accounts (README: Demo logins)
USERS = ("leader", "dispatcher", "cadre")  # district, town, village


def first_render_ms(page: Page, url: str) -> int:
    page.goto(url)
    page.wait_for_selector("body[data-ready]", timeout=60_000)
    return int(page.get_attribute("body", "data-ready") or 0)


def login_ms(page: Page, base: str) -> float:
    page.goto(f"{base}/login")
    return float(page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                               " return n.loadEventEnd - n.startTime; }"))


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login?next=/command")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/command*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", help="a data folder where `shanzhi demo` has run")
    parser.add_argument("--visits", type=int, default=4)
    args = parser.parse_args()
    folder = args.demo_dir or build_demo("command")
    port = free_port()
    base = f"http://{HOST}:{port}"
    argv = [sys.executable, "-m", "shanzhi.cli", "serve", "--host", HOST, "--port", str(port)]
    os.environ["SHANZHI_DATA_DIR"] = folder
    with Server(argv, port, log=os.path.join(folder, "bench-serve.log")), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        warm: dict[str, list[int]] = {}
        cold = 0
        for user in USERS:
            page = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN").new_page()
            sign_in(page, base, user)  # lands on /command: a first visit, static files not yet cached
            page.wait_for_selector("body[data-ready]", timeout=60_000)
            first = int(page.get_attribute("body", "data-ready") or 0)
            cold = cold or first  # the leader's: cold server caches too
            warm[user] = [first_render_ms(page, f"{base}/command") for _ in range(args.visits)]
            print(f"{user}: /command drawn in {first} ms on the first visit, then "
                  f"{', '.join(f'{t} ms' for t in warm[user])}", flush=True)
            page.context.close()
        page = browser.new_context(locale="zh-CN").new_page()
        base_ms = statistics.median(login_ms(page, base) for _ in range(args.visits))
        browser.close()
    med = {u: statistics.median(t) for u, t in warm.items()}
    print(f"baseline: /login loaded in {base_ms:.0f} ms (median)")
    print(f"command_cold_ms={cold} " + " ".join(f"{u}_ms={med[u]:.0f}" for u in USERS) +
          f" login_ms={base_ms:.0f} leader_ratio={med['leader'] / base_ms:.1f}")


if __name__ == "__main__":
    main()
