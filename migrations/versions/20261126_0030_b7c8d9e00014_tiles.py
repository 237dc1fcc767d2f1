"""Vector tiles: exact pre-aggregated cells and area counts, kept by statement-level triggers.

* `tile_cells` (level × x × y × kind × category × status → n): public contributions (not
  hidden, not withdrawn) counted on the Web-Mercator grid of 2^level × 2^level cells, y down
  like tile rows, so a cell of level z + 4 is 1/16 of a zoom-z tile's side. Levels 6, 8 … 18
  are stored (zooms 2–14 read their level or the next finer one and sum 2 × 2 cells; zooms 0–1
  sum level 6). A contribution sits in the cell of its point (a shape: ST_PointOnSurface), from
  `geom`, the public geometry (a sensitive category's coarse point).
* `tile_area_counts` (arrondissement × quartier × kind × category × status → n): the areas
  layer's counts under any filter.

Keyed by the category itself (not its top-level type) so that a sub-category filter stays
exact and an admin moving a category needs no recount: readers join `categories` for the top.
Maintained as the planner's roll-ups are (c5a7a7500003, f1a2b3c00006): AFTER … FOR EACH
STATEMENT triggers with transition tables apply +1/−1 deltas in key order (concurrent writers
lock rows in the same order), their statements run by EXECUTE so that each is planned for the
rows at hand. Rows falling back to 0 are kept; readers skip them. `tiles_rebuild()` recounts.

Revision ID: b7c8d9e00014
Revises: a6b7c8d00013
Create Date: 2026-11-26 00:30
"""

from alembic import op

revision = "b7c8d9e00014"
down_revision = "a6b7c8d00013"
branch_labels = None
depends_on = None

LEVELS = (6, 8, 10, 12, 14, 16, 18)
BASE = LEVELS[-1]
# half the Web-Mercator world's side (m): ST_TileEnvelope's bounds
HALF = 20037508.342789244

# a public contribution of `{source}` (aliased c) as a cell key at the base level: x, y from
# its point in EPSG:3857 (computed once under OFFSET 0, not per use)
CELL_SELECT = f"""
    SELECT b.kind, b.category_id, b.status, b.arrondissement_id, b.quartier_id,
           floor((b.mx + {HALF}) / (2 * {HALF}) * {2 ** BASE})::int AS x,
           floor(({HALF} - b.my) / (2 * {HALF}) * {2 ** BASE})::int AS y
    FROM (
        SELECT c.kind, c.category_id, c.status, c.arrondissement_id, c.quartier_id,
               ST_X(p.g) AS mx, ST_Y(p.g) AS my
        FROM {{source}} c
        CROSS JOIN LATERAL (SELECT ST_Transform(CASE WHEN GeometryType(c.geom) = 'POINT'
            THEN c.geom ELSE ST_PointOnSurface(c.geom) END, 3857) AS g) p
        WHERE NOT c.hidden AND c.withdrawn_at IS NULL
        OFFSET 0
    ) b
"""
LEVEL_VALUES = ", ".join(f"({m})" for m in LEVELS)
APPLY_DELTA = f"""
    delta AS (SELECT old_c.*, -1 AS d FROM old_c UNION ALL SELECT new_c.*, 1 AS d FROM new_c),
    cells AS (
        INSERT INTO tile_cells AS r (level, x, y, kind, category_id, status, n)
        SELECT v.level, d.x >> ({BASE} - v.level), d.y >> ({BASE} - v.level), d.kind,
               d.category_id, d.status, sum(d.d)
        FROM delta d CROSS JOIN (VALUES {LEVEL_VALUES}) v(level)
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (level, x, y, kind, category_id, status) DO UPDATE SET n = r.n + EXCLUDED.n
        RETURNING 1)
    INSERT INTO tile_area_counts AS r (arrondissement_id, quartier_id, kind, category_id, status, n)
    SELECT d.arrondissement_id, d.quartier_id, d.kind, d.category_id, d.status, sum(d.d)
    FROM delta d
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (arrondissement_id, quartier_id, kind, category_id, status)
    DO UPDATE SET n = r.n + EXCLUDED.n
"""
# the columns a cell key depends on: an UPDATE of anything else (counters, titles…) costs
# one join of the transition tables
WATCHED = ("kind", "category_id", "status", "arrondissement_id", "quartier_id", "hidden",
           "withdrawn_at")
CHANGED = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in WATCHED) + \
    " OR NOT ST_OrderingEquals(n.geom, o.geom)"
