"""Planner aggregation: a narrow fact table and exact rollups kept by statement-level triggers.

* `planner_facts`: one row per visible contribution (not hidden, not withdrawn), only the
  columns aggregation needs (~130 bytes instead of the ~1 kB contribution row), with its
  Paris calendar day, its top-level type and its Lambert-93 hexagon at every hexbin level.
* `planner_hex_counts` (level × cell × kind × type × status, all time),
  `planner_day_counts` (Paris day × kind × type × status),
  `planner_month_counts` (Paris month × kind × type × status × quartier): the rollups.

Everything is maintained in the writing transaction by three AFTER … FOR EACH STATEMENT
triggers on contributions with transition tables: a bulk INSERT … SELECT (the importer) is
aggregated once per statement, an API write costs one small upsert per table. Lag is zero.

Hexagons are flat-top, in EPSG:2154, identical to ST_Hexagon/ST_HexagonGrid with size =
cell_m / sqrt(3) (so cell_m is the distance between neighbouring centres); a cell id packs
(i, j) as i * 2^20 + j. Levels: 100, 200, 300, 500, 1000, 2000 m (geo/hexgrid.py mirrors it).

Revision ID: c5a7a7500003
Revises: b4f1e1d00002
Create Date: 2026-11-23 20:10
"""

from alembic import op

revision = "c5a7a7500003"
down_revision = "b4f1e1d00002"
branch_labels = None
depends_on = None

LEVELS = (100, 200, 300, 500, 1000, 2000)


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


# Columns of a fact row computed from a contributions row aliased `c` (used by the triggers
# and by planner_rebuild); `t` is the category's top-level type.
FACT_COLUMNS = "id, kind, category_id, type_id, status, service_id, arrondissement_id, " \
    "quartier_id, created_at, day, acknowledged_at, closed_at, reopen_count, x, y, " + \
    ", ".join(f"c{m}" for m in LEVELS)

# x, y are computed once under OFFSET 0: otherwise the planner substitutes ST_X(…) into every
# use inside the inlined hexagon expressions (~30 evaluations per level and row).
FACT_SELECT = """
    SELECT b.*, {cells} FROM (
        SELECT c.id, c.kind, c.category_id, COALESCE(cat.parent_id, cat.id) AS type_id, c.status,
               c.service_id, c.arrondissement_id, c.quartier_id, c.created_at,
               (c.created_at AT TIME ZONE 'Europe/Paris')::date AS day,
               c.acknowledged_at, c.closed_at, c.reopen_count, ST_X(pt.g) AS x, ST_Y(pt.g) AS y
        FROM {source} c
        JOIN categories cat ON cat.id = c.category_id
        CROSS JOIN LATERAL (SELECT CASE WHEN GeometryType(c.geom_l93) = 'POINT'
            THEN c.geom_l93 ELSE ST_PointOnSurface(c.geom_l93) END AS g) pt
        WHERE NOT c.hidden AND c.withdrawn_at IS NULL {extra}
        OFFSET 0
    ) b
""".replace("{cells}", ", ".join(f"planner_hex_cell(b.x, b.y, {m})" for m in LEVELS))

