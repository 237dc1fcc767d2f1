"""The map's cells by status alone, for the views without a category or place filter.

`tile_cells` and `map_recent_cells` (e7f8a9b00023) are keyed by kind, category, status and
quartier so that every map filter can be summed from them; each spatial cell therefore holds
about a thousand rows at 5M reports (level 14: 61,157 rows for 60 cells). The default view
and "every status" — most of the map's requests — summed all of them: 30–60 ms at zooms
11–13 for a few dozen clusters.

`map_status_cells` (level, x, y, kind, status) and `map_status_recent` (the same, plus the
closing day in Paris, for `current`) hold the same sums without category and quartier: the
views filtered only by kind and status read those (a few hundred rows for the city). The
views filtered by category or place read the full cells through new indexes by category and
by quartier.

Kept exact like the other cell tables: their own family of statement-level triggers
(`map_status_on_*`, small statements with kept plans as in d2e3f4a00028) and
`map_status_rebuild()`, which the importer's bulk path discovers. The cell maths are
e7f8a9b00023's (one definition: imported from it).

Revision ID: e3f4a5b00029
Revises: d2e3f4a00028
Create Date: 2026-11-26 16:50
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "e3f4a5b00029"
down_revision = "d2e3f4a00028"
branch_labels = None
depends_on = None


def _module(filename: str):
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sql() -> dict[str, str]:
    cells = _module("20261126_1100_e7f8a9b00023_map_cells.py")
    static = _module("20261126_1630_d2e3f4a00028_static_rollup_triggers.py")
    base, levels, today = cells.BASE, cells.LEVEL_VALUES, cells.PARIS_TODAY
    key = "level, x, y, kind, status"
    apply_delta = f"""
    delta AS (SELECT old_c.*, -1 AS d FROM old_c UNION ALL SELECT new_c.*, 1 AS d FROM new_c),
    cells AS (
        INSERT INTO map_status_cells AS r ({key}, n, sx, sy)
        SELECT v.level, d.x >> ({base} - v.level), d.y >> ({base} - v.level), d.kind, d.status,
               sum(d.d), sum(d.d * d.cx), sum(d.d * d.cy)
        FROM delta d CROSS JOIN (VALUES {levels}) v(level)
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(d.d) <> 0 OR sum(d.d * d.cx) <> 0 OR sum(d.d * d.cy) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT ({key})
        DO UPDATE SET n = r.n + EXCLUDED.n, sx = r.sx + EXCLUDED.sx, sy = r.sy + EXCLUDED.sy
        RETURNING 1),
    pruned AS (
        DELETE FROM map_status_recent WHERE ctid IN (
            SELECT ctid FROM map_status_recent
            WHERE closed_on < {today} - {cells.RECENT_HORIZON + 5}
            LIMIT {cells.PRUNE_BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    INSERT INTO map_status_recent AS r ({key}, closed_on, n, sx, sy)
    SELECT v.level, d.x >> ({base} - v.level), d.y >> ({base} - v.level), d.kind, d.status,
           d.closed_on, sum(d.d), sum(d.d * d.cx), sum(d.d * d.cy)
    FROM delta d CROSS JOIN (VALUES {levels}) v(level)
    WHERE d.closed_on >= {today} - {cells.RECENT_HORIZON}
    GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.d) <> 0 OR sum(d.d * d.cx) <> 0 OR sum(d.d * d.cy) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT ({key}, closed_on)
    DO UPDATE SET n = r.n + EXCLUDED.n, sx = r.sx + EXCLUDED.sx, sy = r.sy + EXCLUDED.sy
    """
    select = cells.CELL_SELECT.format
    bodies = {
        "insert": f"""
    BEGIN
        EXECUTE $sql$WITH new_c AS ({select(source="new_rows")}),
        old_c AS ({cells.EMPTY}),
        {apply_delta}$sql$;
        RETURN NULL;
    END """,
        "delete": f"""
    BEGIN
        EXECUTE $sql$WITH old_c AS ({select(source="old_rows")}),
        new_c AS ({cells.EMPTY}),
        {apply_delta}$sql$;
        RETURN NULL;
    END """,
        "update": f"""
    DECLARE
        changes boolean;
    BEGIN
        EXECUTE $sql$SELECT EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
                                    WHERE {cells.CHANGED})$sql$ INTO changes;
        IF NOT changes THEN
            RETURN NULL;
        END IF;
        EXECUTE $sql$WITH
        changed_old AS (SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {cells.CHANGED}),
        changed_new AS (SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {cells.CHANGED}),
        old_c AS ({select(source="changed_old")}),
        new_c AS ({select(source="changed_new")}),
        {apply_delta}$sql$;
        RETURN NULL;
    END """,
    }
    functions = {kind: static.static_small(body, static.COUNTED[kind]) for kind, body in bodies.items()}
    functions["rebuild"] = f"""
    DECLARE
        n bigint;
    BEGIN
        TRUNCATE map_status_cells, map_status_recent;
        CREATE TEMPORARY TABLE map_status_keys ON COMMIT DROP AS {select(source="contributions")};
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO map_status_cells ({key}, n, sx, sy)
        SELECT v.level, k.x >> ({base} - v.level), k.y >> ({base} - v.level), k.kind, k.status,
               count(*), sum(k.cx), sum(k.cy)
        FROM map_status_keys k CROSS JOIN (VALUES {levels}) v(level)
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5;
        INSERT INTO map_status_recent ({key}, closed_on, n, sx, sy)
        SELECT v.level, k.x >> ({base} - v.level), k.y >> ({base} - v.level), k.kind, k.status,
               k.closed_on, count(*), sum(k.cx), sum(k.cy)
        FROM map_status_keys k CROSS JOIN (VALUES {levels}) v(level)
        WHERE k.closed_on >= {today} - {cells.RECENT_HORIZON}
        GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6;
        DROP TABLE map_status_keys;
        ANALYZE map_status_cells;
        ANALYZE map_status_recent;
        RETURN n;
    END """
    functions["truncate"] = """
    BEGIN
        TRUNCATE map_status_cells, map_status_recent;
        RETURN NULL;
    END """
    return functions


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements.replace("%", "%%"))


def upgrade() -> None:
    sql("""
    CREATE TABLE map_status_cells (
        level smallint NOT NULL, x integer NOT NULL, y integer NOT NULL,
        kind varchar(16) NOT NULL, status varchar(20) NOT NULL,
        n integer NOT NULL, sx bigint NOT NULL, sy bigint NOT NULL,
        CONSTRAINT pk_map_status_cells PRIMARY KEY (level, x, y, kind, status)
    ) WITH (fillfactor = 80);
    CREATE TABLE map_status_recent (
        level smallint NOT NULL, x integer NOT NULL, y integer NOT NULL,
        kind varchar(16) NOT NULL, status varchar(20) NOT NULL, closed_on date NOT NULL,
        n integer NOT NULL, sx bigint NOT NULL, sy bigint NOT NULL,
        CONSTRAINT pk_map_status_recent PRIMARY KEY (level, x, y, kind, status, closed_on)
    ) WITH (fillfactor = 80);
    CREATE INDEX ix_map_status_recent_closed_on ON map_status_recent (closed_on);
    -- the filtered views read the full cells of one category or of an arrondissement's
    -- quartiers through these, not every row of the view's range (not covering: the triggers'
    -- updates of n, sx, sy stay HOT)
    CREATE INDEX ix_tile_cells_category ON tile_cells (level, category_id, x, y);
    CREATE INDEX ix_tile_cells_quartier ON tile_cells (level, quartier_id, x, y);
    CREATE INDEX ix_map_recent_cells_category ON map_recent_cells (level, category_id, x, y);
    CREATE INDEX ix_map_recent_cells_quartier ON map_recent_cells (level, quartier_id, x, y);
    """)
    for kind, body in _sql().items():
        returns = "bigint" if kind == "rebuild" else "trigger"
        name = "map_status_rebuild" if kind == "rebuild" else f"map_status_on_{kind}"
        sql(f"CREATE FUNCTION {name}() RETURNS {returns} LANGUAGE plpgsql AS $body${body}$body$")
    sql("""
    CREATE TRIGGER map_status_insert AFTER INSERT ON contributions
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION map_status_on_insert();
    CREATE TRIGGER map_status_update AFTER UPDATE ON contributions
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION map_status_on_update();
    CREATE TRIGGER map_status_delete AFTER DELETE ON contributions
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION map_status_on_delete();
    CREATE TRIGGER map_status_truncate AFTER TRUNCATE ON contributions
        FOR EACH STATEMENT EXECUTE FUNCTION map_status_on_truncate();
    SELECT map_status_rebuild();
    """)


def downgrade() -> None:
    sql("""
    DROP TRIGGER map_status_insert ON contributions;
    DROP TRIGGER map_status_update ON contributions;
    DROP TRIGGER map_status_delete ON contributions;
    DROP TRIGGER map_status_truncate ON contributions;
    DROP FUNCTION map_status_on_insert(), map_status_on_update(), map_status_on_delete(),
        map_status_on_truncate(), map_status_rebuild();
    DROP TABLE map_status_cells, map_status_recent;
    DROP INDEX ix_tile_cells_category, ix_tile_cells_quartier, ix_map_recent_cells_category,
        ix_map_recent_cells_quartier;
    """)
