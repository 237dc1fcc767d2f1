"""Map clusters from pre-aggregated cells: positions and quartiers in `tile_cells`, and the
recently closed contributions in `map_recent_cells`.

The resident map clustered the raw rows of its view on every request: 31 ms for the city at
40k reports, about 3 s at 5M. It now sums cells (geo/grid.py), which needs from them:

* `tile_cells` gains `quartier_id` in its key (the map's arrondissement and quartier filters;
  cells are small, so few of them straddle two quartiers) and `sx`, `sy`: the sums of its
  members' EPSG:3857 coordinates in whole centimetres, so that a cluster sits at the mean
  position of its members, exactly (integers add and subtract without rounding drift).
* `map_recent_cells`: the same cells for contributions closed in the last RECENT_HORIZON days,
  keyed by their closing day in Paris (`closed_on`), for the map's default `current` view
  (open, or closed in the last 30 days). Readers ask for `closed_on >= today − 30`; the
  triggers keep every day from today − RECENT_HORIZON exact; older days are deleted a
  thousand rows at a time by the writers themselves (SKIP LOCKED: nobody waits on it).

* `contributions.map_x`, `map_y`: its point (a shape's ST_PointOnSurface) in EPSG:3857, stored
  (generated columns, like `geom_l93`): the views clustered from their rows and the triggers
  read them instead of calling ST_Transform per row (a rewrite of the table, once).

Both cell tables are stored in key order by `tiles_rebuild()`, so that the range of cells a view reads lies
on a few pages (12,467 rows of level 14 read 95 pages instead of 12,584), and with 20 % free
space per page so that the triggers' updates stay on their page (HOT). Everything else stays
as migration b7c8d9e00014 made it: statement-level triggers with
transition tables applying +1/−1 deltas in key order, `tiles_rebuild()` to recount. Its
downgrade and upgrade are reused here to drop and restore the previous definitions.

Revision ID: e7f8a9b00023
Revises: d6e7f8a00022
Create Date: 2026-11-26 11:00
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "e7f8a9b00023"
down_revision = "d6e7f8a00022"
branch_labels = None
depends_on = None

LEVELS = (6, 8, 10, 12, 14, 16, 18)
BASE = LEVELS[-1]
HALF = 20037508.342789244
# days of closings the triggers keep exact (the map reads 30; the margin covers a transaction
# that began before midnight and a reader whose day has turned)
RECENT_HORIZON = 35
# older closing days are deleted by writers, this many rows per statement
PRUNE_BATCH = 1000
PARIS_TODAY = "(now() AT TIME ZONE 'Europe/Paris')::date"


def _previous():
    path = Path(__file__).with_name("20261126_0030_b7c8d9e00014_tiles.py")
    spec = importlib.util.spec_from_file_location("tiles_b7c8d9e00014", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# a public contribution of `{source}` (aliased c) as a cell key at the base level, with its
# position in centimetres and its closing day in Paris
CELL_SELECT = f"""
    SELECT b.kind, b.category_id, b.status, b.arrondissement_id, b.quartier_id, b.closed_on,
           floor((b.mx + {HALF}) / (2 * {HALF}) * {2 ** BASE})::int AS x,
           floor(({HALF} - b.my) / (2 * {HALF}) * {2 ** BASE})::int AS y,
           round(b.mx * 100)::bigint AS cx, round(b.my * 100)::bigint AS cy
    FROM (
        SELECT c.kind, c.category_id, c.status, c.arrondissement_id, c.quartier_id,
               (c.closed_at AT TIME ZONE 'Europe/Paris')::date AS closed_on,
               c.map_x AS mx, c.map_y AS my
        FROM {{source}} c
        WHERE NOT c.hidden AND c.withdrawn_at IS NULL
        OFFSET 0
    ) b
