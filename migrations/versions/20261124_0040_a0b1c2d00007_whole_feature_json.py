"""The stored Feature text becomes the whole Feature, category included (in French).

Until now `feature_json` started at the second property and every reader prepended
`{"type":"Feature","id":N,"properties":{"id":N,"category":{…},` in Python, 500 times per map
page. Under load that per-row Python work, and the text decoding and re-encoding around it,
was the largest cost of the bbox listing (bench/results/bbox.json). The text now holds the
whole Feature with the category's French label, France's default:

    {"type":"Feature","id":N,"properties":{"id":N,"category":{"code":…,"label":…},"kind":…},"geometry":{…}}

so a page in French is the rows' bytes joined by commas, untouched by Python. Another
language swaps the category member (its first occurrence: it comes before any text a user
wrote) for the member `category_feature_member` builds from that language's label. A new
category code or French label reaches every Feature of the category (categories_reserialise),
as display names and quartier names already did.

The serialising functions become STABLE. Declared IMMUTABLE, with STABLE calls inside
(to_json), PostgreSQL never inlined them: every row paid a SQL-function call, 62 µs for the
whole Feature against 2.6 µs inlined (39,515 rows: 2.46 s → 0.10 s). Their text still does
not depend on the session: timestamps are written in UTC explicitly.

Revision ID: a0b1c2d00007
Revises: f1a2b3c00006
Create Date: 2026-11-24 00:40
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "a0b1c2d00007"
down_revision = "f1a2b3c00006"
branch_labels = None
depends_on = None

TAIL_SIGNATURE = """contribution_feature_json(text, text, text, text, integer, integer, text, text,
    timestamptz, timestamptz, integer, integer, integer, integer, text, text, geometry)"""
NEW_SIGNATURE = """contribution_feature_json(bigint, text, text, text, text, text, integer, integer,
    text, text, timestamptz, timestamptz, integer, integer, integer, integer, text, text, geometry)"""


def _previous():
    """The feature_json migration's function definitions, for the downgrade."""
    path = Path(__file__).with_name("20261123_2230_d7e5e0a00004_feature_json.py")
    spec = importlib.util.spec_from_file_location("feature_json_d7e5e0a00004", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql(f"""
    -- The `"category":{{…}}` member in one language. Python reads it from here too
    -- (app.areas.services.category_index), so that swapping languages matches byte for byte.
    CREATE FUNCTION category_feature_member(code text, label text)
    RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT '"category":{{"code":' || to_json(code)::text || ',"label":' || to_json(label)::text || '}}'
    $$;

    -- The whole Feature: the head, then the members the feature_json migration's function
    -- writes (kept, under its 17 arguments). Both are inlined by the planner.
    ALTER FUNCTION {TAIL_SIGNATURE} STABLE;
    CREATE FUNCTION contribution_feature_json(
        id bigint, category text, kind text, title text, description text, status text,
        arrondissement_id integer, quartier_id integer, quartier_name text, address text,
        created_at timestamptz, updated_at timestamptz, votes_up integer, votes_down integer,
        comments_count integer, photos_count integer, author text, source_id text, geom geometry
    ) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT '{{"type":"Feature","id":' || id || ',"properties":{{"id":' || id || ',' || category
            || ',' || contribution_feature_json(kind, title, description, status,
                arrondissement_id, quartier_id, quartier_name, address, created_at, updated_at,
                votes_up, votes_down, comments_count, photos_count, author, source_id, geom)
    $$;
    COMMENT ON COLUMN contributions.feature_json IS
        'The whole Feature (category label in French), kept by trigger contributions_serialise';

    -- The names are looked up first so that the call is a plain expression, which PL/pgSQL
    -- evaluates with contribution_feature_json inlined (~15 µs a row, the three lookups included).
    CREATE OR REPLACE FUNCTION contributions_serialise() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        category text;
        quartier_name text;
        author text;
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.feature_json IS NOT NULL THEN
            RETURN NEW;  -- a bulk INSERT computed it set-based (the importer)
        END IF;
        SELECT category_feature_member(code, label_fr) INTO category
            FROM categories WHERE id = NEW.category_id;
        SELECT name INTO quartier_name FROM quartiers WHERE id = NEW.quartier_id;
        IF NEW.author_id IS NOT NULL THEN
            SELECT display_name INTO author FROM users WHERE id = NEW.author_id;
        END IF;
        NEW.feature_json := contribution_feature_json(
            NEW.id, category, NEW.kind, NEW.title, NEW.description, NEW.status,
            NEW.arrondissement_id, NEW.quartier_id, quartier_name, NEW.address, NEW.created_at,
            NEW.updated_at, NEW.votes_up, NEW.votes_down, NEW.comments_count, NEW.photos_count,
            author, NEW.source_id, NEW.geom);
        RETURN NEW;
    END $$;

    -- A new display name, quartier name or category label shows in every Feature carrying it.
    CREATE OR REPLACE FUNCTION contributions_reserialise() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'users' THEN
            UPDATE contributions SET feature_json = NULL WHERE author_id = NEW.id;
        ELSIF TG_TABLE_NAME = 'categories' THEN
            UPDATE contributions SET feature_json = NULL WHERE category_id = NEW.id;
        ELSE
            UPDATE contributions SET feature_json = NULL WHERE quartier_id = NEW.id;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER categories_reserialise AFTER UPDATE OF code, label_fr ON categories
        FOR EACH ROW WHEN ((OLD.code, OLD.label_fr) IS DISTINCT FROM (NEW.code, NEW.label_fr))
        EXECUTE FUNCTION contributions_reserialise();

    UPDATE contributions SET feature_json = NULL;  -- the trigger fills it
    """)


def downgrade() -> None:
    previous = _previous()

    def replace(definition: str) -> str:
        return definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)

    sql(f"""
    DROP TRIGGER categories_reserialise ON categories;
    DROP FUNCTION {NEW_SIGNATURE};
    DROP FUNCTION category_feature_member(text, text);
    ALTER FUNCTION {TAIL_SIGNATURE} IMMUTABLE;
    {replace(previous.SERIALISE_FUNCTION)}
    {replace(previous.RESERIALISE_FUNCTION)}
    COMMENT ON COLUMN contributions.feature_json IS
        'Feature JSON from the second property on, kept by trigger contributions_serialise';
    UPDATE contributions SET feature_json = NULL;  -- the trigger fills it
    """)
