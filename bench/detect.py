"""Benchmark: detection — category suggestions, duplicate lookups, hotspots — each against a baseline.

    python bench/detect.py [--open-events 100000] [--lookups 1000] [--demo-db URL] [--pg URL]

1. Classification: the shipped model on the held-out reports, one text per call (as intake and
   the "suggest as you type" box call it) and in one batch. Baseline: the TF-IDF featurizing
   alone (the floor any model on these features pays), one text per call.
2. Duplicates: 100,000 open events (4 categories, points spread over a 4-town district, created
   over 30 days) bulk-inserted into a temporary SQLite file (or a throwaway schema of --pg), then
   `find_duplicates` for `--lookups` random events, as intake runs it. Baseline: fetching one
   event by primary key on the same connection.
3. Hotspots: `find_hotspots` over the demo district's last 90 days (a database built by
   `shanzhi demo`; without --demo-db one is built in a temporary folder, which takes minutes).
   Baseline: the same rows read by the same query without clustering.
The last line holds the figures:
clf_single_tps=… clf_batch_tps=… dup_p99_ms=… hotspot_s=… (and the baselines and ratios)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.orm import Session

from shanzhi.db import make_engine, session_factory
from shanzhi.detect import classify
from shanzhi.detect.duplicates import find_duplicates
from shanzhi.detect.hotspots import find_hotspots
from shanzhi.events.models import Event
from shanzhi.migrate import upgrade

sys.path.insert(0, str(Path(__file__).parent))
from _server import build_demo  # noqa: E402
from sweep import features, setup_district  # noqa: E402  (the same bench district)

CATEGORIES = ("0101", "0102", "0104", "0105")
TEXTS = ("小区门口路边有一堆垃圾，气味很大", "垃圾桶旁边的垃圾没有分类，乱七八糟", "路面积水走不过去",
         "楼下堆满了建材和杂物", "那堆垃圾还在没人清理", "路上全是泥浆，车开过去溅一身")
CHUNK = 20_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_classify() -> tuple[float, float, float]:
    texts = [t for t, _ in classify.read_jsonl(classify.HELDOUT_PATH)]
    model = classify.get_model()
    features_only = model.pipeline[:-1]
    classify.suggest(texts[0])  # warm: jieba's dictionary, the model
    t = time.perf_counter()
    for s in texts:
        features_only.transform([s])
    base_tps = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    for s in texts:
        classify.suggest(s)
    single_tps = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    classify.suggest_many(texts)
    batch_tps = len(texts) / (time.perf_counter() - t)
    print(f"classify: {len(texts)} held-out texts; one at a time {single_tps:,.0f}/s, batch {batch_tps:,.0f}/s; "
          f"baseline featurize only {base_tps:,.0f}/s")
    return single_tps, batch_tps, base_tps


def build_open_events(engine: Engine, n: int, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    villages = sorted(f["properties"]["code"] for f in features()["features"] if f["properties"]["level"] == "village")
    with engine.connect() as conn:
        for first in range(0, n, CHUNK):
            rows = []
            for i in range(first, min(first + CHUNK, n)):
                village = villages[rng.randrange(len(villages))]
                # Villages are strips: town t spans lon 121.30 + 0.05 t, village v lat 29.80 + 0.0125 v.
                t, v = int(village[6:9]) - 101, int(village[9:12]) - 201
                created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
                rows.append({
                    "code": f"HS-BD-{i:07d}", "tracking_hash": "0" * 64, "text": rng.choice(TEXTS),
                    "category_code": CATEGORIES[i % len(CATEGORIES)], "category_source": "chosen",
                    "urgency": "normal", "channel": "resident",
                    "lon": 121.30 + 0.05 * t + rng.uniform(0, 0.05), "lat": 29.80 + 0.0125 * v + rng.uniform(0, 0.0125),
                    "region_code": village, "town_code": village[:9], "village_code": village,
                    "status": rng.choice(("reported", "accepted", "dispatched", "in_progress")),
                    "routing_overridden": False, "escalations": 0, "reworks": 0, "extensions": 0, "version": 1,
                    "deadline_state": "none", "created_at": created, "updated_at": created,
                })
            with conn.begin():
                conn.execute(insert(Event), rows)


def bench_duplicates(engine: Engine, n: int, lookups: int, seed: int) -> tuple[float, float, float]:
    upgrade(engine)
    setup_district(engine)
    t = time.perf_counter()
    build_open_events(engine, n, seed)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(f"duplicates: {n:,} open events inserted in {time.perf_counter() - t:.1f} s")
    rng = random.Random(seed + 1)
    with Session(engine) as session:
        ids = [rng.randint(1, n) for _ in range(lookups)]
        lat_ms, base_ms, found = [], [], 0
        for event_id in ids[:20]:  # warm the caches
            find_duplicates(session, event=session.get(Event, event_id))
        session.expunge_all()
        for event_id in ids:
            t = time.perf_counter()
            session.execute(select(Event.id, Event.code).where(Event.id == event_id)).one()
            base_ms.append((time.perf_counter() - t) * 1000)
            event = session.get(Event, event_id)
            t = time.perf_counter()
            found += len(find_duplicates(session, event=event))
            lat_ms.append((time.perf_counter() - t) * 1000)
            session.expunge_all()
    p50, p99, base_p99 = pct(lat_ms, 0.5), pct(lat_ms, 0.99), pct(base_ms, 0.99)
    print(f"duplicates: {lookups} lookups, p50 {p50:.2f} ms, p99 {p99:.2f} ms, {found / lookups:.2f} candidates each; "
          f"baseline primary-key fetch p99 {base_p99:.3f} ms")
    return p99, base_p99, p50


def demo_engine(url: str | None) -> Engine:
    if url:
        return create_engine(url)
    folder = build_demo("hotspots")
    return create_engine(f"sqlite:///{folder}/shanzhi.db")


def bench_hotspots(engine: Engine) -> tuple[float, float, int]:
    with Session(engine) as session:
        root = session.scalar(text("SELECT code FROM regions WHERE parent_id IS NULL ORDER BY code LIMIT 1"))
        now = session.scalar(select(Event.created_at).order_by(Event.created_at.desc()).limit(1))
        since = now - timedelta(days=90)
        t = time.perf_counter()
        rows = session.execute(select(Event.code, Event.category_code, Event.lon, Event.lat, Event.created_at,
                                      Event.region_code)
                               .where(Event.region_code.startswith(root), Event.created_at >= since,
                                      Event.created_at <= now, Event.lon.is_not(None),
                                      Event.category_code.is_not(None), Event.status != "merged")).all()
        base_s = time.perf_counter() - t
        t = time.perf_counter()
        found = find_hotspots(session, region=root, now=now)
        hotspot_s = time.perf_counter() - t
    print(f"hotspots: {len(rows):,} events in the last 90 days of {root}; {len(found)} hotspots in {hotspot_s:.2f} s; "
          f"baseline reading the rows {base_s:.2f} s")
    return hotspot_s, base_s, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open-events", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--demo-db", metavar="URL", help="a database built by `shanzhi demo`")
    parser.add_argument("--pg", metavar="URL", help="run the duplicate lookups on PostgreSQL (throwaway schema)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    os.environ.setdefault("SHANZHI_DATA_DIR", tempfile.mkdtemp(prefix="shanzhi-bench-model-"))

    single, batch, base_clf = bench_classify()

    schema = None
    if args.pg:
        schema = f"shanzhi_bench_{uuid.uuid4().hex[:8]}"
        with make_engine(args.pg).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(args.pg, connect_args={"options": f"-csearch_path={schema}"})
    else:
        engine = make_engine(f"sqlite:///{tempfile.mkdtemp(prefix='shanzhi-bench-')}/detect.db")
    try:
        dup_p99, base_dup, _ = bench_duplicates(engine, args.open_events, args.lookups, args.seed)
    finally:
        engine.dispose()
        if schema:
            with make_engine(args.pg).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    hotspot_s, base_hot, _ = bench_hotspots(demo_engine(args.demo_db))
    print(f"clf_single_tps={single:.0f} clf_batch_tps={batch:.0f} dup_p99_ms={dup_p99:.2f} hotspot_s={hotspot_s:.2f} "
          f"clf_baseline_tps={base_clf:.0f} clf_single_ratio={single / base_clf:.2f} "
          f"dup_baseline_p99_ms={base_dup:.3f} dup_ratio={dup_p99 / base_dup:.0f} "
          f"hotspot_baseline_s={base_hot:.2f} hotspot_ratio={hotspot_s / max(base_hot, 1e-9):.1f}")


if __name__ == "__main__":
    main()
