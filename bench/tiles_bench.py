"""`tiles`: server time and size of /tiles/contributions/{z}/{x}/{y}.mvt, zooms 10–18, over Paris.

Data: the extract plus synthetic reports up to `--tile-rows` in all (5,000,000 by default; the
issue's target). Reports are added in chunks of CHUNK rows through the importer's own
set-based insert (as `bbox` loads its 1M, so every trigger, the tile cells' included, runs as
in a live import), numbered after the synthetic reports already there, so the bbox bench's
first million stays as it is (`bbox` reloads its own count if it differs).

Tiles: for each zoom, the tiles whose centre lies inside the city's boundary, a seeded sample of
`--tiles` of them (all of them where there are fewer). Each is requested once to warm up, then
timed through the app in process (Flask's test client: routing, validation, the SQL, gzip off),
which is the server's time without the network. Sizes are the MVT bytes and their gzip.

Maintenance: what the tile triggers add to writes, measured in rolled-back transactions with
the `tiles_*` triggers on and off, interleaved: a 50,000-row bulk insert through the importer,
and single-row INSERTs (an API write's cost).
"""

from __future__ import annotations

import gzip
import math
import random
import statistics
import time

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench import common, synthetic
from bench.common import BenchDb, log

ZOOMS = range(10, 19)
CHUNK = 1_000_000
BULK_ROWS = 50_000
SINGLE_INSERTS = 200
TARGET_MS = 50.0
TARGET_BYTES = 500_000
TRIGGERS = ("tiles_insert", "tiles_update", "tiles_delete", "tiles_truncate")


# --------------------------------------------------------------------------- data

def _counts(db: BenchDb) -> tuple[int, int]:
    with db.connect() as conn:
        return conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE source_id LIKE %(p)s) FROM contributions",
            {"p": synthetic.PREFIX + "%"}).fetchone()


def _load_chunk(db: BenchDb, n: int, start: int, seed: int, session: Session | None = None) -> float:
    """n synthetic reports numbered from `start`, through the importer's insert; seconds.
    Committed, unless a session is given (then the caller decides)."""
    from app.importers import dansmarue

    own = session is None
    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"}) if own else None
    session = session or Session(engine)
    try:
        rows = synthetic.generate(session, n, seed)
        rows["source_id"] = np.char.add(synthetic.PREFIX,
                                        np.char.zfill(np.arange(start, start + n).astype(str), 9))
        synthetic.stage(session, rows)
        started = time.perf_counter()
        dansmarue._load(session, n, dansmarue.ImportSummary(read=n))
        elapsed = time.perf_counter() - started
        if own:
            session.commit()
        return elapsed
    finally:
        if own:
            session.close()
            engine.dispose()


def ensure_data(db: BenchDb, rows: int, seed: int) -> dict:
    """The extract plus synthetic reports until `rows` contributions in all."""
    from bench import bbox_bench

    total, synth = _counts(db)
    if total == 0:
        bbox_bench.ensure_data(db, 0, seed)  # the real extract, through the importer
        total, synth = _counts(db)
    loads = []
    while total < rows:
        n = min(CHUNK, rows - total)
        log(f"tiles: loading {n:,} synthetic reports ({total:,} → {total + n:,})")
        loads.append(round(_load_chunk(db, n, synth + 1, seed + synth), 1))
        total, synth = _counts(db)
    if loads:
        with db.connect() as conn:
            common.settle(conn)
            conn.autocommit = True
            conn.execute("VACUUM (ANALYZE) tile_cells")
            conn.execute("VACUUM (ANALYZE) tile_area_counts")
    with db.connect() as conn:
        sizes = conn.execute("""SELECT pg_size_pretty(pg_total_relation_size('tile_cells')),
            (SELECT count(*) FROM tile_cells), pg_size_pretty(pg_total_relation_size('contributions'))
        """).fetchone()
    return {"contributions": total, "synthetic": synth, "chunk_insert_s": loads,
            "tile_cells_size": sizes[0], "tile_cells_rows": sizes[1], "contributions_size": sizes[2]}