# One statement per trigger: CTEs compute the facts before/after (`old_f`, `new_f`, both read
# from the statement's snapshot), write planner_facts, and apply `delta` (+1 / -1 per fact) to
# every rollup, in key order so that concurrent writers lock rollup rows in the same order.
# Rollup rows that fall back to 0 are kept (bounded by the key space); readers ignore them.
HEX_VALUES = ", ".join(f"({m}, d.c{m})" for m in LEVELS)
APPLY_DELTA = f"""
    delta AS (SELECT old_f.*, -1 AS d FROM old_f UNION ALL SELECT new_f.*, 1 AS d FROM new_f),
    hex AS (
        INSERT INTO planner_hex_counts AS r (level, kind, type_id, status, cell, n)
        SELECT v.level, d.kind, d.type_id, d.status, v.cell, sum(d.d)
        FROM delta d CROSS JOIN LATERAL (VALUES {HEX_VALUES}) v(level, cell)
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (level, kind, type_id, status, cell) DO UPDATE SET n = r.n + EXCLUDED.n
        RETURNING 1),
    days AS (
        INSERT INTO planner_day_counts AS r (day, kind, type_id, status, n)
        SELECT d.day, d.kind, d.type_id, d.status, sum(d.d) FROM delta d
        GROUP BY 1, 2, 3, 4 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (day, kind, type_id, status) DO UPDATE SET n = r.n + EXCLUDED.n
        RETURNING 1)
    INSERT INTO planner_month_counts AS r (month, kind, type_id, status, quartier_id, n)
    SELECT date_trunc('month', d.day)::date, d.kind, d.type_id, d.status, d.quartier_id, sum(d.d)
    FROM delta d
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (month, kind, type_id, status, quartier_id) DO UPDATE SET n = r.n + EXCLUDED.n
"""
FACT_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in FACT_COLUMNS.split(", ") if c != "id")

# the contribution columns a fact depends on; an UPDATE touching none of them (vote and
# comment counters, titles…) costs one join of the transition tables and nothing else
WATCHED = ("kind", "category_id", "status", "service_id", "arrondissement_id", "quartier_id",
           "created_at", "acknowledged_at", "closed_at", "reopen_count", "hidden",
           "withdrawn_at")
CHANGED = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in WATCHED) + \
    " OR NOT ST_OrderingEquals(n.geom, o.geom)"


# Every hexagon of every level over Paris (with a 2 km margin), as GeoJSON text in WGS84:
# a hexbin response concatenates text instead of building ~10k polygons per request.
SHAPES = """
CREATE TABLE planner_hex_shapes (
    level smallint NOT NULL, cell bigint NOT NULL, geojson text NOT NULL,
    CONSTRAINT pk_planner_hex_shapes PRIMARY KEY (level, cell)
);
INSERT INTO planner_hex_shapes (level, cell, geojson)
SELECT l.m, (h.i::bigint << 20) + h.j, ST_AsGeoJSON(ST_Transform(h.geom, 4326), 6)
FROM unnest(ARRAY[100, 200, 300, 500, 1000, 2000]) AS l(m)
CROSS JOIN LATERAL ST_HexagonGrid(l.m / sqrt(3), ST_MakeEnvelope(638000, 6852000, 666000, 6873000, 2154)) h;
"""


