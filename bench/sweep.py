"""Benchmark: one worker sweep over a large table of open events, a realistic share of them due.

    python bench/sweep.py [--events 1000000] [--due 0.05] [--batch 500] [--pg URL] [--keep]

Builds a small district (4 towns × 8 villages, their units and the people the notification
policy names) and the events with bulk INSERTs, in a temporary SQLite file by default or in a
throwaway schema of the PostgreSQL database given with --pg. The events' clocks are spread
over the past twelve working days so that the share given by --due is due now: most of those
turn yellow, about a third turn red, one in twenty is escalated. Then it times one full sweep
(claim, mark, escalate, notify, commit per batch), a second sweep at the same moment (nothing
left to do: the idle cost every interval), and as a baseline a bare count of the due rows
over the same table and index.
The last line holds the figures: sweep_s=… due=… events=… baseline_s=… ratio=… …
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shapely.geometry import box, mapping
from sqlalchemy import Engine, create_engine, func, insert, select, text

from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.db import make_engine, session_factory, transaction
from shanzhi.events import deadlines, worker
from shanzhi.events.catalog import catalog
from shanzhi.events.models import OPEN_STATUSES, Event, EventStep, Notification
from shanzhi.events.policy import routing
from shanzhi.geo.models import Region
from shanzhi.geo.service import import_regions
from shanzhi.migrate import upgrade
from shanzhi.orgs.models import Organization

NOW = datetime(2026, 3, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
DISTRICT = "330203"
TOWNS, VILLAGES = 4, 8
CATEGORIES = ("0101", "0102", "0104", "0105")  # village tier: 8 h, 2 days, 4 h, 1 day
# Of the due events: what the sweep finds them ready for.
DUE_MIX = (("yellow", 0.60), ("red", 0.35), ("escalate", 0.05))
CHUNK = 20_000


def features() -> dict[str, Any]:
    x0, y0, x1, y1 = 121.30, 29.80, 121.50, 29.90
    feats = [{"type": "Feature", "geometry": mapping(box(x0, y0, x1, y1)),
              "properties": {"level": "district", "code": DISTRICT, "name": "基准区", "parent_code": None}}]
    w = (x1 - x0) / TOWNS
    for t in range(TOWNS):
        town = f"{DISTRICT}{101 + t:03d}"
        tx = x0 + t * w
        feats.append({"type": "Feature", "geometry": mapping(box(tx, y0, tx + w, y1)),
                      "properties": {"level": "town", "code": town, "name": f"第{t + 1}镇", "parent_code": DISTRICT}})
        h = (y1 - y0) / VILLAGES
        for v in range(VILLAGES):
            feats.append({"type": "Feature", "geometry": mapping(box(tx, y0 + v * h, tx + w, y0 + (v + 1) * h)),
                          "properties": {"level": "village", "code": f"{town}{201 + v:03d}",
                                         "name": f"{t + 1}镇{v + 1}村", "parent_code": town}})
    return {"type": "FeatureCollection", "features": feats}


def setup_district(engine: Engine) -> dict[str, dict[str, int]]:
    """Regions, units and people; returns {village code: {handler type: unit id}}."""
    with transaction(session_factory(engine)) as s:
        import_regions(s, data=features(), by="基准 bench")
        regions = {r.code: r for r in s.scalars(select(Region))}
        units: dict[str, dict[str, int]] = {}
        people = 0

        def person(role: str, region: Region, org: int | None = None) -> None:
            nonlocal people
            people += 1
            user = User(username=f"bench{people}", display_name=f"{role}{people}", password_hash="!",
                        home_region_id=region.id)
            s.add(user)
            s.flush()
            s.add(RoleAssignment(user_id=user.id, role=role, region_id=region.id, org_id=org))

        for code, region in regions.items():
            kinds = {"village": ("grid_team", "village_committee"), "town": ("town_office", "enforcement_team"),
                     "district": ("district_department",)}[region.level]
            ids = {}
            for kind in kinds:
                org = Organization(code=f"{kind}-{code}", name=f"{region.name}{kind}", kind=kind, region_id=region.id)
                s.add(org)
                s.flush()
                ids[kind] = org.id
            units[code] = ids
            if region.level == "village":
                person("handler", region, ids["grid_team"])
                person("handler", region, ids["village_committee"])
                person("village_cadre", region)
            else:
                person("dispatcher", region)
                person("duty_chief", region)
    print(f"district: {len(regions)} regions, {sum(len(u) for u in units.values())} units, {people} people")
    return units


def clock_pool(size: int, rng: random.Random) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per category, clocks started over the past twelve days, sorted by what is due at NOW."""
    cat = catalog()
    share = routing().deadlines.escalate_share
    pool: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for code in CATEGORIES:
        kinds: dict[str, list[dict[str, Any]]] = {"not_due": [], "yellow": [], "red": [], "escalate": []}
        for _ in range(size):
            start = NOW - timedelta(seconds=rng.uniform(0, 12 * 86400))
            e = Event(urgency="normal")
            deadlines.start_clock(e, cat.category(code), start)
            escalate_at = worker._share_moment(e, share)
            row = {"limit_amount": e.limit_amount, "limit_unit": e.limit_unit, "clock_started_at": start,
                   "yellow_at": e.yellow_at, "due_at": e.due_at, "accepted_at": start, "dispatched_at": start}
            if e.yellow_at > NOW:
                kinds["not_due"].append(row | {"deadline_state": "normal", "next_check_at": e.yellow_at})
            elif e.due_at >= NOW:
                kinds["yellow"].append(row | {"deadline_state": "normal", "next_check_at": e.yellow_at})
            elif escalate_at > NOW:
                kinds["red"].append(row | {"deadline_state": "yellow", "next_check_at": e.due_at})
            else:
                kinds["escalate"].append(row | {"deadline_state": "red", "next_check_at": escalate_at})
        # Not-due clocks are rare among uniform starts; add some that started minutes ago.
        while len(kinds["not_due"]) < 50:
            start = NOW - timedelta(minutes=rng.uniform(0, 60))
            e = Event(urgency="normal")
            deadlines.start_clock(e, cat.category(code), start)
            kinds["not_due"].append({"limit_amount": e.limit_amount, "limit_unit": e.limit_unit,
                                     "clock_started_at": start, "yellow_at": e.yellow_at, "due_at": e.due_at,
                                     "accepted_at": start, "dispatched_at": start, "deadline_state": "normal",
                                     "next_check_at": e.yellow_at})
        pool[code] = kinds
    return pool


