"""Administration: category flags, a catalogue version, API keys, photo redactions, and the
coarse public location of sensitive categories.

- categories: `agent_only` (never offered to residents, refused from them by the API; the
  DansMaRue sub-types labelled "[réservé agents …]" start so), `sensitive` (the public sees
  the report at the centre of its 100 m Lambert-93 cell, without address), `disabled_at`
  (no new contribution; existing ones keep it).
- catalogue_version: one row bumped by every statement that changes categories or services,
  in the same transaction, so that each process re-reads its in-memory tree when it changed
  (app.areas.services.category_index).
- contributions.exact_geom: the exact geometry of a contribution in a sensitive category,
  which staff see; `geom` (and so `geom_l93`, the Feature text, the map, every list, every
  distance and every future export) then holds the coarse point. Private by construction:
  no public query can read what it is not given. The trigger contributions_coarse keeps the
  pair right when a contribution is written, moves or changes category, and when a
  category's `sensitive` flag changes; the arrondissement and quartier are located from the
  exact point.
- api_keys: keys for other applications (Open311 clients), stored as SHA-256, with the
  services they may act for (NULL: all) and a revocation time.
- photo_redactions: a moderator's blurred copy of a photo replaces it on the contribution;
  the original (kept on disk, named by its hash) is listed here for staff.

Revision ID: e4f5a6b00011
Revises: d3e4f5a00010
Create Date: 2026-11-25 23:30
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "e4f5a6b00011"
down_revision = "d3e4f5a00010"
branch_labels = None
depends_on = None


def _module(name: str):
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CELLS = _module("20261123_2330_e8c3d1e00005_quartier_cells.py")

# contributions_locate, now located from the exact point when there is one
LOCATE_EXACT = """
    CREATE OR REPLACE FUNCTION contributions_locate() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        pt geometry := ST_PointOnSurface(coalesce(NEW.exact_geom, NEW.geom));
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.quartier_id IS NOT NULL THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND ST_OrderingEquals(coalesce(NEW.exact_geom, NEW.geom),
                                                   coalesce(OLD.exact_geom, OLD.geom)) THEN
            RETURN NEW;
        END IF;
        SELECT l.quartier_id, l.arrondissement_id INTO NEW.quartier_id, NEW.arrondissement_id
            FROM locate_point(pt) l;
        IF NEW.quartier_id IS NULL THEN
            RAISE EXCEPTION 'contribution outside Paris' USING ERRCODE = 'check_violation',
                CONSTRAINT = 'ck_contributions_inside_paris';
        END IF;
        RETURN NEW;
    END $$;
"""

# contributions_serialise as the whole_feature_json migration wrote it, but for the address:
# a sensitive contribution's is not public
SERIALISE = """
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
            NEW.arrondissement_id, NEW.quartier_id, quartier_name, {address}, NEW.created_at,
            NEW.updated_at, NEW.votes_up, NEW.votes_down, NEW.comments_count, NEW.photos_count,
            author, NEW.source_id, NEW.geom);
        RETURN NEW;
    END $$;
