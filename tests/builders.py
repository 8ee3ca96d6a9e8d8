"""Builders for region trees used across tests (import them: `from builders import …`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, mapping

# A small district on a regular lattice: 2 towns × 2 villages × 2 grids × 2 micro-grids.
X0, Y0, X1, Y1 = 121.30, 29.80, 121.50, 29.90


def feature(level: str, code: str, name: str, geom: Any, parent: str | None = None, **props: Any) -> dict[str, Any]:
    geometry = geom if isinstance(geom, dict) else mapping(geom)
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"level": level, "code": code, "name": name, "parent_code": parent, **props},
    }


def lattice_tree() -> dict[str, Any]:
    """31 nodes; each level halves its parent, alternating the axis."""
    feats = [feature("district", "330203", "测试区", box(X0, Y0, X1, Y1))]
    levels = ["town", "village", "grid", "microgrid"]

    def split(code: str, bounds: tuple[float, float, float, float], depth: int) -> None:
        if depth == len(levels):
            return
        x0, y0, x1, y1 = bounds
        if depth % 2 == 0:
            mid = (x0 + x1) / 2
            halves = [(x0, y0, mid, y1), (mid, y0, x1, y1)]
        else:
            mid = (y0 + y1) / 2
            halves = [(x0, y0, x1, mid), (x0, mid, x1, y1)]
        for i, b in enumerate(halves, 1):
            level = levels[depth]
            child = code + (f"{100 + i:03d}" if level == "town" else f"{(200 if level == 'village' else 0) + i:03d}")
            name = {"town": f"第{i}镇", "village": f"{code[-3:]}{i}村", "grid": f"{i}号网格", "microgrid": f"{i}号微网格"}[level]
            extra = {"village_type": "suburban", "population": 1200 + i, "households": 400} if level == "village" else {}
            feats.append(feature(level, child, name, box(*b), code, **extra))
            split(child, b, depth + 1)

    split("330203", (X0, Y0, X1, Y1), 0)
    return {"type": "FeatureCollection", "features": feats}


def voronoi_tree(seed: int = 7, towns: int = 6, villages: int = 12) -> dict[str, Any]:
    """An irregular tree (Voronoi cells clipped to their parents) for locate tests."""
    rng = np.random.default_rng(seed)
    district = shapely.Polygon([(121.25, 29.76), (121.58, 29.75), (121.60, 29.93), (121.40, 29.95), (121.26, 29.90)])
    feats = [feature("district", "330299", "多边形区", district)]

    def cells(parent: Any, n: int) -> list[Any]:
        x0, y0, x1, y1 = parent.bounds
        pts = shapely.points(rng.uniform(x0, x1, n * 8), rng.uniform(y0, y1, n * 8))
        pts = pts[shapely.contains(parent, pts)][:n]
        regions = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=parent)
        out = [shapely.intersection(c, parent) for c in regions.geoms]
        out = [shapely.segmentize(c, 0.002) for c in out if c.area > 0]
        return [c for c in out if c.geom_type in ("Polygon", "MultiPolygon")]

    for ti, town in enumerate(cells(district, towns), 1):
        tcode = f"330299{100 + ti:03d}"
        feats.append(feature("town", tcode, f"镇{ti}", town, "330299"))
        # The last town keeps no villages: points there must stop at the town.
        if ti == towns:
            continue
        for vi, village in enumerate(cells(town, villages), 1):
            feats.append(feature("village", f"{tcode}{200 + vi:03d}", f"村{ti}-{vi}", village, tcode))
    return {"type": "FeatureCollection", "features": feats}


PASSWORD = "correct-horse-9"


def make_user(session, *, role: str | None = "admin", scope: str = "330203", username: str | None = None,
              org: str | None = None, password: str = PASSWORD, phone: str | None = None):
    """A user with one role at `scope` (created by the system actor, like `shanzhi users add`)."""
    from shanzhi.accounts import service

    actor = service.system_actor(session)
    user = service.create_user(session, actor=actor, username=username or f"{role or 'nobody'}-{scope}",
                               display_name=f"{role or '无角色'}@{scope}", password=password,
                               home_region=scope, phone=phone)
    if role:
        service.assign_role(session, actor=actor, user_id=user.id, role=role, region=scope, org_code=org)
    return user


def actor_of(session, user):
    from shanzhi.accounts.service import load_actor

    return load_actor(session, user)


def bearer(session, user, *, region: str | None = None, days: int | None = None) -> dict[str, str]:
    from shanzhi.accounts.tokens import create_token

    _, raw = create_token(session, actor=actor_of(session, user), name="test", region=region, days=days)
    return {"Authorization": f"Bearer {raw}"}


# Handling units for the lattice tree: (code, name, kind, region code).
VILLAGE_KINDS = ("village_committee", "grid_team", "village_mediation")
TOWN_KINDS = ("town_office", "enforcement_team", "town_mediation", "police_station", "market_station")
DISTRICT_KINDS = ("district_department", "district_housing", "district_ecology", "district_emergency",
                  "district_market", "district_civil", "district_agriculture", "utility", "district_hrss")


def make_units(session, tree: dict | None = None) -> dict[tuple[str, str], int]:
    """One unit of every handler kind at every village, town and the district of a tree
    (default: the lattice tree, which must be imported already). Returns {(kind, region): id}."""
    from sqlalchemy import select

    from shanzhi.geo.models import Region
    from shanzhi.orgs.models import Organization

    tree = tree or lattice_tree()
    ids = {r.code: r.id for r in session.scalars(select(Region))}
    out: dict[tuple[str, str], int] = {}
    for f in tree["features"]:
        p = f["properties"]
        kinds = {"village": VILLAGE_KINDS, "town": TOWN_KINDS, "district": DISTRICT_KINDS}.get(p["level"], ())
        for kind in kinds:
            org = Organization(code=f"{kind}-{p['code']}", name=f"{p['name']}{kind}", kind=kind,
                               region_id=ids[p["code"]])
            session.add(org)
            session.flush()
            out[(kind, p["code"])] = org.id
    return out


def make_event(session, *, actor=None, text: str = "路边有一堆暴露垃圾，气味很大", category: str | None = "0101",
               region: str | None = None, lon: float | None = 121.31, lat: float | None = 29.81, **over):
    """Report an event through intake (as `actor`, or an anonymous resident)."""
    from shanzhi.events.intake import Report, submit

    fields = {"text": text, "channel": "resident" if actor is None else "grid_worker", "category": category,
              "lon": None if region else lon, "lat": None if region else lat, "region": region, **over}
    return submit(session, actor=actor, report=Report(**fields))