def build_events(engine: Engine, n: int, due_share: float, units: dict[str, dict[str, int]], seed: int) -> int:
    rng = random.Random(seed)
    cat = catalog()
    pool = clock_pool(3000, rng)
    villages = sorted(code for code in units if len(code) == 12)
    mix_kinds = [k for k, _ in DUE_MIX]
    mix_weights = [w for _, w in DUE_MIX]
    due = 0
    started = time.perf_counter()
    with engine.connect() as conn:
        for first in range(0, n, CHUNK):
            rows = []
            for i in range(first, min(first + CHUNK, n)):
                code = CATEGORIES[i % len(CATEGORIES)]
                village = villages[rng.randrange(len(villages))]
                is_due = rng.random() < due_share
                kind = rng.choices(mix_kinds, mix_weights)[0] if is_due else "not_due"
                due += is_due
                clock = rng.choice(pool[code][kind] or pool[code]["not_due"])
                rows.append({
                    "code": f"HS-BN-{i:07d}", "tracking_hash": "0" * 64, "text": "基准测试事件：路边垃圾堆放",
                    "category_code": code, "category_source": "chosen", "urgency": "normal", "channel": "resident",
                    "region_code": village, "town_code": village[:9], "village_code": village,
                    "status": "in_progress" if i % 3 else "dispatched", "tier": "village",
                    "assigned_org_id": units[village][cat.category(code).handler_type],
                    "proposed_tier": "village", "proposed_org_id": units[village][cat.category(code).handler_type],
                    "routing_overridden": False, "escalations": 0, "reworks": 0, "extensions": 0, "version": 1,
                    "created_at": clock["clock_started_at"], "updated_at": clock["clock_started_at"], **clock,
                })
            with conn.begin():
                conn.execute(insert(Event), rows)
            done = min(first + CHUNK, n)
            if done % (CHUNK * 10) == 0 or done == n:
                rate = done / (time.perf_counter() - started)
                print(f"  inserted {done:>9,} events ({rate:,.0f}/s)", flush=True)
    return due


