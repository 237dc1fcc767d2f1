"""N synthetic reports shaped like the DansMaRue extract, for the planner benchmark.

Each synthetic report copies a real report drawn at random (so the category mix and the
density per quartier are the extract's), moves it by a gaussian step (σ = 40 m, in
Lambert-93), gets a date uniform over 2021-01-01 … 2025-01-01 and a workflow outcome:
78 % resolved, 6 % rejected, 2 % monitoring, 4 % scheduled, 5 % acknowledged, 5 % new, with
exponential times to acknowledge (mean 20 h) and to close (mean 100 h), 3 % reopened once.

Everything happens in SQL, in batches of INSERT … SELECT into contributions, so the rollup
triggers run exactly as they do for the importer (statement-level, transition tables).
The arrondissement and quartier come from the importer's rule (quartier_parts, lowest id).

    .venv/bin/python bench/planner_synthetic.py --db cartagora_bench_planner --n 5000000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

SEED = """
CREATE TEMP TABLE seed AS
SELECT row_number() OVER (ORDER BY id) AS rn, category_id, ST_X(geom_l93) AS x, ST_Y(geom_l93) AS y
FROM contributions WHERE kind = 'report' AND source = 'dansmarue';
CREATE UNIQUE INDEX ON seed (rn);
ANALYZE seed;
"""

# Every random() sits in the target list of the innermost subquery (one evaluation per
# generated row): an uncorrelated LATERAL would be evaluated once for the whole batch.
BATCH_SQL = """
INSERT INTO contributions (kind, category_id, status, title, geom, quartier_id, arrondissement_id,
    source, source_id, created_at, updated_at, acknowledged_at, closed_at, reopen_count)
SELECT 'report', s.category_id, o.status, 'Signalement synthétique', p.geom, q.quartier_id,
       q.arrondissement_id, 'synthetic', gs.g::text, gs.created_at, gs.created_at,
       CASE WHEN o.status <> 'new' THEN gs.created_at + gs.ack END,
       CASE WHEN o.status IN ('resolved', 'rejected') THEN gs.created_at + gs.ack + gs.fix END,
       CASE WHEN o.status IN ('resolved', 'rejected') AND gs.u2 < 0.03 THEN 1 ELSE 0 END
FROM (
    SELECT g, 1 + floor(random() * :seeds)::bigint AS pick,
           40 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS dx,
           40 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS dy,
           random() AS u, random() AS u2,
           timestamptz '2021-01-01 00:00+01' + random() * interval '1461 days' AS created_at,
           make_interval(secs => -ln(1 - random()) * 20 * 3600) AS ack,
           make_interval(secs => -ln(1 - random()) * 100 * 3600) AS fix
    FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) g
) gs
JOIN seed s ON s.rn = gs.pick
CROSS JOIN LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(s.x + gs.dx, s.y + gs.dy), 2154),
                                        4326) AS geom) p
CROSS JOIN LATERAL (SELECT quartier_id, arrondissement_id FROM quartier_parts qp
                    WHERE ST_Intersects(qp.geom, p.geom) ORDER BY quartier_id LIMIT 1) q
CROSS JOIN LATERAL (SELECT CASE WHEN gs.u < 0.78 THEN 'resolved' WHEN gs.u < 0.84 THEN 'rejected'
    WHEN gs.u < 0.86 THEN 'monitoring' WHEN gs.u < 0.90 THEN 'scheduled'
    WHEN gs.u < 0.95 THEN 'acknowledged' ELSE 'new' END AS status) o
"""


def database_url(name: str) -> str:
    base = make_url((ROOT / "var" / "database_url").read_text().strip())
    return base.set(database=name).render_as_string(hide_password=False)


def prepare(name: str, log=print, revision: str = "heads") -> str:
    """A fresh database `name`: migrated (to `revision`), reference data and the real extract
    loaded."""
    from sqlalchemy.engine import make_url as _mk

    url = database_url(name)
    admin = create_engine(_mk(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    from app import create_app

    app = create_app({"DATABASE_URL": url})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade", revision], ["geo", "load-areas"], ["geo", "load-categories"],
                 ["import", "dansmarue", str(ROOT.parent / "shared" / "data" /
                                             "dans-ma-rue_sample_2023-2024.csv")]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        log(f"{' '.join(args[:2])}: ok")
    return url


def generate(url: str, n: int, batch: int = 500_000, log=print) -> float:
    """Add n synthetic reports; returns the seconds taken (triggers included)."""
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(SEED)
        seeds = conn.scalar(text("SELECT count(*) FROM seed"))
        # the importer's trick: secondary indexes are rebuilt once at the end
        defs = conn.execute(text("""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indrelid = 'contributions'::regclass AND NOT i.indisunique AND NOT i.indisprimary
        """)).all()
        for name, _ in defs:
            conn.execute(text(f'DROP INDEX "{name}"'))
    done, next_g = 0, 1
    while done < n:
        size = min(batch, n - done)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            # ~0.3 % of the points leave Paris and are dropped: draw a few more, keep `size`
            conn.execute(text("SELECT setseed(:s)"), {"s": (done % 1000) / 1000.0})
            added = conn.execute(text(BATCH_SQL + " LIMIT :size"),
                                 {"start": next_g, "stop": next_g + int(size * 1.01) + 100,
                                  "seeds": seeds, "size": size}).rowcount
        done += added
        next_g += int(size * 1.01) + 101  # source ids never repeat
        log(f"synthetic: {done:,}/{n:,} ({time.perf_counter() - t0:.1f} s for this batch)")
    with engine.begin() as conn:
        for _, definition in defs:
            conn.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE contributions"))
        for t in ("planner_facts", "planner_hex_counts", "planner_day_counts", "planner_month_counts"):
            conn.execute(text(f"VACUUM ANALYZE {t}"))
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="cartagora_bench_planner")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--revision", default="heads", help="Migrate to this revision only.")
    args = parser.parse_args()
    url = prepare(args.db, revision=args.revision)
    seconds = generate(url, args.n)
    print(f"synthetic: {args.n:,} reports in {seconds:.0f} s")


if __name__ == "__main__":
    main()