"""


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql(f"""
    ALTER TABLE categories
        ADD COLUMN agent_only boolean NOT NULL DEFAULT false,
        ADD COLUMN sensitive boolean NOT NULL DEFAULT false,
        ADD COLUMN disabled_at timestamptz;
    UPDATE categories SET agent_only = true WHERE label_fr ~* '\\[réservé ';

    CREATE TABLE catalogue_version (
        id smallint PRIMARY KEY CONSTRAINT ck_catalogue_version_one_row CHECK (id = 1),
        version bigint NOT NULL
    );
    INSERT INTO catalogue_version VALUES (1, 1);
    CREATE FUNCTION catalogue_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE catalogue_version SET version = version + 1 WHERE id = 1;
        RETURN NULL;
    END $$;
    CREATE TRIGGER categories_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
        FOR EACH STATEMENT EXECUTE FUNCTION catalogue_bump();
    CREATE TRIGGER services_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services
        FOR EACH STATEMENT EXECUTE FUNCTION catalogue_bump();

    -- The public point of a sensitive contribution: the centre of its 100 m cell in Lambert-93.
    CREATE FUNCTION coarse_point(g geometry) RETURNS geometry
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ST_Transform(ST_SnapToGrid(ST_Transform(ST_PointOnSurface(g), 2154), 50, 50, 100, 100), 4326);

    ALTER TABLE contributions ADD COLUMN exact_geom geometry(Geometry, 4326);
    COMMENT ON COLUMN contributions.exact_geom IS
        'The exact geometry of a contribution in a sensitive category (staff only); geom then holds coarse_point(exact_geom)';

    CREATE FUNCTION contributions_coarse() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        exact geometry;
        is_sensitive boolean;
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.feature_json IS NOT NULL THEN
            RETURN NEW;  -- a bulk INSERT did it set-based (the importer)
        END IF;
        IF TG_OP = 'INSERT' OR NOT ST_OrderingEquals(NEW.geom, OLD.geom) THEN
            exact := NEW.geom;                               -- a new place: the exact one
        ELSE
            exact := coalesce(NEW.exact_geom, OLD.geom);     -- unchanged (or the category's flag)
        END IF;
        SELECT sensitive INTO is_sensitive FROM categories WHERE id = NEW.category_id;
        IF is_sensitive THEN
            NEW.exact_geom := exact;
            NEW.geom := coarse_point(exact);
        ELSE
            NEW.exact_geom := NULL;
            NEW.geom := exact;
        END IF;
        RETURN NEW;
    END $$;
    -- named to fire before contributions_locate and contributions_serialise (alphabetical)
    CREATE TRIGGER contributions_coarse BEFORE INSERT OR UPDATE OF geom, category_id, exact_geom
        ON contributions FOR EACH ROW EXECUTE FUNCTION contributions_coarse();

    -- A category becoming sensitive (or not) moves its contributions' public points.
    CREATE FUNCTION categories_sensitive() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE contributions SET exact_geom = coalesce(exact_geom, geom)
            WHERE category_id = NEW.id;
        RETURN NULL;
    END $$;
    CREATE TRIGGER categories_sensitive AFTER UPDATE OF sensitive ON categories
        FOR EACH ROW WHEN (OLD.sensitive IS DISTINCT FROM NEW.sensitive)
        EXECUTE FUNCTION categories_sensitive();

    {LOCATE_EXACT}
    {SERIALISE.format(address="CASE WHEN NEW.exact_geom IS NULL THEN NEW.address END")}

    CREATE TABLE api_keys (
        id serial PRIMARY KEY,
        name text NOT NULL CONSTRAINT ck_api_keys_name CHECK (char_length(name) BETWEEN 1 AND 100),
        prefix text NOT NULL,
        key_hash bytea NOT NULL CONSTRAINT uq_api_keys_key_hash UNIQUE,
        service_ids integer[],
        contact text,
        created_by integer REFERENCES users (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
    );

    CREATE TABLE photo_redactions (
        id bigserial PRIMARY KEY,
        contribution_id bigint NOT NULL REFERENCES contributions (id) ON DELETE CASCADE,
        original_sha256 varchar(64) NOT NULL,
        redacted_sha256 varchar(64) NOT NULL,
        regions jsonb NOT NULL,
        moderator_id integer REFERENCES users (id) ON DELETE SET NULL,
        reason text,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ix_photo_redactions_original ON photo_redactions (original_sha256);
    CREATE INDEX ix_photo_redactions_contribution ON photo_redactions (contribution_id);
    """)


def downgrade() -> None:
    sql(f"""
    DROP TABLE photo_redactions;
    DROP TABLE api_keys;
    {SERIALISE.format(address="NEW.address")}
    {CELLS.LOCATE.format(lookup=CELLS.GRID_LOOKUP)}
    DROP TRIGGER categories_sensitive ON categories;
    DROP FUNCTION categories_sensitive();
    DROP TRIGGER contributions_coarse ON contributions;
    DROP FUNCTION contributions_coarse();
    UPDATE contributions SET geom = exact_geom WHERE exact_geom IS NOT NULL;
    ALTER TABLE contributions DROP COLUMN exact_geom;
    DROP FUNCTION coarse_point(geometry);
    DROP TRIGGER services_bump ON services;
    DROP TRIGGER categories_bump ON categories;
    DROP FUNCTION catalogue_bump();
    DROP TABLE catalogue_version;
    ALTER TABLE categories DROP COLUMN disabled_at, DROP COLUMN sensitive, DROP COLUMN agent_only;
    """)