def watch(engine: Engine, due_rows: Any, total: int, done: threading.Event, every: float = 15.0) -> None:
    """Print the sweep's progress: the due rows left, read from the table as the batches commit."""
    started = time.perf_counter()
    while not done.wait(every):
        with engine.connect() as conn:
            left = conn.execute(due_rows).scalar() or 0
        seconds = time.perf_counter() - started
        print(f"  swept {total - left:>7,} of {total:,} in {seconds:.0f} s ({(total - left) / seconds:,.0f}/s)",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--due", type=float, default=0.05, help="share of the events due now")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL URL (a throwaway schema is made there)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    schema = None
    tmp = None
    if args.pg:
        schema = f"shanzhi_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.pg)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(args.pg, connect_args={"options": f"-csearch_path={schema}"})
        where = f"PostgreSQL schema {schema}"
    else:
        tmp = tempfile.mkdtemp(prefix="shanzhi-bench-")
        path = Path(tmp) / "sweep.db"
        engine = make_engine(f"sqlite:///{path}")
        where = f"SQLite {path}"
    print(f"database: {where} ({engine.dialect.name})")
    try:
        upgrade(engine)
        units = setup_district(engine)
        t = time.perf_counter()
        due = build_events(engine, args.events, args.due, units, args.seed)
        build_s = time.perf_counter() - t
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        print(f"built {args.events:,} open events in {build_s:.1f} s; {due:,} due at {NOW:%Y-%m-%d %H:%M} UTC")

        due_rows = (select(func.count()).select_from(Event)
                    .where(Event.next_check_at <= NOW, Event.status.in_(OPEN_STATUSES)))
        with engine.connect() as conn:
            conn.execute(due_rows).scalar()  # warm
            t = time.perf_counter()
            counted = conn.execute(due_rows).scalar()
            baseline_s = time.perf_counter() - t
        print(f"baseline: count of due rows = {counted:,} in {baseline_s * 1000:.1f} ms")

        factory = session_factory(engine)
        done = threading.Event()
        watcher = threading.Thread(target=watch, args=(engine, due_rows, counted, done), daemon=True)
        t = time.perf_counter()
        watcher.start()
        try:
            result = worker.sweep(factory, now=NOW, batch=args.batch)
        finally:
            done.set()
            watcher.join()
        sweep_s = time.perf_counter() - t
        print(f"sweep: {result.as_dict()} in {sweep_s:.1f} s "
              f"({result.checked / sweep_s:,.0f} events/s, {sweep_s / max(result.checked, 1) * 1000:.2f} ms each)")
        t = time.perf_counter()
        idle = worker.sweep(factory, now=NOW, batch=args.batch)
        idle_s = time.perf_counter() - t
        print(f"second sweep at the same moment: {idle.as_dict()} in {idle_s * 1000:.1f} ms")

        with engine.connect() as conn:
            steps = conn.execute(select(func.count()).select_from(EventStep)).scalar()
            notes = conn.execute(select(func.count()).select_from(Notification)).scalar()
            left = conn.execute(due_rows).scalar()
        assert result.checked == due == counted, (result.checked, due, counted)
        assert steps == result.yellow + result.red + result.escalated and notes == result.notifications
        assert left == 0 and idle.checked == 0
        print(f"checked: {steps:,} timeline steps, {notes:,} notifications, {left} rows still due")
        print(f"sweep_s={sweep_s:.2f} due={result.checked} events={args.events} baseline_s={baseline_s:.4f} "
              f"ratio={sweep_s / baseline_s:.0f} per_event_ms={sweep_s / max(result.checked, 1) * 1000:.3f} "
              f"escalated={result.escalated} notifications={result.notifications} idle_s={idle_s:.4f} "
              f"build_s={build_s:.1f}")
    finally:
        engine.dispose()
        if schema and not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        if tmp and not args.keep:
            for f in Path(tmp).iterdir():
                f.unlink()
            Path(tmp).rmdir()


if __name__ == "__main__":
    main()
