"""The resident map's clusters at 5M: server time, bytes, beside a naive clustering of the rows.

    .venv/bin/python -m bench map [--runs 20]

On the shared dataset (bench/dataset.py), in-process through Flask's test client (no HTTP, so
the time is the server's), `/api/v1/map/clusters` for a 880 × 748 px desktop map (a
1280 × 800 screen beside the 400 px list) at every zoom from the city (11) to the street (18),
centred on Paris at 11–13 and on the densest 250 m cell at 14–18, with three filters: the
default (`status=current`: open reports and those resolved in the last 30 days, proposals in
play), "everything" (no status: every contribution of four years) and one category (`graffitis`,
with its sub-categories, current). It measures whatever the endpoint does on disk.

The anchor is what the endpoint did before issue 18, in SQL alone: the same rows filtered
from `contributions` and grouped into 60 px cells of that zoom (`GROUP BY` the Lambert-93
cell, a count and a centroid each), timed with psycopg in the same round.

Targets (issue 18): every zoom, any filter, ≤ 50 ms and ≤ 300 KB. Writes bench/results/map.json.
"""

from __future__ import annotations

import gzip
import math
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BenchDb,
    loadavg,
    log,
    machine_facts,
    now_iso,
    summary,
    wait_for_quiet,
)

PARIS_CENTER = (48.8589, 2.3469)
PARIS_BOUNDS = (2.2242, 48.8156, 2.4699, 48.9022)
DESKTOP_MAP = (880, 748)
PHONE_MAP = (360, 480)
TARGET_BYTES = 300_000
TARGET_MS = 50.0
ZOOMS = range(11, 19)
CLUSTER_PX = 60  # the naive anchor's cell, in screen pixels
NAIVE_RUNS = 5  # timed runs of each naive anchor (the app's view: every round)
# the page's default is `status=current`; its "everything" sends no status at all
FILTERS = {"default (current)": {"status": "current"}, "everything": {},
           "current + category=graffitis": {"status": "current", "category": "graffitis"},
           "current + arrondissement=11": {"status": "current", "arrondissement": "11"}}


def viewport_bbox(lat: float, lon: float, zoom: int, width: int, height: int) -> str:
    """The bbox Leaflet asks for: a width × height px map centred on (lat, lon) at zoom."""
    world = 256 * 2**zoom

    def to_px(lat_, lon_):
        return (lon_ + 180) / 360 * world, mercator_y(lat_) * world

    def to_lonlat(x, y):
        lon_ = x / world * 360 - 180
        lat_ = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / world))))
        return lon_, lat_

    cx, cy = to_px(lat, lon)
    w, n = to_lonlat(cx - width / 2, cy - height / 2)
    e, s = to_lonlat(cx + width / 2, cy + height / 2)
    return ",".join(f"{v:.6f}" for v in (w, s, e, n))


def mercator_y(lat: float) -> float:
    """Web Mercator y of a latitude, in world units (0 at the top, 1 at the bottom)."""
    t = math.sin(math.radians(lat))
    return 0.5 - math.log((1 + t) / (1 - t)) / (4 * math.pi)


def fit_zoom(width: int, height: int) -> int:
    """Leaflet's fitBounds(PARIS_BOUNDS) zoom for a map of that size."""
    w, s, e, n = PARIS_BOUNDS
    for zoom in range(19, 0, -1):
        world = 256 * 2**zoom
        if (e - w) / 360 * world <= width and (mercator_y(s) - mercator_y(n)) * world <= height:
            return zoom
    return 1


def densest_point(dsn_conn) -> tuple[float, float]:
    """The centre of the 250 m cell holding the most reports: a worst case for street level."""
    row = dsn_conn.execute("""
        SELECT ST_Y(c), ST_X(c) FROM (
            SELECT ST_Transform(ST_SetSRID(ST_MakePoint(
                (floor(ST_X(geom_l93) / 250) + 0.5) * 250, (floor(ST_Y(geom_l93) / 250) + 0.5) * 250),
                2154), 4326) AS c, count(*) AS n
            FROM contributions GROUP BY 1 ORDER BY n DESC LIMIT 1) d
    """).fetchone()
    return float(row[0]), float(row[1])


