"""Benchmark: HTTP intake (POST /api/v1/events) on SQLite and PostgreSQL against a bare endpoint.

    python bench/intake.py [--concurrency 16] [--duration 20] [--warmup 2] [--tokens 1]
                           [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--db both|sqlite|pg]
                           [--profile DIR]

For each database kind, two servers are measured in the same run, one after the other, each a
real uvicorn process (`--workers 1`, log level warning) on 127.0.0.1:
- bare: a tiny FastAPI app whose one endpoint, POST /bare, parses the same JSON with a Pydantic
  model and inserts one row into a one-table schema in one transaction — the ceiling for
  "HTTP + JSON + one committed row" on that database;
- shanzhi: `create_app()` over a freshly migrated database holding the demo district, reporting
  as a district-wide grid worker with a bearer token: validation, point location in the region
  tree, scope check, event code, event + timeline step + hash-chained audit row + outbox row.
Both receive the same bodies (random points inside the district, varied text and category).

The load generator is another process (bench/_server.py load): `--concurrency` keep-alive
connections sending back to back for `--duration` seconds after an untimed warm-up. The client
and the server share the machine's cores; their CPU seconds are printed with each phase.
SQLite databases live in a temporary folder; PostgreSQL work happens in throwaway schemas that
are dropped at the end. `--profile DIR` samples the shanzhi servers with py-spy (figures of a
profiled run are perturbed; use them for the profile, not for comparisons).

The last line holds the figures (ratio = shanzhi eps / bare eps on the same database):
sqlite_eps=… sqlite_ratio=… sqlite_p99_ms=… pg_eps=… pg_ratio=… pg_p99_ms=…
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import DateTime, Engine, Float, Integer, String, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _server

from shanzhi.db import make_engine, session_scope, utcnow
from shanzhi.events.schemas import ReportIn

HERE = Path(__file__).resolve()
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
N_BODIES = 20_000


# -- the bare baseline ---------------------------------------------------------------------------


# The bare endpoint parses exactly shanzhi's input model, so the comparison is fair.
BareIn = ReportIn


class BareBase(DeclarativeBase):
    pass


class BareEvent(BareBase):
    __tablename__ = "bare_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(2000))
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(4))
    urgency: Mapped[str] = mapped_column(String(8))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def bare_app(url: str) -> Any:
    from fastapi import FastAPI

    # The same engine set-up as shanzhi's (SQLite: WAL, synchronous=NORMAL, busy timeout).
    factory = sessionmaker(bind=make_engine(url), expire_on_commit=False)
    app = FastAPI()

    @app.post("/bare", status_code=201)
    def bare(body: BareIn) -> dict[str, Any]:  # sync, like shanzhi's endpoint: runs in the thread pool
        with factory.begin() as session:
            row = BareEvent(text=body.text, channel=body.channel, category=body.category, urgency=body.urgency,
                            lon=body.lon, lat=body.lat, created_at=utcnow())
            session.add(row)
            session.flush()
            return {"id": row.id, "status": "reported"}

    return app


def serve_main(argv: list[str]) -> None:
    """Child-process entry: serve one app on 127.0.0.1."""
    p = argparse.ArgumentParser()
    p.add_argument("--serve", choices=["bare", "shanzhi"], required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args(argv)
    if a.serve == "bare":
        app = bare_app(a.url)
    else:
        from shanzhi.app import create_app
        from shanzhi.config import Settings

        app = create_app(Settings(data_dir=Path(a.data_dir), database_url=a.url))
    _server.serve(app, a.port)


# -- setup -------------------------------------------------------------------------------------


PLACES = ["村口", "菜场门口", "小区东门", "河埠头", "公交站旁", "学校后门", "桥下", "祠堂边", "厂区门口", "老街",
          "停车场", "文化礼堂前", "农贸市场", "幼儿园对面", "卫生院旁"]
DETAILS = ["", "，已经好几天了", "，请尽快处理", "，影响通行", "，居民意见很大", "，晚上尤其严重",
           "，之前反映过还没解决", "，有安全隐患"]


def make_bodies(features: list[dict], seed: int, n: int) -> list[str]:
    """Request bodies: random points inside the district (checked with the index), varied text."""
    from shanzhi.events.catalog import catalog
    from shanzhi.geo.index import OUTSIDE, RegionIndex, RegionRecord

    records = [RegionRecord(f["properties"]["code"], f["properties"]["name"], f["properties"]["level"],
                            shapely.geometry.shape(f["geometry"])) for f in features]
    index = RegionIndex(records)
    x0, y0, x1, y1 = shapely.total_bounds(np.array([r.geometry for r in records]))
    rng = np.random.default_rng(seed)
    lons, lats = rng.uniform(x0, x1, n * 3), rng.uniform(y0, y1, n * 3)
    inside = index.locate_many(lons, lats) != OUTSIDE
    lons, lats = lons[inside][:n], lats[inside][:n]
    assert len(lons) == n, "too few points fell inside the district"
    cats = [(c.code, c.name) for c in catalog().categories]
    r = random.Random(seed)
    bodies = []
    for lon, lat in zip(lons.tolist(), lats.tolist()):
        code, name = r.choice(cats)
        what = name.split("/")[0]
        words = f"{r.choice(PLACES)}{what if len(what) >= 4 else name.replace('/', '、')}{r.choice(DETAILS)}"
        if r.random() < 0.3:
            words += f"（{r.randint(2, 99)}号附近）"
        bodies.append(json.dumps({"text": words, "category": code, "lon": round(lon, 6), "lat": round(lat, 6),
                                  "channel": "grid_worker"}, ensure_ascii=False))
    return bodies


def setup_shanzhi(engine: Engine, features: list[dict], tokens: int) -> list[str]:
    """Migrate, load the district, create `tokens` district-wide grid workers with one token each."""
    from shanzhi.accounts.service import (
        assign_role,
        create_user,
        load_actor,
        system_actor,
    )
    from shanzhi.accounts.tokens import create_token
    from shanzhi.demo.district import DISTRICT_CODE
    from shanzhi.geo.service import import_regions
    from shanzhi.migrate import upgrade

    upgrade(engine)
    with session_scope(engine) as session:
        import_regions(session, data={"type": "FeatureCollection", "features": features})
    auth = []
    with session_scope(engine) as session:
        actor = system_actor(session)
        for i in range(tokens):
            user = create_user(session, actor=actor, username=f"bench-grid-{i}", display_name=f"压测网格员{i}",
                               password="correct-horse-9", home_region=DISTRICT_CODE)
            assign_role(session, actor=actor, user_id=user.id, role="grid_worker", region=DISTRICT_CODE)
            _, raw = create_token(session, actor=load_actor(session, user), name="bench")
            auth.append(f"Bearer {raw}")
    return auth


def check_shanzhi(engine: Engine) -> str:
    """What the shanzhi phase left behind: events, steps, audit rows, outbox rows, chain intact."""
    from shanzhi.audit import service as audit
    from shanzhi.audit.models import AuditEntry
    from shanzhi.events.models import Event, EventStep, OutboxMessage

    with session_scope(engine) as session:
        counts = [session.scalar(select(func.count()).select_from(m)) for m in (Event, EventStep, AuditEntry,
                                                                                 OutboxMessage)]
        verdict = audit.verify(session)
    chain = f"intact ({verdict.checked:,} rows)" if verdict.ok else f"BROKEN at {verdict.first_broken_seq}: {verdict.reason}"
    return (f"{counts[0]:,} events, {counts[1]:,} steps, {counts[2]:,} audit rows, {counts[3]:,} outbox rows; "
            f"audit chain {chain}")


@contextmanager
def databases(kind: str, tmp: Path, pg_url: str) -> Iterator[tuple[str, str]]:
    """(shanzhi url, bare url): fresh SQLite files, or fresh PostgreSQL schemas dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'shanzhi.db'}", f"sqlite:///{tmp / 'bare.db'}"
        return
    tag = uuid.uuid4().hex[:10]
    schemas = [f"bench_intake_{tag}", f"bench_bare_{tag}"]
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        for s in schemas:
            conn.execute(text(f'CREATE SCHEMA "{s}"'))
    sep = "&" if "?" in pg_url else "?"
    try:
        yield tuple(f"{pg_url}{sep}options=-csearch_path%3D{s}" for s in schemas)  # type: ignore[misc]
    finally:
        with admin.begin() as conn:
            for s in schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{s}" CASCADE'))
        admin.dispose()