EMPTY = CELL_SELECT.format(source="contributions") + " WHERE false"


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql(f"""
    CREATE TABLE tile_cells (
        level smallint NOT NULL, x integer NOT NULL, y integer NOT NULL,
        kind varchar(16) NOT NULL, category_id integer NOT NULL, status varchar(20) NOT NULL,
        n integer NOT NULL,
        CONSTRAINT pk_tile_cells PRIMARY KEY (level, x, y, kind, category_id, status)
    );
    CREATE TABLE tile_area_counts (
        arrondissement_id smallint NOT NULL, quartier_id smallint NOT NULL,
        kind varchar(16) NOT NULL, category_id integer NOT NULL, status varchar(20) NOT NULL,
        n integer NOT NULL,
        CONSTRAINT pk_tile_area_counts
            PRIMARY KEY (arrondissement_id, quartier_id, kind, category_id, status)
    );

    -- Recount both tables from contributions (this migration; after a bulk repair).
    CREATE FUNCTION tiles_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        n bigint;
    BEGIN
        TRUNCATE tile_cells, tile_area_counts;
        CREATE TEMPORARY TABLE tiles_rebuild_keys ON COMMIT DROP AS
            {CELL_SELECT.format(source="contributions")};
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO tile_cells (level, x, y, kind, category_id, status, n)
        SELECT v.level, k.x >> ({BASE} - v.level), k.y >> ({BASE} - v.level), k.kind,
               k.category_id, k.status, count(*)
        FROM tiles_rebuild_keys k CROSS JOIN (VALUES {LEVEL_VALUES}) v(level)
        GROUP BY 1, 2, 3, 4, 5, 6;
        INSERT INTO tile_area_counts (arrondissement_id, quartier_id, kind, category_id, status, n)
        SELECT arrondissement_id, quartier_id, kind, category_id, status, count(*)
        FROM tiles_rebuild_keys GROUP BY 1, 2, 3, 4, 5;
        DROP TABLE tiles_rebuild_keys;
        ANALYZE tile_cells;
        ANALYZE tile_area_counts;
        RETURN n;
    END $$;

    CREATE FUNCTION tiles_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE $sql$WITH new_c AS ({CELL_SELECT.format(source="new_rows")}),
        old_c AS ({EMPTY}),
        {APPLY_DELTA}$sql$;
        RETURN NULL;
    END $$;

    CREATE FUNCTION tiles_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        EXECUTE $sql$WITH old_c AS ({CELL_SELECT.format(source="old_rows")}),
        new_c AS ({EMPTY}),
        {APPLY_DELTA}$sql$;
        RETURN NULL;
    END $$;

    CREATE FUNCTION tiles_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changes boolean;
    BEGIN
        EXECUTE $sql$SELECT EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
                                    WHERE {CHANGED})$sql$ INTO changes;
        IF NOT changes THEN
            RETURN NULL;
        END IF;
        EXECUTE $sql$WITH
        changed_old AS (SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {CHANGED}),
        changed_new AS (SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {CHANGED}),
        old_c AS ({CELL_SELECT.format(source="changed_old")}),
        new_c AS ({CELL_SELECT.format(source="changed_new")}),
        {APPLY_DELTA}$sql$;
        RETURN NULL;
    END $$;

    CREATE FUNCTION tiles_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE tile_cells, tile_area_counts;
        RETURN NULL;
    END $$;

    CREATE TRIGGER tiles_insert AFTER INSERT ON contributions
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tiles_on_insert();
    CREATE TRIGGER tiles_update AFTER UPDATE ON contributions
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION tiles_on_update();
    CREATE TRIGGER tiles_delete AFTER DELETE ON contributions
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tiles_on_delete();
    CREATE TRIGGER tiles_truncate AFTER TRUNCATE ON contributions
        FOR EACH STATEMENT EXECUTE FUNCTION tiles_on_truncate();

    SELECT tiles_rebuild();
    """)


def downgrade() -> None:
    sql("""
    DROP TRIGGER tiles_truncate ON contributions;
    DROP TRIGGER tiles_delete ON contributions;
    DROP TRIGGER tiles_update ON contributions;
    DROP TRIGGER tiles_insert ON contributions;
    DROP FUNCTION tiles_on_truncate();
    DROP FUNCTION tiles_on_update();
    DROP FUNCTION tiles_on_delete();
    DROP FUNCTION tiles_on_insert();
    DROP FUNCTION tiles_rebuild();
    DROP TABLE tile_area_counts;
    DROP TABLE tile_cells;
    """)