class Client:
    def __init__(self, app):
        self.client = app.test_client()

    def get(self, path: str) -> dict:
        started = time.perf_counter()
        r = self.client.get(path)
        body = r.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        assert r.status_code == 200, (path, r.status_code, body[:300])
        timing = r.headers.get("Server-Timing", "")
        db_ms = float(timing.split("dur=")[1].split(";")[0].split(",")[0]) if "dur=" in timing else None
        data = r.get_json(silent=True) or {}
        r.close()
        return {"ms": elapsed, "db_ms": db_ms, "bytes": len(body), "gzip_bytes": len(gzip.compress(body, 6)),
                "features": len(data.get("features", [])), "total": data.get("total"),
                "clusters": data.get("clusters")}


def view_requests(bbox: str, zoom: int, extra: dict | None = None) -> dict[str, str]:
    q = {"bbox": bbox, **(extra or {})}
    return {
        "clusters": "/api/v1/map/clusters?" + urlencode({**q, "zoom": zoom}),
        "items": "/api/v1/map/items?" + urlencode({**q, "limit": 20}),
    }


def measure(client: Client, scenarios: dict[str, dict[str, str]], runs: int) -> dict:
    """Each scenario's requests, interleaved round by round so background load hits all alike."""
    samples = {name: {kind: [] for kind in reqs} for name, reqs in scenarios.items()}
    for reqs in scenarios.values():  # warm-up: plans, caches, psycopg's prepared statements
        for path in reqs.values():
            for _ in range(3):
                client.get(path)
    for _ in range(runs):
        for name, reqs in scenarios.items():
            for kind, path in reqs.items():
                samples[name][kind].append(client.get(path))
    out = {}
    for name, kinds in samples.items():
        out[name] = {}
        for kind, runs_ in kinds.items():
            last = runs_[-1]
            out[name][kind] = {
                "path": scenarios[name][kind],
                "bytes": last["bytes"], "gzip_bytes": last["gzip_bytes"], "features": last["features"],
                "total": last["total"], "clusters": last["clusters"],
                "ms": summary([r["ms"] for r in runs_]),
                "db_ms": summary([r["db_ms"] for r in runs_]) if last["db_ms"] is not None else None,
            }
    return out