"""
LEVEL_VALUES = ", ".join(f"({m})" for m in LEVELS)
KEY = "level, x, y, kind, category_id, status, quartier_id"
APPLY_DELTA = f"""
    delta AS (SELECT old_c.*, -1 AS d FROM old_c UNION ALL SELECT new_c.*, 1 AS d FROM new_c),
    cells AS (
        INSERT INTO tile_cells AS r ({KEY}, n, sx, sy)
        SELECT v.level, d.x >> ({BASE} - v.level), d.y >> ({BASE} - v.level), d.kind,
               d.category_id, d.status, d.quartier_id, sum(d.d), sum(d.d * d.cx), sum(d.d * d.cy)
        FROM delta d CROSS JOIN (VALUES {LEVEL_VALUES}) v(level)
        GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(d.d) <> 0 OR sum(d.d * d.cx) <> 0 OR sum(d.d * d.cy) <> 0
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT ({KEY})
        DO UPDATE SET n = r.n + EXCLUDED.n, sx = r.sx + EXCLUDED.sx, sy = r.sy + EXCLUDED.sy
        RETURNING 1),
    recent AS (
        INSERT INTO map_recent_cells AS r ({KEY}, closed_on, n, sx, sy)
        SELECT v.level, d.x >> ({BASE} - v.level), d.y >> ({BASE} - v.level), d.kind,
               d.category_id, d.status, d.quartier_id, d.closed_on, sum(d.d), sum(d.d * d.cx),
               sum(d.d * d.cy)
        FROM delta d CROSS JOIN (VALUES {LEVEL_VALUES}) v(level)
        WHERE d.closed_on >= {PARIS_TODAY} - {RECENT_HORIZON}
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING sum(d.d) <> 0 OR sum(d.d * d.cx) <> 0 OR sum(d.d * d.cy) <> 0
        ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
        ON CONFLICT ({KEY}, closed_on)
        DO UPDATE SET n = r.n + EXCLUDED.n, sx = r.sx + EXCLUDED.sx, sy = r.sy + EXCLUDED.sy
        RETURNING 1),
    pruned AS (
        DELETE FROM map_recent_cells WHERE ctid IN (
            SELECT ctid FROM map_recent_cells WHERE closed_on < {PARIS_TODAY} - {RECENT_HORIZON + 5}
            LIMIT {PRUNE_BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    INSERT INTO tile_area_counts AS r (arrondissement_id, quartier_id, kind, category_id, status, n)
    SELECT d.arrondissement_id, d.quartier_id, d.kind, d.category_id, d.status, sum(d.d)
    FROM delta d
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (arrondissement_id, quartier_id, kind, category_id, status)
    DO UPDATE SET n = r.n + EXCLUDED.n
"""
WATCHED = ("kind", "category_id", "status", "arrondissement_id", "quartier_id", "hidden",
           "withdrawn_at", "closed_at")
CHANGED = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in WATCHED) + \
    " OR NOT ST_OrderingEquals(n.geom, o.geom)"
EMPTY = CELL_SELECT.format(source="contributions") + " WHERE false"


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


MERCATOR = ("ST_Transform(CASE WHEN GeometryType(geom) = 'POINT' THEN geom "
            "ELSE ST_PointOnSurface(geom) END, 3857)")


def upgrade() -> None:
    _previous().downgrade()
    sql(f"""
    ALTER TABLE contributions
        ADD COLUMN map_x double precision GENERATED ALWAYS AS (ST_X({MERCATOR})) STORED,
        ADD COLUMN map_y double precision GENERATED ALWAYS AS (ST_Y({MERCATOR})) STORED;
    CREATE TABLE tile_cells (
        level smallint NOT NULL, x integer NOT NULL, y integer NOT NULL,
        kind varchar(16) NOT NULL, category_id integer NOT NULL, status varchar(20) NOT NULL,
        quartier_id smallint NOT NULL,
        n integer NOT NULL, sx bigint NOT NULL, sy bigint NOT NULL,
        CONSTRAINT pk_tile_cells PRIMARY KEY ({KEY})
    ) WITH (fillfactor = 80);
    CREATE TABLE map_recent_cells (
        level smallint NOT NULL, x integer NOT NULL, y integer NOT NULL,
        kind varchar(16) NOT NULL, category_id integer NOT NULL, status varchar(20) NOT NULL,
        quartier_id smallint NOT NULL, closed_on date NOT NULL,
        n integer NOT NULL, sx bigint NOT NULL, sy bigint NOT NULL,
        CONSTRAINT pk_map_recent_cells PRIMARY KEY ({KEY}, closed_on)
    ) WITH (fillfactor = 80);
    CREATE INDEX ix_map_recent_cells_closed_on ON map_recent_cells (closed_on);
    CREATE TABLE tile_area_counts (
        arrondissement_id smallint NOT NULL, quartier_id smallint NOT NULL,
        kind varchar(16) NOT NULL, category_id integer NOT NULL, status varchar(20) NOT NULL,
        n integer NOT NULL,
        CONSTRAINT pk_tile_area_counts
            PRIMARY KEY (arrondissement_id, quartier_id, kind, category_id, status)
    );

    -- Recount the three tables from contributions (this migration; after a bulk load).
    CREATE FUNCTION tiles_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        n bigint;
    BEGIN
        TRUNCATE tile_cells, tile_area_counts, map_recent_cells;
        CREATE TEMPORARY TABLE tiles_rebuild_keys ON COMMIT DROP AS
            {CELL_SELECT.format(source="contributions")};
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO tile_cells ({KEY}, n, sx, sy)
        SELECT v.level, k.x >> ({BASE} - v.level), k.y >> ({BASE} - v.level), k.kind,
               k.category_id, k.status, k.quartier_id, count(*), sum(k.cx), sum(k.cy)
        FROM tiles_rebuild_keys k CROSS JOIN (VALUES {LEVEL_VALUES}) v(level)
        GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7;
        INSERT INTO map_recent_cells ({KEY}, closed_on, n, sx, sy)
        SELECT v.level, k.x >> ({BASE} - v.level), k.y >> ({BASE} - v.level), k.kind,
               k.category_id, k.status, k.quartier_id, k.closed_on, count(*), sum(k.cx),
               sum(k.cy)
        FROM tiles_rebuild_keys k CROSS JOIN (VALUES {LEVEL_VALUES}) v(level)
        WHERE k.closed_on >= {PARIS_TODAY} - {RECENT_HORIZON}
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8;
        INSERT INTO tile_area_counts (arrondissement_id, quartier_id, kind, category_id, status, n)
        SELECT arrondissement_id, quartier_id, kind, category_id, status, count(*)
        FROM tiles_rebuild_keys GROUP BY 1, 2, 3, 4, 5;
        DROP TABLE tiles_rebuild_keys;
        ANALYZE tile_cells;
        ANALYZE map_recent_cells;
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
        TRUNCATE tile_cells, tile_area_counts, map_recent_cells;
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
    sql("DROP TABLE map_recent_cells")
    _previous().downgrade()  # the same names: triggers, functions, tile_cells, tile_area_counts
    sql("ALTER TABLE contributions DROP COLUMN map_x, DROP COLUMN map_y")
    _previous().upgrade()