# -- measuring ---------------------------------------------------------------------------------


def server_errors(log: Path, top: int = 3) -> list[tuple[str, int]]:
    """The most frequent exception lines in a server's log (the last line of each traceback)."""
    counts: Counter[str] = Counter()
    pending = False
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Traceback"):
            pending = True
        elif pending and line and not line.startswith((" ", "\t")) and not line.startswith(("The above", "During")):
            counts[line[:200]] += 1
            pending = False
    return counts.most_common(top)


def measure(label: str, *, app: str, url: str, data_dir: Path, path: str, payloads: Path,
            args: argparse.Namespace, profile_to: Path | None = None) -> dict[str, Any]:
    port = _server.free_port()
    argv = [sys.executable, str(HERE), "--serve", app, "--url", url, "--data-dir", str(data_dir), "--port", str(port)]
    log = data_dir / f"{label.strip().replace(' ', '-')}.log"
    with _server.Server(argv, port, log=str(log)) as server:
        spy = None
        if profile_to is not None:
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            spy = subprocess.Popen([py_spy, "record", "-p", str(server.pid), "--format", "raw", "-r", "200",
                                    "-d", str(int(args.warmup + args.duration + 2)), "-o", str(profile_to),
                                    *(["--gil"] if args.profile_gil else [])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load = subprocess.run(
            [sys.executable, str(HERE.parent / "_server.py"), "load", "--port", str(port), "--path", path,
             "--payloads", str(payloads), "--concurrency", str(args.concurrency), "--duration", str(args.duration),
             "--warmup", str(args.warmup), "--server-pid", str(server.pid)],
            check=False, capture_output=True, text=True, timeout=args.warmup + args.duration + 300,
        )
        if spy is not None:
            spy.wait(timeout=120)
    if load.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{load.stderr}")
    r = json.loads(load.stdout)
    cores = os.cpu_count() or 1
    print(f"{label}: {r['requests']:,} requests, {r['errors']:,} errors, {r['eps']:,.1f} eps, "
          f"p50 {r['p50_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms "
          f"| CPU over {r['elapsed_s']:.1f} s: server {r['server_cpu_s']:.1f} s, client {r['client_cpu_s']:.1f} s "
          f"({cores} cores shared; load average now {os.getloadavg()[0]:.1f})", flush=True)
    for sample in r["error_samples"]:
        print(f"  error sample: {sample}", flush=True)
    for line, n in server_errors(log):
        print(f"  server log: {n:,}× {line}", flush=True)
    if profile_to is not None:
        print(f"  py-spy profile (raw stacks) in {profile_to}", flush=True)
    return r


def main() -> None:
    if "--serve" in sys.argv:
        serve_main(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per timed phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed seconds before each phase")
    parser.add_argument("--tokens", type=int, default=1, help="grid workers (one token each) the connections share")
    parser.add_argument("--pg-url", default=os.environ.get("SHANZHI_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--db", choices=["both", "sqlite", "pg"], default="both", help="which databases to measure")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles of the shanzhi servers")
    parser.add_argument("--profile-gil", action="store_true",
                        help="profile only the thread holding the GIL (where CPU goes, not where threads wait)")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    from shanzhi.demo.district import build_district

    start = time.perf_counter()
    features = build_district(args.seed)
    bodies = make_bodies(features, args.seed, N_BODIES)
    print(f"demo district: {len(features):,} regions; {len(bodies):,} distinct request bodies "
          f"({time.perf_counter() - start:.1f} s); concurrency {args.concurrency}, {args.duration:g} s per phase "
          f"after {args.warmup:g} s warm-up, {args.tokens} token(s)", flush=True)

    figures: dict[str, dict[str, float]] = {}
    kinds = ["sqlite", "pg"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(prefix="shanzhi-bench-intake-") as tmpdir:
        tmp = Path(tmpdir)
        bare_payloads = tmp / "bare.json"
        bare_payloads.write_text(json.dumps({"bodies": bodies, "auth": []}, ensure_ascii=False), encoding="utf-8")
        for kind in kinds:
            with databases(kind, tmp, args.pg_url) as (shanzhi_url, bare_url):
                t0 = time.perf_counter()
                bare_engine = make_engine(bare_url)
                BareBase.metadata.create_all(bare_engine)
                bare_engine.dispose()
                engine = make_engine(shanzhi_url)
                auth = setup_shanzhi(engine, features, args.tokens)
                shanzhi_payloads = tmp / f"shanzhi-{kind}.json"
                shanzhi_payloads.write_text(json.dumps({"bodies": bodies, "auth": auth}, ensure_ascii=False),
                                            encoding="utf-8")
                print(f"{kind}: databases ready in {time.perf_counter() - t0:.1f} s", flush=True)

                bare = measure(f"{kind} bare   ", app="bare", url=bare_url, data_dir=tmp, path="/bare",
                               payloads=bare_payloads, args=args)
                full = measure(f"{kind} shanzhi", app="shanzhi", url=shanzhi_url, data_dir=tmp,
                               path="/api/v1/events", payloads=shanzhi_payloads, args=args,
                               profile_to=args.profile / f"{kind}-shanzhi.txt" if args.profile else None)
                print(f"{kind} check: {check_shanzhi(engine)}", flush=True)
                engine.dispose()
                ratio = full["eps"] / bare["eps"] if bare["eps"] else float("nan")
                print(f"{kind}: shanzhi {full['eps']:,.1f} eps / bare {bare['eps']:,.1f} eps = {ratio:.3f} "
                      f"of the bare ceiling (target ≥ 0.5)", flush=True)
                figures[kind] = {"eps": full["eps"], "ratio": ratio, "p99_ms": full["p99_ms"]}

    nan = {"eps": float("nan"), "ratio": float("nan"), "p99_ms": float("nan")}
    s, p = figures.get("sqlite", nan), figures.get("pg", nan)
    print(f"sqlite_eps={s['eps']:.1f} sqlite_ratio={s['ratio']:.3f} sqlite_p99_ms={s['p99_ms']:.1f} "
          f"pg_eps={p['eps']:.1f} pg_ratio={p['ratio']:.3f} pg_p99_ms={p['p99_ms']:.1f}")


if __name__ == "__main__":
    main()
