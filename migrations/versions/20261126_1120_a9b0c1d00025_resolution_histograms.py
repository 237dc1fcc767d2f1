"""Resolution-time histograms in the planner roll-ups.

`/api/v1/stats/resolution` read every fact of its period (3 s for a year at 5M reports).
`planner_duration_counts` holds, per Paris month and per Paris year, kind, status and one
grouping dimension, how many reports took each duration to be acknowledged and to be
resolved, plus the counts behind the share resolved and the reopen rate:

* `dim` — 'a' arrondissement, 't' top-level type, 's' service (key 0: none). One dimension per
  row, not their product: the product has about one row per report at any useful precision;
* `span`, `period` — 'm' and the first day of a Paris month, 'y' and the first of January. A
  year of statistics reads the year's rows, not twelve months of them;
* `metric`, `value` — 0: `value` = 1 if ever closed (closed or reopened) + 2 if reopened;
  1: acknowledged, `value` = planner_duration_bucket(acknowledged_at - created_at);
  2: resolved (status `resolved`), `value` = planner_duration_bucket(closed_at - created_at).

planner_duration_bucket is the API's precision: the duration in whole minutes (nearest) then to
two significant digits (nearest, halves away from zero): 7, 59, 130, 2900 minutes. A median or
90th percentile is the `percentile_disc` (lower: the first value whose cumulative share reaches
the fraction) of those values, so a histogram at that precision gives it exactly.

Two more changes for the planner's other statistics at 5M reports:

* `planner_hex_totals` (level × kind × status × cell, all time): the all-time hexbins without
  a category summed 155,000 rows of planner_hex_counts (per type) at 100 m; this has ~15 %
  of them;
* the covering index of planner_facts by (kind, type_id, day) also includes x and y: the
  hotspots of a type over a month read it alone instead of ~40,000 random heap rows.

Kept exact like the other roll-ups: one more CTE in the statement-level triggers of
c5a7a7500003 / f1a2b3c00006 (same transaction, zero lag), filled here and by
planner_rebuild() from the existing facts.

Revision ID: a9b0c1d00025
Revises: f8a9b0c00024
Create Date: 2026-11-26 11:20
"""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from alembic import op

revision = "a9b0c1d00025"
down_revision = "f8a9b0c00024"
branch_labels = None
depends_on = None


def _module(filename: str):
    """A neighbouring migration as a module (one definition of a fact and of the triggers)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rollups():
    return _module("20261123_2010_c5a7a7500003_planner_rollups.py")


def _update_plan():
    return _module("20261123_2345_f1a2b3c00006_planner_update_plan.py")


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


# The histogram rows of the facts `d` (each with its +1 / -1 in `d.d`): one per metric,
# dimension and span (the metrics first: each duration is bucketed once, not six times).
# Used by the triggers (on the delta) and by the rebuild (on every fact).
DURATION_ROWS = """
    SELECT d.kind, k.dim, s.span, s.period, k.key, d.status, m.metric, m.value, d.d
    FROM {source} d
    CROSS JOIN LATERAL (
        SELECT 0 AS metric, (d.closed_at IS NOT NULL OR d.reopen_count > 0)::integer
                            + 2 * (d.reopen_count > 0)::integer AS value
        UNION ALL
        SELECT 1, planner_duration_bucket(d.acknowledged_at - d.created_at)
        WHERE d.acknowledged_at IS NOT NULL
        UNION ALL
        SELECT 2, planner_duration_bucket(d.closed_at - d.created_at)
        WHERE d.status = 'resolved' AND d.closed_at IS NOT NULL) m
    CROSS JOIN LATERAL (VALUES ('a', d.arrondissement_id::integer), ('t', d.type_id),
                               ('s', coalesce(d.service_id, 0))) k(dim, key)
    CROSS JOIN LATERAL (VALUES ('m', date_trunc('month', d.day)::date),
                               ('y', date_trunc('year', d.day)::date)) s(span, period)
