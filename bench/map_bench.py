"""The resident map's data path: bytes and server milliseconds per view.

    .venv/bin/python bench/map_bench.py [--reuse-db] [--runs 30] [--pans 100]

On its own database (`cartagora_bench_map`, never the development one) holding the areas,
categories and the 39,515-report DansMaRue extract loaded by the real importer, it asks the app
(in-process, Flask's test client: no HTTP, so the time is the server's) for what the map page
fetches:

- the initial city view: the whole of Paris at zoom 12 in a 880 × 748 px map (a 1280 × 800
  screen beside the 400 px list), i.e. `/api/v1/map/clusters`, the first page of
  `/api/v1/map/items` and the outlines `/api/v1/map/areas` (cached a day by the browser);
- the same on a 360 × 640 phone (zoom 11);
- street-level views (zoom 17 and 18) in the densest part of the extract;
- random pans and zooms over Paris (zoom 13–18), for the fluidity of the map.

Targets (the issue): the city view under 300 KB and under 100 ms of server time.
Writes bench/results/map.json.
"""

from __future__ import annotations

import argparse
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
    EXTRACT,
    flask,
    log,
    machine_facts,
    now_iso,
    prepare_database,
    print_table,
    settle,
    summary,
    wait_for_quiet,
    write_result,
)

DB_NAME = "cartagora_bench_map"
PARIS_CENTER = (48.8589, 2.3469)
PARIS_BOUNDS = (2.2242, 48.8156, 2.4699, 48.9022)
DESKTOP_MAP = (880, 748)
PHONE_MAP = (360, 480)
TARGET_BYTES = 300_000
TARGET_MS = 100.0


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
        db_ms = float(timing.split("dur=")[1]) if "dur=" in timing else None
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse-db", action="store_true", help="keep the bench database if loaded")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pans", type=int, default=100)
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    args = parser.parse_args()

    db = prepare_database(DB_NAME, fresh=not args.reuse_db)
    with db.connect() as conn:
        loaded = conn.execute("SELECT count(*) FROM contributions").fetchone()[0]
    if not loaded:
        if not EXTRACT.exists():
            raise SystemExit(f"bench: {EXTRACT} not found")
        log("loading the DansMaRue extract with the app's importer")
        log(flask(db, "import", "dansmarue", str(EXTRACT)).splitlines()[-1])
        with db.connect() as conn:
            settle(conn)
            loaded = conn.execute("SELECT count(*) FROM contributions").fetchone()[0]
    with db.connect() as conn:
        dense = densest_point(conn)

    from app import create_app

    app = create_app({"DATABASE_URL": db.url, "TESTING": False})
    client = Client(app)
    desktop_zoom, phone_zoom = fit_zoom(*DESKTOP_MAP), fit_zoom(*PHONE_MAP)
    city = view_requests(viewport_bbox(*PARIS_CENTER, desktop_zoom, *DESKTOP_MAP), desktop_zoom)
    city["areas"] = "/api/v1/map/areas"
    scenarios = {
        "city_view": city,
        "city_view_phone": view_requests(viewport_bbox(*PARIS_CENTER, phone_zoom, *PHONE_MAP), phone_zoom),
        "city_view_graffiti": view_requests(
            viewport_bbox(*PARIS_CENTER, desktop_zoom, *DESKTOP_MAP), desktop_zoom, {"category": "graffitis"}),
        "street_z17": view_requests(viewport_bbox(*dense, 17, *DESKTOP_MAP), 17),
        "street_z18": view_requests(viewport_bbox(*dense, 18, *DESKTOP_MAP), 18),
    }
    quiet = wait_for_quiet(args.quiet_wait)
    log(f"measuring {len(scenarios)} views x {args.runs} runs on {loaded:,} contributions")
    views = measure(client, scenarios, args.runs)
    log(f"{args.pans} random pans and zooms")
    panning = pans(client, args.pans)

    rows = []
    for name, kinds in views.items():
        for kind, r in kinds.items():
            rows.append([f"{name} {kind}", r["bytes"], r["gzip_bytes"], r["features"],
                         r["ms"]["median"], r["ms"]["p95"], r["db_ms"]["median"] if r["db_ms"] else None])
    print_table(f"Map data path ({loaded:,} contributions, in-process, {args.runs} runs)",
                ["view request", "bytes", "gzip", "features", "ms median", "ms p95", "db ms"], rows)
    city_bytes = sum(r["bytes"] for r in views["city_view"].values())
    city_data_ms = views["city_view"]["clusters"]["ms"]["median"]
    verdict = {
        "city_view_bytes": city_bytes,
        "city_view_bytes_ok": city_bytes < TARGET_BYTES,
        "city_view_clusters_ms_median": city_data_ms,
        "city_view_clusters_ms_p95": views["city_view"]["clusters"]["ms"]["p95"],
        "city_view_ms_ok": city_data_ms < TARGET_MS,
    }
    print(f"\ncity view: {city_bytes:,} bytes (target < {TARGET_BYTES:,}), clusters "
          f"{city_data_ms:.1f} ms median (target < {TARGET_MS:.0f} ms); random pans: "
          f"{panning['ms']['median']:.1f} ms median, {panning['ms']['p95']:.1f} ms p95, "
          f"{panning['bytes']['max']:,.0f} bytes max")
    path = write_result("map", {
        "benchmark": "map", "date": now_iso(), "database": DB_NAME, "contributions": loaded,
        "densest_point": dense, "desktop_map_px": list(DESKTOP_MAP), "phone_map_px": list(PHONE_MAP),
        "targets": {"city_view_bytes": TARGET_BYTES, "city_view_server_ms": TARGET_MS},
        "verdict": verdict, "quiet": quiet, "views": views, "random_pans": panning,
        "machine": machine_facts(db),
        "notes": "In-process (Flask test client): ms is server time for the whole request, db_ms "
                 "the SQL part (Server-Timing). Bytes are uncompressed; gzip shows what a "
                 "compressing proxy would send. The outlines are cached by the browser for a day.",
    })
    log(f"wrote {path.relative_to(ROOT)}")
    sys.exit(0 if verdict["city_view_bytes_ok"] and verdict["city_view_ms_ok"] else 1)


if __name__ == "__main__":
    main()