def upgrade() -> None:
    sql(r"""
    -- (i, j) of the flat-top hexagon of ST_Hexagon(cell_m / sqrt(3), i, j) containing (x, y),
    -- by cube rounding of the fractional axial coordinates (qf, rf) (postgis-performance.md
    -- §8), packed as i * 2^20 + j. Plain SQL expressions whose arguments are cheap, so the
    -- planner inlines the whole chain: no per-row function call.
    CREATE FUNCTION planner_hex_q(qf double precision, rf double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN abs(round(qf) - qf) > abs(round(rf) - rf)
                 AND abs(round(qf) - qf) > abs(round(-qf - rf) + qf + rf)
                THEN -round(rf) - round(-qf - rf) ELSE round(qf) END;
    CREATE FUNCTION planner_hex_r(qf double precision, rf double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN abs(round(qf) - qf) > abs(round(rf) - rf)
                 AND abs(round(qf) - qf) > abs(round(-qf - rf) + qf + rf) THEN round(rf)
                WHEN abs(round(rf) - rf) > abs(round(-qf - rf) + qf + rf)
                THEN -round(qf) - round(-qf - rf) ELSE round(rf) END;
    CREATE FUNCTION planner_hex_j(qf double precision, rf double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN planner_hex_r(qf, rf) + floor(planner_hex_q(qf, rf) / 2);
    CREATE FUNCTION planner_hex_cell(x double precision, y double precision, cell_m double precision)
    RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (planner_hex_q(x / (cell_m * sqrt(3.0) / 2), y / cell_m - x / (cell_m * sqrt(3.0)))::bigint << 20)
         + planner_hex_j(x / (cell_m * sqrt(3.0) / 2), y / cell_m - x / (cell_m * sqrt(3.0)))::bigint;
    """)

    cells = ",\n        ".join(f"c{m} bigint NOT NULL" for m in LEVELS)
    sql(f"""
    CREATE TABLE planner_facts (
        id bigint PRIMARY KEY,
        kind varchar(16) NOT NULL,
        category_id integer NOT NULL,
        type_id integer NOT NULL,
        status varchar(20) NOT NULL,
        service_id integer,
        arrondissement_id smallint NOT NULL,
        quartier_id smallint NOT NULL,
        created_at timestamptz NOT NULL,
        day date NOT NULL,
        acknowledged_at timestamptz,
        closed_at timestamptz,
        reopen_count integer NOT NULL,
        x double precision NOT NULL,
        y double precision NOT NULL,
        {cells}
    );
    CREATE INDEX ix_planner_facts_kind_day ON planner_facts (kind, day);
    -- covering: a windowed hexbin of a type is an index-only scan (no random heap reads)
    CREATE INDEX ix_planner_facts_kind_type_id_day ON planner_facts (kind, type_id, day)
        INCLUDE (created_at, category_id, status, c100, c200, c300, c500, c1000, c2000);
    CREATE INDEX ix_planner_facts_kind_category_id_day ON planner_facts (kind, category_id, day);
    CREATE INDEX ix_planner_facts_arrondissement_id ON planner_facts (arrondissement_id);

    CREATE TABLE planner_hex_counts (
        level smallint NOT NULL, kind varchar(16) NOT NULL, type_id integer NOT NULL,
        status varchar(20) NOT NULL, cell bigint NOT NULL, n integer NOT NULL,
        CONSTRAINT pk_planner_hex_counts PRIMARY KEY (level, kind, type_id, status, cell)
    );
    CREATE TABLE planner_day_counts (
        day date NOT NULL, kind varchar(16) NOT NULL, type_id integer NOT NULL,
        status varchar(20) NOT NULL, n integer NOT NULL,
        CONSTRAINT pk_planner_day_counts PRIMARY KEY (day, kind, type_id, status)
    );
    CREATE TABLE planner_month_counts (
        month date NOT NULL, kind varchar(16) NOT NULL, type_id integer NOT NULL,
        status varchar(20) NOT NULL, quartier_id smallint NOT NULL, n integer NOT NULL,
        CONSTRAINT pk_planner_month_counts PRIMARY KEY (month, kind, type_id, status, quartier_id)
    );
    """)

    sql(SHAPES)

    sql(f"""
    -- Recompute facts and rollups from contributions (migration, `flask planner rebuild`).
    CREATE FUNCTION planner_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        n bigint;
    BEGIN
        TRUNCATE planner_facts, planner_hex_counts, planner_day_counts, planner_month_counts;
        INSERT INTO planner_facts ({FACT_COLUMNS})
        {FACT_SELECT.format(source="contributions", extra="")};
        GET DIAGNOSTICS n = ROW_COUNT;
        WITH delta AS (SELECT f.*, 1 AS d FROM planner_facts f)
        INSERT INTO planner_hex_counts (level, kind, type_id, status, cell, n)
        SELECT v.level, d.kind, d.type_id, d.status, v.cell, count(*)
        FROM delta d CROSS JOIN LATERAL (VALUES {HEX_VALUES}) v(level, cell) GROUP BY 1, 2, 3, 4, 5;
        INSERT INTO planner_day_counts (day, kind, type_id, status, n)
        SELECT day, kind, type_id, status, count(*) FROM planner_facts GROUP BY 1, 2, 3, 4;
        INSERT INTO planner_month_counts (month, kind, type_id, status, quartier_id, n)
        SELECT date_trunc('month', day)::date, kind, type_id, status, quartier_id, count(*)
        FROM planner_facts GROUP BY 1, 2, 3, 4, 5;
        ANALYZE planner_facts;
        ANALYZE planner_hex_counts;
        ANALYZE planner_day_counts;
        ANALYZE planner_month_counts;
        RETURN n;
    END $$;

    CREATE FUNCTION planner_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH new_f AS ({FACT_SELECT.format(source="new_rows", extra="")}),
        old_f AS (SELECT * FROM planner_facts WHERE false),
        ins AS (INSERT INTO planner_facts ({FACT_COLUMNS}) SELECT * FROM new_f RETURNING 1),
        {APPLY_DELTA};
        RETURN NULL;
    END $$;

    CREATE FUNCTION planner_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH old_f AS (SELECT f.* FROM planner_facts f WHERE f.id IN (SELECT id FROM old_rows)),
        new_f AS (SELECT * FROM planner_facts WHERE false),
        del AS (DELETE FROM planner_facts f WHERE f.id IN (SELECT id FROM old_f) RETURNING 1),
        {APPLY_DELTA};
        RETURN NULL;
    END $$;

    CREATE FUNCTION planner_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {CHANGED}) THEN
            RETURN NULL;
        END IF;
        WITH changed AS (SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {CHANGED}),
        old_f AS (SELECT f.* FROM planner_facts f WHERE f.id IN (SELECT id FROM changed)),
        new_f AS ({FACT_SELECT.format(source="new_rows", extra="AND c.id IN (SELECT id FROM changed)")}),
        del AS (DELETE FROM planner_facts f
                WHERE f.id IN (SELECT id FROM old_f) AND f.id NOT IN (SELECT id FROM new_f) RETURNING 1),
        ups AS (INSERT INTO planner_facts ({FACT_COLUMNS}) SELECT * FROM new_f
                ON CONFLICT (id) DO UPDATE SET {FACT_SET} RETURNING 1),
        {APPLY_DELTA};
        RETURN NULL;
    END $$;

    CREATE FUNCTION planner_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE planner_facts, planner_hex_counts, planner_day_counts, planner_month_counts;
        RETURN NULL;
    END $$;

    CREATE TRIGGER planner_insert AFTER INSERT ON contributions
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION planner_on_insert();
    CREATE TRIGGER planner_update AFTER UPDATE ON contributions
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION planner_on_update();
    CREATE TRIGGER planner_delete AFTER DELETE ON contributions
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION planner_on_delete();
    CREATE TRIGGER planner_truncate AFTER TRUNCATE ON contributions
        FOR EACH STATEMENT EXECUTE FUNCTION planner_on_truncate();

    SELECT planner_rebuild();
    """)


def downgrade() -> None:
    sql("""
    DROP TRIGGER planner_truncate ON contributions;
    DROP TRIGGER planner_delete ON contributions;
    DROP TRIGGER planner_update ON contributions;
    DROP TRIGGER planner_insert ON contributions;
    DROP FUNCTION planner_on_truncate();
    DROP FUNCTION planner_on_update();
    DROP FUNCTION planner_on_delete();
    DROP FUNCTION planner_on_insert();
    DROP FUNCTION planner_rebuild();
    DROP TABLE planner_hex_shapes;
    DROP TABLE planner_month_counts;
    DROP TABLE planner_day_counts;
    DROP TABLE planner_hex_counts;
    DROP TABLE planner_facts;
    DROP FUNCTION planner_hex_cell(double precision, double precision, double precision);
    DROP FUNCTION planner_hex_j(double precision, double precision);
    DROP FUNCTION planner_hex_r(double precision, double precision);
    DROP FUNCTION planner_hex_q(double precision, double precision);
    """)