# --------------------------------------------------------------------------- tiles

def tile_xy(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 2**z
    lat_r = math.radians(lat)
    return (lon + 180) / 360 * n, (1 - math.log(math.tan(lat_r) + 1 / math.cos(lat_r)) / math.pi) / 2 * n


def tile_corner(z: int, x: float, y: float) -> tuple[float, float]:
    """lon, lat of the point (x, y) in tile units at z (the north-west corner for integers)."""
    n = 2**z
    return x / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def tile_centre(z: int, x: int, y: int) -> tuple[float, float]:
    return tile_corner(z, x + 0.5, y + 0.5)


def paris_tiles(z: int) -> list[tuple[int, int, int]]:
    """Every tile at z whose centre is inside the city's boundary; up to zoom 12, where a tile
    is a quarter of the city or more, every tile that meets it."""
    from shapely import Point, box, prepared

    from geo.areas import paris_bbox, paris_boundary

    boundary = prepared.prep(paris_boundary())
    w, s, e, n = paris_bbox()
    x0, y0 = (int(v) for v in tile_xy(w, n, z))
    x1, y1 = (int(v) for v in tile_xy(e, s, z))
    def inside(x: int, y: int) -> bool:
        if z > 12:
            return boundary.contains(Point(*tile_centre(z, x, y)))
        (w_, n_), (e_, s_) = tile_corner(z, x, y), tile_corner(z, x + 1, y + 1)
        return boundary.intersects(box(w_, s_, e_, n_))

    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1) if inside(x, y)]


