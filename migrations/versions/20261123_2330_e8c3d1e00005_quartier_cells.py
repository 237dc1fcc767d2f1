"""Locate points through a grid: a hash lookup, and a polygon test only near borders.

`quartier_cells` holds every 0.0005° × 0.0005° cell (about 37 × 56 m) that lies strictly
inside one quartier and touches no other: for a point in such a cell the quartier is known
without any geometry. About nine points in ten fall in one; the others (cells on a border)
take the exact test against `quartier_parts`. The answer is the same as the exact rule's
by construction (a resolved cell, grown by 1e-9°, is properly inside its quartier and meets
no other quartier), and `locate_point` is the one place both paths live: the
contributions_locate trigger (API writes) and the importer's set-based INSERT call it.

The grid is rebuilt by `quartier_cells_rebuild()`, which `flask geo load-areas` calls.

Revision ID: e8c3d1e00005
Revises: d7e5e0a00004
Create Date: 2026-11-23 23:30
"""

from alembic import op

revision = "e8c3d1e00005"
down_revision = "d7e5e0a00004"
branch_labels = None
depends_on = None

# grid origin and step, in degrees; keys are i * 1000 + j (i < 600, j < 300)
LON0, LAT0, STEP = 2.2, 48.8, 0.0005


# contributions_locate, from the foundation migration; only the lookup changes here
LOCATE = """
    CREATE OR REPLACE FUNCTION contributions_locate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.quartier_id IS NOT NULL THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND ST_OrderingEquals(NEW.geom, OLD.geom) THEN
            RETURN NEW;
        END IF;
        {lookup}
        IF NEW.quartier_id IS NULL THEN
            RAISE EXCEPTION 'contribution outside Paris' USING ERRCODE = 'check_violation',
                CONSTRAINT = 'ck_contributions_inside_paris';
        END IF;
        RETURN NEW;
    END $$;
"""
GRID_LOOKUP = """SELECT l.quartier_id, l.arrondissement_id INTO NEW.quartier_id, NEW.arrondissement_id
        FROM locate_point(ST_PointOnSurface(NEW.geom)) l;"""
PARTS_LOOKUP = """SELECT q.quartier_id, q.arrondissement_id INTO NEW.quartier_id, NEW.arrondissement_id
        FROM quartier_parts q
        WHERE ST_Intersects(q.geom, ST_PointOnSurface(NEW.geom))
        ORDER BY q.quartier_id LIMIT 1;"""


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql(f"""
    CREATE TABLE quartier_cells (
        cell integer PRIMARY KEY,
        quartier_id smallint NOT NULL,
        arrondissement_id smallint NOT NULL
    );

    -- NULL outside the grid's extent (lon 2.2–2.5, lat 48.8–48.95)
    CREATE FUNCTION quartier_cell(lon double precision, lat double precision) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN lon >= {LON0} AND lon < {LON0} + 600 * {STEP}
                 AND lat >= {LAT0} AND lat < {LAT0} + 300 * {STEP}
                THEN floor((lon - {LON0}) / {STEP})::integer * 1000
                     + floor((lat - {LAT0}) / {STEP})::integer END;

    -- The quartier (and its arrondissement) containing a point: lowest id on a border.
    CREATE FUNCTION locate_point(pt geometry)
    RETURNS TABLE (quartier_id smallint, arrondissement_id smallint)
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT g.quartier_id, g.arrondissement_id FROM quartier_cells g
        WHERE g.cell = quartier_cell(ST_X(pt), ST_Y(pt))
        UNION ALL
        (SELECT q.quartier_id, q.arrondissement_id FROM quartier_parts q
         WHERE ST_Intersects(q.geom, pt) ORDER BY q.quartier_id LIMIT 1)
        LIMIT 1
    $$;

    CREATE FUNCTION quartier_cells_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        n bigint;
    BEGIN
        TRUNCATE quartier_cells;
        INSERT INTO quartier_cells (cell, quartier_id, arrondissement_id)
        SELECT c.i * 1000 + cj.j, min(q.id), min(q.arrondissement_id)
        FROM (SELECT ST_Extent(geom) AS e FROM quartiers) x
        CROSS JOIN LATERAL generate_series(
            greatest(0, floor((ST_XMin(x.e) - {LON0}) / {STEP})::integer),
            least(599, floor((ST_XMax(x.e) - {LON0}) / {STEP})::integer)) AS c(i)
        CROSS JOIN LATERAL generate_series(
            greatest(0, floor((ST_YMin(x.e) - {LAT0}) / {STEP})::integer),
            least(299, floor((ST_YMax(x.e) - {LAT0}) / {STEP})::integer)) AS cj(j)
        CROSS JOIN LATERAL (SELECT ST_MakeEnvelope(
            {LON0} + c.i * {STEP} - 1e-9, {LAT0} + cj.j * {STEP} - 1e-9,
            {LON0} + (c.i + 1) * {STEP} + 1e-9, {LAT0} + (cj.j + 1) * {STEP} + 1e-9, 4326) AS box) b
        JOIN quartiers q ON ST_Intersects(q.geom, b.box)
        GROUP BY c.i, cj.j
        HAVING count(*) = 1 AND bool_and(ST_ContainsProperly(q.geom, b.box));
        GET DIAGNOSTICS n = ROW_COUNT;
        ANALYZE quartier_cells;
        RETURN n;
    END $$;

    {LOCATE.format(lookup=GRID_LOOKUP)}
    SELECT quartier_cells_rebuild();
    """)


def downgrade() -> None:
    sql(f"""
    {LOCATE.format(lookup=PARTS_LOOKUP)}
    DROP FUNCTION quartier_cells_rebuild();
    DROP FUNCTION locate_point(geometry);
    DROP FUNCTION quartier_cell(double precision, double precision);
    DROP TABLE quartier_cells;
    """)
