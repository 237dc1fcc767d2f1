"""Synthetic reports shaped like the DansMaRue extract, to reach the reference's 1M-row scale.

The 40k real reports are too few for a 300 × 200 m bbox to hold a full 500-feature page, so
the bench adds N reports (default 1,000,000) made from the real ones: each copies a real
report's category, title and address, moves its point by up to 30 m (uniform in a disc)
and gets a date drawn uniformly over the extract's date range. Real hotspots (streets,
stations, markets) therefore stay hotspots, with the same category mix.

Loading goes through the importer's own bulk path: rows are COPYed into the importer's
staging table and `app.importers.dansmarue._load` inserts them with the same set-based
quartier/arrondissement assignment as a real import. Nothing is written to `contributions` any other way.
"""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.importers import dansmarue
from geo.validation import inside_paris_mask

PREFIX = "SYN-"
JITTER_M = 30.0
M_PER_DEG_LAT = 111_132.0  # at Paris' latitude; lon degrees are scaled by cos(lat)


def _base(session: Session) -> dict[str, np.ndarray]:
    rows = session.execute(text("""
        SELECT category_id, title, coalesce(address, ''), ST_X(geom), ST_Y(geom),
               extract(epoch FROM created_at)
        FROM contributions
        WHERE kind = 'report' AND source = :source AND source_id NOT LIKE :synthetic
        ORDER BY id
    """), {"source": dansmarue.SOURCE, "synthetic": PREFIX + "%"}).all()
    if not rows:
        raise RuntimeError("synthetic: import the real extract first (it is the sample)")
    cat, title, address, lon, lat, epoch = zip(*rows, strict=True)
    return {
        "category_id": np.array(cat), "title": np.array(title, dtype=object),
        "address": np.array(address, dtype=object), "lon": np.array(lon), "lat": np.array(lat),
        "epoch": np.array(epoch, dtype=float),
    }


def stage(session, rows) -> None:
    """COPY generated rows into the importer's staging table; dansmarue._load reads it."""
    from app.importers.dansmarue import create_staging

    create_staging(session)
    conn = session.connection().connection.driver_connection
    columns = [rows[k].tolist() for k in ("source_id", "category_id", "title", "address",
                                          "created_at", "lon", "lat")]
    with conn.cursor() as cur, cur.copy("COPY import_staging FROM STDIN") as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)


def generate(session: Session, n: int, seed: int = 42) -> dict[str, np.ndarray]:
    """n synthetic rows (column arrays), all inside Paris, deterministic for a given seed."""
    base = _base(session)
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("idx", "lon", "lat")}
    have = 0
    while have < n:  # a few jittered border points fall outside Paris: draw again
        m = int((n - have) * 1.03) + 100
        idx = rng.integers(0, len(base["lon"]), m)
        r = JITTER_M * np.sqrt(rng.random(m))
        theta = rng.random(m) * 2 * np.pi
        lat = base["lat"][idx] + r * np.sin(theta) / M_PER_DEG_LAT
        lon = base["lon"][idx] + r * np.cos(theta) / (M_PER_DEG_LAT * np.cos(np.radians(lat)))
        ok = inside_paris_mask(lon, lat)
        for key, arr in (("idx", idx), ("lon", lon), ("lat", lat)):
            out[key].append(arr[ok])
        have += int(ok.sum())
    idx = np.concatenate(out["idx"])[:n]
    lo, hi = base["epoch"].min(), base["epoch"].max() + 86400
    seconds = rng.integers(int(lo), int(hi), n).astype("datetime64[s]")
    return {
        "source_id": np.char.add(PREFIX, np.char.zfill(np.arange(1, n + 1).astype(str), 9)),
        "category_id": base["category_id"][idx],
        "title": base["title"][idx],
        "address": base["address"][idx],
        # staging.created_at is Paris local time, like the extract's dates
        "created_at": np.datetime_as_string(seconds, unit="s"),
        "lon": np.concatenate(out["lon"])[:n].round(7),
        "lat": np.concatenate(out["lat"])[:n].round(7),
    }


def load(url: str, n: int, seed: int = 42) -> dict:
    """Generate and load n synthetic reports; returns counts and phase timings (s)."""
    engine = create_engine(url, connect_args={"options": "-c timezone=UTC"})
    timings: dict[str, float] = {}
    with Session(engine) as session:
        started = time.perf_counter()
        rows = generate(session, n, seed)
        timings["generate_s"] = time.perf_counter() - started

        started = time.perf_counter()
        stage(session, rows)
        timings["copy_staging_s"] = time.perf_counter() - started

        started = time.perf_counter()
        summary = dansmarue.ImportSummary(read=n)
        dansmarue._load(session, n, summary)
        session.commit()
        timings["insert_s"] = time.perf_counter() - started
    engine.dispose()
    return {
        "requested": n,
        "inserted": summary.imported,
        "unlocated": len(summary.rejected),
        "seed": seed,
        "jitter_m": JITTER_M,
        **{k: round(v, 2) for k, v in timings.items()},
    }