def measure_tiles(db: BenchDb, per_zoom: int, seed: int, quiet_wait: float) -> dict:
    from app import create_app

    app = create_app({"DATABASE_URL": db.url, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    rng = random.Random(seed)
    out = {}
    for z in ZOOMS:
        every = paris_tiles(z)
        tiles = sorted(rng.sample(every, min(per_zoom, len(every))))
        paths = [f"/tiles/contributions/{z}/{x}/{y}.mvt" for z, x, y in tiles]
        for path in paths:  # warm-up: plans, caches, the category index
            assert client.get(path).status_code == 200
        quiet = common.wait_for_quiet(quiet_wait)
        times, sizes, zipped = [], [], []
        for path in paths:
            started = time.perf_counter()
            r = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200, r.data[:200]
            sizes.append(len(r.data))
            zipped.append(len(gzip.compress(r.data, 6)) if r.data else 0)
        out[str(z)] = {
            "tiles_in_paris": len(every), "tiles_measured": len(paths),
            "ms": common.summary(times, 2), "bytes": common.summary(sizes, 0),
            "gzip_bytes": common.summary(zipped, 0), "quiet": quiet,
            "median_ok": statistics.median(times) <= TARGET_MS,
            "size_ok": statistics.median(sizes) <= TARGET_BYTES,
            "largest_ok": max(sizes) <= TARGET_BYTES,
        }
        s = out[str(z)]
        log(f"tiles: z{z} median {s['ms']['median']} ms, p95 {s['ms']['p95']} ms, "
            f"median {s['bytes']['median'] / 1000:.0f} kB, max {s['bytes']['max'] / 1000:.0f} kB")
    return out


# --------------------------------------------------------------------------- maintenance

def _set_triggers(session: Session, on: bool) -> None:
    for name in TRIGGERS:
        session.execute(text(f"ALTER TABLE contributions {'ENABLE' if on else 'DISABLE'} TRIGGER {name}"))


def measure_maintenance(db: BenchDb, seed: int, rounds: int = 3) -> dict:
    engine = create_engine(db.url, connect_args={"options": "-c timezone=UTC"})
    bulk = {True: [], False: []}
    single = {True: [], False: []}
    try:
        for r in range(rounds):
            for on in (True, False):
                with Session(engine) as session:
                    _set_triggers(session, on)
                    bulk[on].append(_load_chunk(db, BULK_ROWS, 900_000_000 + r * BULK_ROWS, seed + r,
                                                session=session))
                    session.rollback()
        template = """INSERT INTO contributions (kind, category_id, status, title, geom,
                          arrondissement_id, quartier_id, feature_json)
                      SELECT kind, category_id, status, title, geom, arrondissement_id, quartier_id,
                             feature_json FROM contributions WHERE id = :id"""
        with Session(engine) as session:
            ids = session.execute(text("SELECT id FROM contributions TABLESAMPLE SYSTEM (0.1) LIMIT :n"),
                                  {"n": SINGLE_INSERTS}).scalars().all()
            for on in (True, False):
                _set_triggers(session, on)
                for i in ids:  # warm-up
                    session.execute(text(template), {"id": i})
                session.rollback()
            for i in ids:
                for on in (True, False):
                    _set_triggers(session, on)
                    session.execute(text("SAVEPOINT one"))
                    started = time.perf_counter()
                    session.execute(text(template), {"id": i})
                    single[on].append((time.perf_counter() - started) * 1000)
                    session.execute(text("ROLLBACK TO SAVEPOINT one"))
            session.rollback()
    finally:
        engine.dispose()
    b_on, b_off = statistics.median(bulk[True]), statistics.median(bulk[False])
    s_on, s_off = statistics.median(single[True]), statistics.median(single[False])
    return {
        "bulk_rows": BULK_ROWS,
        "bulk_s_with_tile_triggers": common.summary(bulk[True], 2),
        "bulk_s_without": common.summary(bulk[False], 2),
        "bulk_overhead_pct": round((b_on / b_off - 1) * 100, 1),
        "single_insert_ms_with": common.summary(single[True], 3),
        "single_insert_ms_without": common.summary(single[False], 3),
        "single_overhead_ms": round(s_on - s_off, 3),
    }


# --------------------------------------------------------------------------- entry

def run(db: BenchDb, rows: int, per_zoom: int, seed: int, quiet_wait: float) -> dict:
    data = ensure_data(db, rows, seed)
    log(f"tiles: data {data}")
    zooms = measure_tiles(db, per_zoom, seed, quiet_wait)
    log("tiles: maintenance overhead")
    maintenance = measure_maintenance(db, seed)
    return {"date": common.now_iso(), "machine": common.machine_facts(db), "data": data,
            "targets": {"median_ms": TARGET_MS, "bytes": TARGET_BYTES}, "zooms": zooms,
            "maintenance": maintenance, "loadavg": common.loadavg()}


def print_tables(result: dict) -> None:
    d = result["data"]
    rows = []
    for z, s in result["zooms"].items():
        rows.append([z, s["tiles_measured"], s["ms"]["median"], s["ms"]["p95"], s["ms"]["max"],
                     round(s["bytes"]["median"] / 1000, 1), round(s["bytes"]["p95"] / 1000, 1),
                     round(s["bytes"]["max"] / 1000, 1), round(s["gzip_bytes"]["median"] / 1000, 1),
                     "ok" if s["median_ok"] and s["size_ok"] else "MISSED"])
    common.print_table(
        f"tiles: /tiles/contributions on {d['contributions']:,} contributions (in process; "
        f"targets median ≤ {TARGET_MS:.0f} ms and ≤ {TARGET_BYTES // 1000} kB)",
        ["z", "tiles", "median ms", "p95 ms", "max ms", "median kB", "p95 kB", "max kB",
         "gzip median kB", "target"], rows)
    m = result["maintenance"]
    common.print_table("tiles: what the tile triggers add to writes", ["write", "with", "without", "overhead"], [
        [f"bulk insert of {m['bulk_rows']:,} rows (s)", m["bulk_s_with_tile_triggers"]["median"],
         m["bulk_s_without"]["median"], f"{m['bulk_overhead_pct']} %"],
        ["one-row INSERT (ms)", m["single_insert_ms_with"]["median"], m["single_insert_ms_without"]["median"],
         f"{m['single_overhead_ms']} ms"],
    ])
