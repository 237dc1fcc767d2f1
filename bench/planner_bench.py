"""`planner`: each /api/v1/stats endpoint against the naive PostGIS query that computes the
same answer from the raw contributions table, with an equality check.

    .venv/bin/python -m bench planner                                   # on the shared dataset
    .venv/bin/python bench/planner_bench.py --n 5000000                 # its own database
    .venv/bin/python bench/planner_bench.py --reuse                     # measure it again

"Ours" is the whole request through Flask's test client (routing, filter parsing, SQL,
serialisation), as a planner (staff: nothing suppressed); "naive" is the textbook SQL on the
raw table: hexagons by ST_HexagonGrid ⋈ ST_Intersects, areas by point-in-polygon, time buckets
by date_trunc on created_at, DBSCAN on geom_l93, `percentile_disc` over every row for the
resolution times (the API's definition: geo/aggregations.py). The naive side gets a
GIST(geom_l93) index (as in postgis-performance.md), so it is the best raw plan, not a straw
man. Protocol: per case, 1 warm-up then `runs` timed requests (median, p95), then the naive
query (1 warm-up and 5 runs, 3 without warm-up when one takes over 2 s; median), with the
load average beside each case. Writes bench/results/planner.json.
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench import common  # noqa: E402
from bench.common import BenchDb, log  # noqa: E402
from geo import aggregations as agg  # noqa: E402

TARGET_MS = 50.0
Q1_2024 = "since=2024-01-01&until=2024-03-31"
OBJ = "objets-abandonnes"  # the extract's largest type


def _median_ms(fn, runs: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return times, out


def timed_ours(fn, runs: int) -> tuple[dict, object]:
    fn()  # warm-up
    times, out = _median_ms(fn, runs)
    return common.summary(times, 1), out


def timed_naive(fn) -> tuple[float, object]:
    """The naive query: no warm-up when a run takes seconds (the data is hot anyway)."""
    first, out = _median_ms(fn, 1)
    times, out = _median_ms(fn, 2 if first[0] > 2000 else 5)
    return statistics.median(first + times if first[0] > 2000 else times), out


def filters(**kw) -> agg.AggFilters:
    """AggFilters as the API builds them: bare dates are Paris midnights, `until` exclusive."""
    f = agg.AggFilters(**{k: v for k, v in kw.items() if k not in ("since", "until")})
    for bound in ("since", "until"):
        if bound in kw:
            setattr(f, bound, agg.paris_midnight(kw[bound]))
    return f


def hours(minutes) -> float | None:
    return None if minutes is None else round(int(minutes) / 60, 2)


def cases(cats: dict[str, int]) -> list[tuple]:
    """(name, path, naive query or callable, key of our body, key of the naive rows)."""
    from app.contributions.models import STATUS_GROUPS

    subtree = [i for c, i in cats.items() if c == OBJ or c.startswith(OBJ + ".")]
    obj = dict(category_ids=subtree, type_ids=[cats[OBJ]])
    out = []

    def hexbins(name, path, f, level):
        out.append((name, path, agg.hexbins_naive(f, level),
                    lambda body: {x["properties"]["cell"]: x["properties"]["count"]
                                  for x in body["features"]},
                    lambda rows: dict(rows)))

    hexbins("hexbins 200 m, all time", "/api/v1/stats/hexbins?cell_m=200", filters(), 200)
    hexbins("hexbins 200 m, category + 3 months", f"/api/v1/stats/hexbins?cell_m=200&category={OBJ}&{Q1_2024}",
            filters(**obj, since=date(2024, 1, 1), until=date(2024, 4, 1)), 200)
    hexbins("hexbins 100 m, all time", "/api/v1/stats/hexbins?cell_m=100", filters(), 100)

    def areas(name, path, f, level):
        def naive_both(conn):
            cur = dict(conn.execute(text((q := agg.areas_naive(f, level)).sql), q.params).all())
            prev = f.previous()
            before = dict(conn.execute(text((p := agg.areas_naive(prev, level)).sql), p.params).all()) \
                if prev else {}
            return cur, before

        out.append((name, path, naive_both,
                    lambda body: ({a["code"]: a["count"] for a in body["areas"] if a["count"]},
                                  {a["code"]: a["previous_count"] for a in body["areas"]
                                   if a["previous_count"]}),
                    lambda rows: rows))

    areas("areas arrondissement, all time", "/api/v1/stats/areas?level=arrondissement", filters(),
          "arrondissement")
    areas("areas quartier, 3 months + previous", f"/api/v1/stats/areas?level=quartier&{Q1_2024}",
          filters(since=date(2024, 1, 1), until=date(2024, 4, 1)), "quartier")

    def series(name, path, f, interval):
        out.append((name, path, agg.timeseries_naive(f, interval),
                    lambda body: {p["period"]: p["count"] for p in body["series"] if p["count"]},
                    lambda rows: {k.isoformat(): n for k, n in rows}))

    series("timeseries week, all time", "/api/v1/stats/timeseries?interval=week", filters(), "week")
    series("timeseries day, category, 2024", f"/api/v1/stats/timeseries?interval=day&category={OBJ}"
           "&since=2024-01-01&until=2024-12-31",
           filters(**obj, since=date(2024, 1, 1), until=date(2025, 1, 1)), "day")
    series("timeseries month, arrondissement 11", "/api/v1/stats/timeseries?interval=month&arrondissement=11",
           filters(arrondissements=[11]), "month")

    out.append(("hotspots, 1 month of 1 category (DBSCAN 50 m / 20)",
                f"/api/v1/stats/hotspots?category={OBJ}&since=2024-03-01&until=2024-03-31"
                "&eps_m=50&min_points=20&limit=200",
                agg.hotspots_naive(filters(**obj, since=date(2024, 3, 1), until=date(2024, 4, 1)), 50, 20),
                # DBSCAN gives a border point (within eps of two clusters' cores) to whichever
                # cluster reaches it first, so sizes depend on the rows' order (ours 635 / 215
                # where the raw table's order gives 633 / 216); the clusters and the points
                # clustered do not: compare those
                lambda body: (len(body["features"]), sum(x["properties"]["count"] for x in body["features"])),
                lambda rows: (len(rows[:200]), sum(n for (n,) in rows[:200]))))

    def resolution(name, query, f, group_by, labels):
        def naive_rows(conn):
            q = agg.resolution_naive(f, group_by)
            return labels(conn), conn.execute(text(q.sql), q.params).all()

        def naive_key(result):
            names, rows = result
            return {names.get(r.k, r.k): (
                r.n, hours(r.ack_median), hours(r.ack_p90), hours(r.resolve_median),
                hours(r.resolve_p90), round(r.resolved / r.n, 4),
                round(r.reopened / r.ever_closed, 4) if r.ever_closed else None) for r in rows}

        out.append((name, f"/api/v1/stats/resolution?{query}", naive_rows,
                    lambda body: {g["code"]: (g["count"], g["ack_median_h"], g["ack_p90_h"],
                                              g["resolve_median_h"], g["resolve_p90_h"],
                                              g["share_resolved"], g["reopen_rate"])
                                  for g in body["groups"]},
                    naive_key))

    def same(_conn):
        return {}

    def type_codes(conn):
        return {i: c for c, i in conn.execute(text("SELECT code, id FROM categories")).all()}

    def service_codes(conn):
        return dict(conn.execute(text("SELECT id, code FROM services")).all())

    resolution("resolution by arrondissement, 2024", "group_by=arrondissement&since=2024-01-01&until=2024-12-31",
               filters(since=date(2024, 1, 1), until=date(2025, 1, 1)), "arrondissement", same)
    resolution("resolution by category, all time", "group_by=category", filters(), "category", type_codes)
    resolution("resolution by service, closed, 3 months", f"group_by=service&status=closed&{Q1_2024}",
               filters(statuses=list(STATUS_GROUPS["report"]["closed"]), since=date(2024, 1, 1),
                       until=date(2024, 4, 1)),
               "service", service_codes)
    return out


def _planner_client(url: str):
    """A Flask test client and the headers of a planner (a user is created for the token)."""
    from app import create_app
    from app.accounts.services import create_user
    from app.db import db

    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    with app.app_context():
        email = f"bench-planner-{time.time_ns()}@example.org"
        create_user(db.session, email, "a long enough password", "Bench planner", ["planner"])
        db.session.commit()
    token = client.post("/api/v1/auth/token", json={"email": email, "password": "a long enough password"}
                        ).json["access_token"]
    return client, {"Authorization": f"Bearer {token}"}


def run(db: BenchDb, quiet_wait: float = 60.0, runs: int = 15, naive_index: bool = True,
        only: str | None = None) -> dict:
    """Every planner case on `db` (already loaded): ours (median, p95), naive, equal; `only`:
    the cases whose name contains it.

    `naive_index` creates GIST(geom_l93) on contributions if missing (the naive side's best
    plan; a write, a few minutes at 5M)."""
    engine = create_engine(db.url)
    with engine.begin() as conn:
        if naive_index:
            conn.execute(text("CREATE INDEX IF NOT EXISTS bench_naive_geom_l93 ON contributions "
                              "USING gist (geom_l93)"))
        total = conn.scalar(text("SELECT count(*) FROM contributions"))
        cats = dict(conn.execute(text("SELECT code, id FROM categories")).all())
    client, headers = _planner_client(db.url)
    quiet = common.wait_for_quiet(quiet_wait)
    log(f"planner: {total:,} contributions, {quiet}")
    results = []
    for name, path, naive_q, ours_key, naive_key in cases(cats):
        if only and only not in name:
            continue
        def ours(path=path):
            r = client.get(path, headers=headers)
            assert r.status_code == 200, r.get_data(as_text=True)[:500]
            return r.get_data()  # parsed after timing

        def naive(naive_q=naive_q):
            with engine.connect() as conn:
                if callable(naive_q):
                    return naive_q(conn)
                return conn.execute(text(naive_q.sql), naive_q.params).all()

        load_before = common.loadavg()[0]
        ours_ms, raw = timed_ours(ours, runs)
        body = json.loads(raw)
        naive_ms, rows = timed_naive(naive)
        row = {"endpoint": name, "path": path, "ours_ms": ours_ms["median"], "ours_p95_ms": ours_ms["p95"],
               "ours": ours_ms, "naive_ms": round(naive_ms, 1), "ratio": round(naive_ms / ours_ms["median"], 1),
               "equal": ours_key(body) == naive_key(rows), "source": body.get("source"),
               "bytes": len(raw), "target_ms": TARGET_MS,
               "loadavg_1m": [load_before, common.loadavg()[0]]}
        results.append(row)
        log(f"planner: {name}: {row['ours_ms']} ms (naive {row['naive_ms']}), equal {row['equal']}")
    engine.dispose()
    return {"date": common.now_iso(), "reports": total, "machine": common.machine_facts(db),
            "quiet": quiet, "loadavg": common.loadavg(),
            "protocol": f"per case: 1 warm-up + {runs} requests (median, p95) through Flask's test "
                        "client as a planner; naive SQL: 1 warm-up + 5 runs (3 without warm-up when "
                        "> 2 s), median",
            "results": results}


def print_tables(result: dict) -> None:
    rows = [[r["endpoint"], r["ours_ms"], r["ours_p95_ms"], TARGET_MS, r["naive_ms"], r["ratio"],
             "yes" if r["equal"] else "NO", r["source"], f"{r['loadavg_1m'][0]:.1f}",
             "ok" if r["ours_ms"] <= TARGET_MS and r["equal"] else "MISSED"]
            for r in result["results"]]
    common.print_table(
        f"planner: /api/v1/stats on {result['reports']:,} contributions (in process, as a planner; "
        f"target median ≤ {TARGET_MS:.0f} ms, equal to the naive SQL)",
        ["endpoint", "ours ms", "p95 ms", "target", "naive ms", "naive ÷ ours", "equal", "source",
         "load", "verdict"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument("--db", default="cartagora_bench_planner")
    parser.add_argument("--reuse", action="store_true", help="Measure the existing database.")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--only", default=None, help="Only the cases whose name contains this.")
    parser.add_argument("--no-naive-index", action="store_true",
                        help="Do not create GIST(geom_l93) for the naive side (hexbins, areas).")
    args = parser.parse_args()

    from bench.planner_synthetic import database_url, generate, prepare

    url = database_url(args.db)
    load_s = None
    if not args.reuse:
        prepare(args.db)
        load_s = generate(url, args.n)
    result = run(BenchDb(url), quiet_wait=args.quiet_wait, runs=args.runs, only=args.only,
                 naive_index=not args.no_naive_index)
    result["synthetic_load_s"] = load_s
    print_tables(result)
    log(f"wrote {common.write_result('planner', result)}")


if __name__ == "__main__":
    main()