# --------------------------------------------------------------------------- export files
# The import bench needs files, not rows: a full export of N rows in the portal's format and
# the daily delta that follows it. Both are written from the shipped extract the way
# `generate` draws rows (a real row copied, its point moved by up to JITTER_M, its date
# drawn), so the importer parses what it parses in production.

EXPORT_PREFIX = "SYN"  # id_dmr SYN000000001…: ids the extract's (e.g. A2023G041622) never take
EXPORT_FIRST_DAY = "2018-01-01"  # 5M reports are ~6.7 years of Paris (742k in 2022)
EXPORT_LAST_DAY = "2024-09-12"  # the extract's last declaration


def _export_id(i: int) -> str:
    return f"{EXPORT_PREFIX}{i:09d}"


def _read_extract(path) -> tuple[list[str], list[list[str]]]:
    import csv

    with dansmarue.open_csv(path) as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [row for row in reader]


def _export_rows(header, base, rng, ids, moved=None):
    """Rows for `ids` (ints): a random real row each, moved, re-dated, renumbered."""
    col = {name: i for i, name in enumerate(header)}
    n = len(ids)
    pick = rng.integers(0, len(base), n)
    lon0 = np.array([float(base[i][col["lon"]]) for i in pick])
    lat0 = np.array([float(base[i][col["lat"]]) for i in pick])
    r = JITTER_M * np.sqrt(rng.random(n))
    theta = rng.random(n) * 2 * np.pi
    lat = lat0 + r * np.sin(theta) / M_PER_DEG_LAT
    lon = lon0 + r * np.cos(theta) / (M_PER_DEG_LAT * np.cos(np.radians(lat)))
    outside = ~inside_paris_mask(lon, lat)
    lon[outside], lat[outside] = lon0[outside], lat0[outside]  # a border point keeps its place
    first = np.datetime64(EXPORT_FIRST_DAY)
    days = (np.datetime64(EXPORT_LAST_DAY) - first).astype(int) + 1
    dates = np.datetime_as_string(first + rng.integers(0, days, n).astype("timedelta64[D]"), unit="D")
    for k in range(n):
        row = list(base[pick[k]])
        x, y, day = f"{lon[k]:.7f}", f"{lat[k]:.7f}", str(dates[k])
        row[col["numero"]] = str(ids[k] % 1_000_000)
        row[col["datedecl"]] = day
        row[col["anneedecl"]] = day[:4]
        row[col["moisdecl"]] = str(int(day[5:7]))
        row[col["mois_annee_decla"]] = day[:7]
        row[col["id_dmr"]] = _export_id(ids[k])
        row[col["geo_shape"]] = (f"{{'type': 'Feature', 'geometry': {{'coordinates': [{x}, {y}], "
                                 f"'type': 'Point'}}, 'properties': {{}}}}")
        row[col["geo_point_2d"]] = f"{{'lon': {x}, 'lat': {y}}}"
        row[col["lon"]], row[col["lat"]] = x, y
        row[col["source_commit"]] = "synthetic"
        yield row


def write_export(extract, path, n: int, seed: int = 42, chunk: int = 250_000) -> int:
    """Write an n-row export shaped like `extract` (ids SYN000000001 … in date-free order)."""
    import csv

    header, base = _read_extract(extract)
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for start in range(1, n + 1, chunk):
            ids = range(start, min(start + chunk, n + 1))
            writer.writerows(_export_rows(header, base, rng, ids))
    return n


def write_delta(extract, path, n: int, new: int = 3_000, changed: int = 2_000, seed: int = 7) -> dict:
    """The next day's delta of an n-row export: `new` ids after the last one, and `changed`
    existing ids re-published with another category (type/soustype) and a moved point, as
    the portal re-publishes a report it re-qualified."""
    import csv

    header, base = _read_extract(extract)
    rng = np.random.default_rng(seed)
    existing = sorted(rng.choice(np.arange(1, n + 1), changed, replace=False).tolist())
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(_export_rows(header, base, rng, existing))
        writer.writerows(_export_rows(header, base, rng, range(n + 1, n + new + 1)))
    return {"new": new, "changed": changed, "changed_ids": [_export_id(i) for i in existing]}