def pans(client: Client, count: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    w, s, e, n = PARIS_BOUNDS
    results = []
    for _ in range(count):
        zoom = rng.randint(13, 18)
        lat, lon = rng.uniform(s + 0.01, n - 0.01), rng.uniform(w + 0.02, e - 0.02)
        path = view_requests(viewport_bbox(lat, lon, zoom, *DESKTOP_MAP), zoom)["clusters"]
        client.get(path)  # first sight of this SQL text; then measured
        results.append(client.get(path))
    return {
        "views": count, "zooms": "13-18", "map_px": list(DESKTOP_MAP),
        "ms": summary([r["ms"] for r in results]),
        "bytes": summary([float(r["bytes"]) for r in results], digits=0),
        "features": summary([float(r["features"]) for r in results], digits=0),
    }


def naive_sql(filter_name: str) -> str:
    """The rows of the filter in the viewport, grouped into CLUSTER_PX cells: the clustering the
    endpoint did on raw rows before issue 18 (the anchor)."""
    status = ""
    if filter_name != "everything":
        from app.map.schemas import CURRENT_STATUSES

        terms = []
        for kind, (always, lately) in CURRENT_STATUSES.items():
            terms.append(f"(c.kind = '{kind}' AND (c.status IN ({','.join(repr(s) for s in always)}) OR "
                         f"(c.status IN ({','.join(repr(s) for s in lately)}) AND c.closed_at >= %(since)s)))")
        status = " AND (" + " OR ".join(terms) + ")"
    category = ""
    if "category=" in filter_name:
        category = (" AND c.category_id IN (SELECT id FROM categories WHERE code = %(code)s OR parent_id = "
                    "(SELECT id FROM categories WHERE code = %(code)s))")
    if "arrondissement=" in filter_name:
        category += f" AND c.arrondissement_id = {int(filter_name.rsplit('=', 1)[1])}"
    return f"""
        SELECT count(*), ST_AsText(ST_Centroid(ST_Collect(c.geom)))
        FROM contributions c
        WHERE c.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
          AND NOT c.hidden AND c.withdrawn_at IS NULL{status}{category}
        GROUP BY floor(ST_X(c.geom_l93) / %(cell)s), floor(ST_Y(c.geom_l93) / %(cell)s)
    """


def metres_per_px(lat: float, zoom: int) -> float:
    return 156543.03392 * math.cos(math.radians(lat)) / 2**zoom


def run(db: BenchDb, runs: int = 20, quiet_wait: float = 60.0) -> dict:
    from app import create_app
    from app.map.schemas import recent_since

    with db.connect() as conn:
        loaded = conn.execute("SELECT count(*) FROM contributions").fetchone()[0]
        dense = densest_point(conn)
    app = create_app({"DATABASE_URL": db.url, "TESTING": False, "RATELIMIT_ENABLED": False})
    client = Client(app)
    cases = []
    for zoom in ZOOMS:
        lat, lon = PARIS_CENTER if zoom <= 13 else dense
        bbox = viewport_bbox(lat, lon, zoom, *DESKTOP_MAP)
        w, s, e, n = (float(v) for v in bbox.split(","))
        for name, extra in FILTERS.items():
            params = {"w": w, "s": s, "e": e, "n": n, "cell": CLUSTER_PX * metres_per_px(lat, zoom),
                      "since": recent_since(), "code": extra.get("category")}
            cases.append({"zoom": zoom, "filter": name,
                          "path": "/api/v1/map/clusters?" + urlencode({"bbox": bbox, "zoom": zoom, **extra}),
                          "naive": (naive_sql(name), params), "ours": [], "raw": []})
    conn = db.connect(autocommit=True)
    for case in cases:  # warm-up
        case["answer"] = client.get(case["path"])
        conn.execute(*case["naive"]).fetchall()
    quiet = wait_for_quiet(quiet_wait)
    log(f"map: {len(cases)} views x {runs} rounds on {loaded:,} contributions")
    load_before = loadavg()
    for i in range(runs):
        for case in cases:
            case["ours"].append(client.get(case["path"])["ms"])
            # the naive anchor takes seconds at city zooms: NAIVE_RUNS of them, spread over the
            # rounds, are enough for a median (20 of each view took about an hour at 5M)
            if i % max(1, runs // NAIVE_RUNS) == 0 and len(case["raw"]) < NAIVE_RUNS:
                started = time.perf_counter()
                conn.execute(*case["naive"]).fetchall()
                case["raw"].append((time.perf_counter() - started) * 1000)
    conn.close()
    results = []
    for case in cases:
        ours, naive = summary(case["ours"]), summary(case["raw"])
        a = case["answer"]
        results.append({
            "what": f"map clusters z{case['zoom']} {case['filter']}", "zoom": case["zoom"],
            "filter": case["filter"], "path": case["path"], "bytes": a["bytes"], "gzip_bytes": a["gzip_bytes"],
            "ours": ours, "naive_sql": naive, "target_ms": TARGET_MS, "target_bytes": TARGET_BYTES,
            "ratio_to_naive": round(ours["median"] / naive["median"], 2) if naive["median"] else None,
            "verdict": "ok" if ours["median"] <= TARGET_MS and a["bytes"] <= TARGET_BYTES else "MISS",
        })
    return {"benchmark": "map", "date": now_iso(), "contributions": loaded, "densest_point": dense,
            "desktop_map_px": list(DESKTOP_MAP), "targets": {"ms": TARGET_MS, "bytes": TARGET_BYTES},
            "protocol": f"in-process (Flask test client), {runs} rounds ({NAIVE_RUNS} of the naive SQL); naive = the filter's rows grouped "
                        f"into {CLUSTER_PX} px cells in SQL, psycopg, same round",
            "quiet": quiet, "loadavg_before": load_before, "loadavg_after": loadavg(),
            "machine": machine_facts(db), "results": results}


def table_rows(result: dict) -> list[list]:
    return [[r["what"] + f" ({r['bytes'] / 1000:.0f} KB)", r["ours"]["median"], r["ours"]["p95"],
             r["target_ms"], f"naive SQL {r['naive_sql']['median']:.1f}", r["ratio_to_naive"], r["verdict"]]
            for r in result["results"]]
