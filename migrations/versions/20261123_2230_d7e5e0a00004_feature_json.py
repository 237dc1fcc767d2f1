"""Each contribution keeps its GeoJSON Feature as text, written with the row.

The bbox listing is the hottest read path. Building 500 Features per request with joins and
~40 string operations each cost PostgreSQL ~6 ms of a ~9 ms page (bench/results/bbox.json);
reading them pre-built costs well under a millisecond. `feature_json` holds every member
that depends on the row alone (and on its quartier's name and author's display name),
already serialised:

    "kind":"report",…,"source_id":null},"geometry":{…}}

i.e. the end of a Feature from the second property on. A reader prepends the parts that
depend on the request: `{"type":"Feature","id":N,"properties":{"id":N,"category":{…}` with
the category label in the reader's language, plus any extra properties
(app.contributions.queries.feature).

It is kept exact by a BEFORE INSERT OR UPDATE trigger that fires after contributions_locate
and contributions_route (triggers fire in name order) and by refreshes when a display name
or a quartier name changes. A bulk INSERT … SELECT (the importer) computes it set-based with
the same function and passes it in, like quartier_id.

Revision ID: d7e5e0a00004
Revises: c5a7a7500003
Create Date: 2026-11-23 22:30
"""

from alembic import op

revision = "d7e5e0a00004"
down_revision = "c5a7a7500003"
branch_labels = None
depends_on = None


# Module-level so that a later migration's downgrade can restore the trigger functions
# (a0b1c2d00007).
FEATURE_FUNCTION = """
    -- Timestamps are written in UTC whatever the session time zone, so the stored text does
    -- not depend on who wrote the row. (IMMUTABLE here kept it from being inlined: STABLE
    -- since a0b1c2d00007.)
    CREATE FUNCTION contribution_feature_json(
        kind text, title text, description text, status text, arrondissement_id integer,
        quartier_id integer, quartier_name text, address text, created_at timestamptz,
        updated_at timestamptz, votes_up integer, votes_down integer, comments_count integer,
        photos_count integer, author text, source_id text, geom geometry
    ) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT '"kind":"' || kind || '","title":' || to_json(title)::text
            || ',"description":' || to_json(description)::text
            || ',"status":"' || status || '","arrondissement":' || arrondissement_id
            || ',"quartier":{"code":' || quartier_id || ',"name":' || to_json(quartier_name)::text || '}'
            || ',"address":' || COALESCE(to_json(address)::text, 'null')
            || ',"created_at":' || rtrim(to_json(created_at AT TIME ZONE 'UTC')::text, '"') || '+00:00"'
            || ',"updated_at":' || rtrim(to_json(updated_at AT TIME ZONE 'UTC')::text, '"') || '+00:00"'
            || ',"votes":{"up":' || votes_up || ',"down":' || votes_down || '}'
            || ',"comments_count":' || comments_count || ',"photos_count":' || photos_count
            || ',"author":' || COALESCE(to_json(author)::text, 'null')
            || ',"source_id":' || COALESCE(to_json(source_id)::text, 'null')
            || '},"geometry":' || ST_AsGeoJSON(geom, 6) || '}'
    $$;

"""

SERIALISE_FUNCTION = """
    -- The names are looked up first so that the call is a plain expression (~20 µs a row;
    -- with the lookups as sub-selects in the call it took ~170 µs).
    CREATE FUNCTION contributions_serialise() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        quartier_name text;
        author text;
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.feature_json IS NOT NULL THEN
            RETURN NEW;  -- a bulk INSERT computed it set-based (the importer)
        END IF;
        SELECT name INTO quartier_name FROM quartiers WHERE id = NEW.quartier_id;
        IF NEW.author_id IS NOT NULL THEN
            SELECT display_name INTO author FROM users WHERE id = NEW.author_id;
        END IF;
        NEW.feature_json := contribution_feature_json(
            NEW.kind, NEW.title, NEW.description, NEW.status, NEW.arrondissement_id,
            NEW.quartier_id, quartier_name, NEW.address, NEW.created_at, NEW.updated_at,
            NEW.votes_up, NEW.votes_down, NEW.comments_count, NEW.photos_count, author,
            NEW.source_id, NEW.geom);
        RETURN NEW;
    END $$;
"""

RESERIALISE_FUNCTION = """
    -- A new display name or quartier name shows in every Feature that carries it.
    CREATE FUNCTION contributions_reserialise() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'users' THEN
            UPDATE contributions SET feature_json = NULL WHERE author_id = NEW.id;
        ELSE
            UPDATE contributions SET feature_json = NULL WHERE quartier_id = NEW.id;
        END IF;
        RETURN NULL;
    END $$;
"""


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql(f"""
    ALTER TABLE contributions ADD COLUMN feature_json text;
    -- never filtered on: ANALYZE (run after every bulk import) skips it
    ALTER TABLE contributions ALTER COLUMN feature_json SET STATISTICS 0;
    COMMENT ON COLUMN contributions.feature_json IS
        'Feature JSON from the second property on, kept by trigger contributions_serialise';

    {FEATURE_FUNCTION}
    {SERIALISE_FUNCTION}
    CREATE TRIGGER contributions_serialise BEFORE INSERT OR UPDATE ON contributions
        FOR EACH ROW EXECUTE FUNCTION contributions_serialise();

    {RESERIALISE_FUNCTION}
    CREATE TRIGGER users_reserialise AFTER UPDATE OF display_name ON users
        FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
        EXECUTE FUNCTION contributions_reserialise();
    CREATE TRIGGER quartiers_reserialise AFTER UPDATE OF name ON quartiers
        FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
        EXECUTE FUNCTION contributions_reserialise();

    UPDATE contributions SET feature_json = NULL;  -- the trigger fills it
    ALTER TABLE contributions ALTER COLUMN feature_json SET NOT NULL;
    """)


def downgrade() -> None:
    sql("""
    DROP TRIGGER quartiers_reserialise ON quartiers;
    DROP TRIGGER users_reserialise ON users;
    DROP FUNCTION contributions_reserialise();
    DROP TRIGGER contributions_serialise ON contributions;
    DROP FUNCTION contributions_serialise();
    DROP FUNCTION contribution_feature_json(text, text, text, text, integer, integer, text, text,
        timestamptz, timestamptz, integer, integer, integer, integer, text, text, geometry);
    ALTER TABLE contributions DROP COLUMN feature_json;
    """)