"""
KEY = "kind, dim, span, period, key, status, metric, value"
HEX_TOTALS = """
    INSERT INTO planner_hex_totals AS r (level, kind, status, cell, n)
    SELECT v.level, d.kind, d.status, v.cell, sum(d.d)
    FROM {source} d CROSS JOIN LATERAL (VALUES {values}) v(level, cell)
    GROUP BY 1, 2, 3, 4"""
EXTRA_CTES = f"""    , hex_totals AS ({{hex_totals}} HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, kind, status, cell) DO UPDATE SET n = r.n + EXCLUDED.n
        RETURNING 1)
    , durations AS (
        INSERT INTO planner_duration_counts AS r ({KEY}, n)
        SELECT {KEY}, sum(d) FROM ({DURATION_ROWS.format(source="delta")}) x
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
        ON CONFLICT ({KEY}) DO UPDATE SET n = r.n + EXCLUDED.n
        RETURNING 1)
"""
ROLLUP_TABLES = "planner_facts, planner_hex_counts, planner_day_counts, planner_month_counts"
NEW_TABLES = ", planner_hex_totals, planner_duration_counts"
COVERING = ("CREATE INDEX ix_planner_facts_kind_type_id_day ON planner_facts (kind, type_id, day) "
            "INCLUDE (created_at, category_id, status, {xy}c100, c200, c300, c500, c1000, c2000)")


def _with_durations(r) -> SimpleNamespace:
    """c5a7a7500003's fragments, the new roll-ups' CTEs added before its last statement."""
    last = "    INSERT INTO planner_month_counts AS r"
    assert r.APPLY_DELTA.count(last) == 1
    ctes = EXTRA_CTES.format(hex_totals=HEX_TOTALS.format(source="delta", values=r.HEX_VALUES))
    return SimpleNamespace(FACT_SELECT=r.FACT_SELECT, FACT_COLUMNS=r.FACT_COLUMNS,
                           FACT_SET=r.FACT_SET, CHANGED=r.CHANGED,
                           APPLY_DELTA=r.APPLY_DELTA.replace(last, ctes + last))


def _triggers(with_durations: bool) -> str:
    """f1a2b3c00006's trigger functions (statements planned per call), with or without the
    histogram CTE."""
    r, plan = _rollups(), _update_plan()
    if with_durations:
        fragments = _with_durations(r)
        plan._rollups = lambda: fragments
    return plan._functions(dynamic=True)


def _rebuild(with_durations: bool) -> str:
    """planner_rebuild() and the TRUNCATE trigger, covering the histograms or not."""
    r = _rollups()
    tables = ROLLUP_TABLES + (NEW_TABLES if with_durations else "")
    facts = "(SELECT f.*, 1 AS d FROM planner_facts f)"
    durations = f"""
        {HEX_TOTALS.format(source=facts, values=r.HEX_VALUES)};
        INSERT INTO planner_duration_counts ({KEY}, n)
        SELECT {KEY}, sum(d) FROM ({DURATION_ROWS.format(source="(SELECT f.*, 1 AS d FROM planner_facts f)")}) x
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
        ANALYZE planner_hex_totals;
        ANALYZE planner_duration_counts;""" if with_durations else ""
    return f"""
    CREATE OR REPLACE FUNCTION planner_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        n bigint;
    BEGIN
        TRUNCATE {tables};
        INSERT INTO planner_facts ({r.FACT_COLUMNS})
        {r.FACT_SELECT.format(source="contributions", extra="")};
        GET DIAGNOSTICS n = ROW_COUNT;
        WITH delta AS (SELECT f.*, 1 AS d FROM planner_facts f)
        INSERT INTO planner_hex_counts (level, kind, type_id, status, cell, n)
        SELECT v.level, d.kind, d.type_id, d.status, v.cell, count(*)
        FROM delta d CROSS JOIN LATERAL (VALUES {r.HEX_VALUES}) v(level, cell) GROUP BY 1, 2, 3, 4, 5;
        INSERT INTO planner_day_counts (day, kind, type_id, status, n)
        SELECT day, kind, type_id, status, count(*) FROM planner_facts GROUP BY 1, 2, 3, 4;
        INSERT INTO planner_month_counts (month, kind, type_id, status, quartier_id, n)
        SELECT date_trunc('month', day)::date, kind, type_id, status, quartier_id, count(*)
        FROM planner_facts GROUP BY 1, 2, 3, 4, 5;{durations}
        ANALYZE planner_facts;
        ANALYZE planner_hex_counts;
        ANALYZE planner_day_counts;
        ANALYZE planner_month_counts;
        RETURN n;
    END $$;

    CREATE OR REPLACE FUNCTION planner_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {tables};
        RETURN NULL;
    END $$;
    """


def upgrade() -> None:
    sql(r"""
    -- A duration at the API's precision, in minutes: whole minutes (nearest), then two
    -- significant digits (nearest, halves away from zero). Inlined by the planner.
    CREATE FUNCTION planner_duration_bucket(d interval) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN round(round(extract(epoch FROM d) / 60),
                 2 - length(abs(round(extract(epoch FROM d) / 60))::text))::integer;

    CREATE TABLE planner_duration_counts (
        kind varchar(16) NOT NULL,
        dim "char" NOT NULL CONSTRAINT ck_planner_duration_counts_dim CHECK (dim IN ('a', 't', 's')),
        span "char" NOT NULL CONSTRAINT ck_planner_duration_counts_span CHECK (span IN ('m', 'y')),
        period date NOT NULL,
        key integer NOT NULL,
        status varchar(20) NOT NULL,
        metric smallint NOT NULL CONSTRAINT ck_planner_duration_counts_metric CHECK (metric IN (0, 1, 2)),
        value integer NOT NULL,
        n integer NOT NULL
    );
    CREATE TABLE planner_hex_totals (
        level smallint NOT NULL, kind varchar(16) NOT NULL, status varchar(20) NOT NULL,
        cell bigint NOT NULL, n integer NOT NULL,
        CONSTRAINT pk_planner_hex_totals PRIMARY KEY (level, kind, status, cell)
    );
    """)
    sql("DROP INDEX ix_planner_facts_kind_type_id_day; " + COVERING.format(xy="x, y, "))
    sql(_rebuild(with_durations=True))
    sql(_triggers(with_durations=True))
    # from the existing roll-ups and facts (they are exact): nothing recomputed from
    # contributions; the hexagons' totals are planner_hex_counts summed over types
    sql(f"""
    SET LOCAL work_mem = '256MB';
    INSERT INTO planner_hex_totals (level, kind, status, cell, n)
    SELECT level, kind, status, cell, sum(n) FROM planner_hex_counts
    GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
    ANALYZE planner_hex_totals;
    INSERT INTO planner_duration_counts ({KEY}, n)
    SELECT {KEY}, sum(d) FROM ({DURATION_ROWS.format(source="(SELECT f.*, 1 AS d FROM planner_facts f)")}) x
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    -- the key after the rows: one sorted build instead of millions of random inserts
    ALTER TABLE planner_duration_counts ADD CONSTRAINT pk_planner_duration_counts
        PRIMARY KEY (kind, dim, span, period, key, status, metric, value);
    ANALYZE planner_duration_counts;
    """)


def downgrade() -> None:
    sql(_triggers(with_durations=False))
    sql(_rebuild(with_durations=False))
    sql("DROP INDEX ix_planner_facts_kind_type_id_day; " + COVERING.format(xy=""))
    sql("""
    DROP TABLE planner_hex_totals;
    DROP TABLE planner_duration_counts;
    DROP FUNCTION planner_duration_bucket(interval);
    """)
