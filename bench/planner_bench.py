"""Planner statistics at scale: each /api/v1/stats endpoint against the naive PostGIS query
that computes the same answer from the raw contributions table, with an equality check.

    .venv/bin/python bench/planner_bench.py --n 5000000          # builds the DB, then measures
    .venv/bin/python bench/planner_bench.py --n 5000000 --reuse  # measures an existing DB

"Ours" is the whole request through Flask's test client (routing, filter parsing, SQL,
serialisation), as a planner; "naive" is the textbook SQL on the raw table: hexagons by
ST_HexagonGrid ⋈ ST_Intersects, areas by point-in-polygon, time buckets by date_trunc on
created_at, DBSCAN on geom_l93, percentiles on contributions. The naive side gets a
GIST(geom_l93) index (as in postgis-performance.md), so it is the best raw plan, not a straw
man. Protocol: 1 warm-up then 7 timed runs (3 when a run takes over 2 s); medians.
Writes bench/results/planner.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.planner_synthetic import database_url, generate, prepare  # noqa: E402
from geo import aggregations as agg  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "planner.json"
Q1_2024 = "since=2024-01-01&until=2024-03-31"


def timed(fn, runs=7):
    fn()  # warm-up
    first = time.perf_counter()
    out = fn()
    times = [(time.perf_counter() - first) * 1000]
    n = runs if times[0] < 2000 else 3
    for _ in range(n - 1):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def timed_slow(fn):
    """Naive queries: no warm-up when a run takes seconds (the data is hot anyway)."""
    t = time.perf_counter()
    out = fn()
    first = (time.perf_counter() - t) * 1000
    if first > 2000:
        times = [first]
        for _ in range(2):
            t = time.perf_counter()
            out = fn()
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times), out
    return timed(fn)


def filters(**kw) -> agg.AggFilters:
    p = agg.paris_midnight
    f = agg.AggFilters(**{k: v for k, v in kw.items() if k not in ("since", "until")})
    if "since" in kw:
        f.since = p(kw["since"])
    if "until" in kw:
        f.until = p(kw["until"])
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument("--db", default="cartagora_bench_planner")
    parser.add_argument("--reuse", action="store_true", help="Measure the existing database.")
    args = parser.parse_args()

    url = database_url(args.db)
    load_s = None
    if not args.reuse:
        prepare(args.db)
        load_s = generate(url, args.n)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX IF NOT EXISTS bench_naive_geom_l93 ON contributions "
                          "USING gist (geom_l93)"))
        conn.execute(text("ANALYZE contributions"))
        total = conn.scalar(text("SELECT count(*) FROM contributions"))
        cats = dict(conn.execute(text("SELECT code, id FROM categories")).all())
        subtree = lambda code: [i for c, i in cats.items() if c == code or c.startswith(code + ".")]  # noqa: E731

    from app import create_app
    from app.accounts.services import create_user
    from app.db import db

    app = create_app({"DATABASE_URL": url})
    client = app.test_client()
    with app.app_context():
        email = f"bench-planner-{time.time_ns()}@example.org"
        create_user(db.session, email, "a long enough password", "Bench planner", ["planner"])
        db.session.commit()
    token = client.post("/api/v1/auth/token", json={"email": email, "password": "a long enough password"}
                        ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def ours(path):
        def call():
            r = client.get(path, headers=headers)
            assert r.status_code == 200, r.get_data(as_text=True)[:500]
            return r.get_data()  # parsed after timing
        return call

    def naive(q: agg.Query):
        def call():
            with engine.connect() as conn:
                return conn.execute(text(q.sql), q.params).all()
        return call

    obj = "objets-abandonnes"
    obj_f = dict(category_ids=subtree(obj), type_ids=[cats[obj]])
    cases = []

    def hex_case(name, path, f, level):
        cases.append((name, path, agg.hexbins_naive(f, level),
                      lambda body: {x["properties"]["cell"]: x["properties"]["count"] for x in body["features"]},
                      lambda rows: dict(rows)))

    hex_case("hexbins 200 m, all time", "/api/v1/stats/hexbins?cell_m=200", filters(), 200)
    hex_case("hexbins 200 m, category + 3 months",
             f"/api/v1/stats/hexbins?cell_m=200&category={obj}&{Q1_2024}",
             filters(**obj_f, since=date(2024, 1, 1), until=date(2024, 4, 1)), 200)
    hex_case("hexbins 100 m, all time", "/api/v1/stats/hexbins?cell_m=100", filters(), 100)

    def areas_case(name, path, f, level):
        prev = f.previous()

        def naive_both():
            cur = dict(naive(agg.areas_naive(f, level))())
            before = dict(naive(agg.areas_naive(prev, level))()) if prev else {}
            return cur, before

        cases.append((name, path, naive_both,
                      lambda body: ({a["code"]: a["count"] for a in body["areas"] if a["count"]},
                                    {a["code"]: a["previous_count"] for a in body["areas"]
                                     if a["previous_count"]}),
                      lambda rows: rows))

    areas_case("areas arrondissement, all time", "/api/v1/stats/areas?level=arrondissement",
               filters(), "arrondissement")
    areas_case("areas quartier, 3 months + previous", f"/api/v1/stats/areas?level=quartier&{Q1_2024}",
               filters(since=date(2024, 1, 1), until=date(2024, 4, 1)), "quartier")

    def ts_case(name, path, f, interval):
        cases.append((name, path, agg.timeseries_naive(f, interval),
                      lambda body: {p["period"]: p["count"] for p in body["series"] if p["count"]},
                      lambda rows: {k.isoformat(): n for k, n in rows}))

    ts_case("timeseries week, all time", "/api/v1/stats/timeseries?interval=week", filters(), "week")
    ts_case("timeseries day, category, 2024", f"/api/v1/stats/timeseries?interval=day&category={obj}"
            "&since=2024-01-01&until=2024-12-31",
            filters(**obj_f, since=date(2024, 1, 1), until=date(2025, 1, 1)), "day")
    ts_case("timeseries month, arrondissement 11", "/api/v1/stats/timeseries?interval=month&arrondissement=11",
            filters(arrondissements=[11]), "month")

    hs_f = filters(**obj_f, since=date(2024, 3, 1), until=date(2024, 4, 1))
    cases.append(("hotspots, 1 month of 1 category (DBSCAN 50 m / 20)",
                  f"/api/v1/stats/hotspots?category={obj}&since=2024-03-01&until=2024-03-31"
                  "&eps_m=50&min_points=20&limit=200",
                  agg.hotspots_naive(hs_f, 50, 20),
                  lambda body: sorted((x["properties"]["count"] for x in body["features"]), reverse=True),
                  lambda rows: [n for (n,) in rows][:200]))

    def res_ours(body):
        return {g["code"]: (g["count"], g["ack_median_h"], g["resolve_p90_h"], g["share_resolved"])
                for g in body["groups"]}

    def res_naive(rows):
        return {r.k: (r.n, round(float(r.ack_median_h), 2), round(float(r.resolve_p90_h), 2),
                      round(r.resolved / r.n, 4)) for r in rows}

    cases.append(("resolution by arrondissement, 2024", "/api/v1/stats/resolution?group_by=arrondissement"
                  "&since=2024-01-01&until=2024-12-31",
                  agg.resolution_naive(filters(since=date(2024, 1, 1), until=date(2025, 1, 1)), "arrondissement"),
                  res_ours, res_naive))

    results = []
    print(f"{'endpoint':<55} {'ours ms':>9} {'naive ms':>10} {'ratio':>7}  equal  source")
    for name, path, naive_q, ours_key, naive_key in cases:
        ours_ms, raw = timed(ours(path))
        body = json.loads(raw)
        fn = naive_q if callable(naive_q) else naive(naive_q)
        naive_ms, rows = timed_slow(fn)
        equal = ours_key(body) == naive_key(rows)
        row = {"endpoint": name, "path": path, "ours_ms": round(ours_ms, 1), "naive_ms": round(naive_ms, 1),
               "ratio": round(naive_ms / ours_ms, 1), "equal": equal, "source": body.get("source")}
        results.append(row)
        print(f"{name:<55} {ours_ms:>9.1f} {naive_ms:>10.1f} {row['ratio']:>6.0f}×  "
              f"{'yes' if equal else 'NO':<5}  {row['source']}", flush=True)

    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "reports": total, "synthetic_load_s": load_s, "machine": "2 vCPU, PostgreSQL 15 + PostGIS 3.3",
        "protocol": "1 warm-up + 7 runs (3 if > 2 s), medians; ours = Flask test client as a planner",
        "results": results}, indent=2))
    print(f"written {RESULTS.relative_to(ROOT)} ({total:,} contributions)")


if __name__ == "__main__":
    main()
