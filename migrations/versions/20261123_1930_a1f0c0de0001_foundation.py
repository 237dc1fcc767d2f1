"""Foundation: reference geography, categories, addresses, accounts, contributions, votes,
comments, photos.

Revision ID: a1f0c0de0001
Revises:
Create Date: 2026-11-23 19:30
"""

from alembic import op

revision = "a1f0c0de0001"
down_revision = None
branch_labels = None
depends_on = None

REPORT_STATUSES = "'new','acknowledged','scheduled','resolved','rejected','duplicate','transferred','monitoring'"
REPORT_OPEN = "'new','acknowledged','scheduled','monitoring','transferred'"
PROPOSAL_STATUSES = "'published','under_review','accepted','realised','rejected'"


def sql(statements: str) -> None:
    # driver-level: no bind-parameter parsing of the colons in PL/pgSQL bodies
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql("CREATE EXTENSION IF NOT EXISTS postgis")
    sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    sql("CREATE EXTENSION IF NOT EXISTS btree_gist")

    sql("""
    CREATE TABLE arrondissements (
        id smallint PRIMARY KEY,
        insee_code integer NOT NULL CONSTRAINT uq_arrondissements_insee_code UNIQUE,
        name text NOT NULL,
        area_m2 double precision NOT NULL,
        geom geometry(MultiPolygon, 4326) NOT NULL
    );
    CREATE INDEX ix_arrondissements_geom ON arrondissements USING gist (geom);

    CREATE TABLE quartiers (
        id smallint PRIMARY KEY,
        insee_code integer NOT NULL CONSTRAINT uq_quartiers_insee_code UNIQUE,
        name text NOT NULL,
        arrondissement_id smallint NOT NULL
            CONSTRAINT fk_quartiers_arrondissement_id_arrondissements REFERENCES arrondissements,
        area_m2 double precision NOT NULL,
        geom geometry(MultiPolygon, 4326) NOT NULL
    );
    CREATE INDEX ix_quartiers_geom ON quartiers USING gist (geom);

    -- Quartiers cut into pieces of at most 64 vertices: point-in-polygon against small pieces
    -- is several times faster than against whole quartiers (filled by `flask geo load-areas`).
    CREATE TABLE quartier_parts (
        quartier_id smallint NOT NULL
            CONSTRAINT fk_quartier_parts_quartier_id_quartiers REFERENCES quartiers ON DELETE CASCADE,
        arrondissement_id smallint NOT NULL,
        geom geometry(Polygon, 4326) NOT NULL
    );
    CREATE INDEX ix_quartier_parts_geom ON quartier_parts USING gist (geom);

    CREATE TABLE services (
        id serial PRIMARY KEY,
        code varchar(40) NOT NULL CONSTRAINT uq_services_code UNIQUE,
        name_fr text NOT NULL,
        name_en text NOT NULL
    );

    CREATE TABLE categories (
        id serial PRIMARY KEY,
        code varchar(80) NOT NULL CONSTRAINT uq_categories_code UNIQUE,
        kind varchar(16) NOT NULL CONSTRAINT ck_categories_kind CHECK (kind IN ('report', 'proposal')),
        parent_id integer CONSTRAINT fk_categories_parent_id_categories REFERENCES categories,
        service_id integer CONSTRAINT fk_categories_service_id_services REFERENCES services,
        label_fr text NOT NULL,
        label_en text NOT NULL,
        source_label text,
        position integer NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX uq_categories_kind_source_label ON categories (kind, source_label);
    CREATE INDEX ix_categories_parent_id ON categories (parent_id);

    CREATE TABLE addresses (
        id text PRIMARY KEY,
        number text NOT NULL,
        street text NOT NULL,
        postcode varchar(5) NOT NULL,
        insee_code integer NOT NULL,
        label text NOT NULL,
        search text NOT NULL,
        geom geometry(Point, 4326) NOT NULL
    );
    CREATE INDEX ix_addresses_geom ON addresses USING gist (geom);
    -- GiST (not GIN) so that "ORDER BY search <-> :q" is an index-ordered KNN scan
    CREATE INDEX ix_addresses_search_trgm ON addresses USING gist (search gist_trgm_ops);

    CREATE TABLE users (
        id bigserial PRIMARY KEY,
        email text NOT NULL CONSTRAINT uq_users_email UNIQUE
            CONSTRAINT ck_users_email_lower CHECK (email = lower(email)),
        display_name text NOT NULL
            CONSTRAINT ck_users_display_name CHECK (char_length(display_name) BETWEEN 1 AND 60),
        password_hash text NOT NULL,
        roles text[] NOT NULL DEFAULT '{resident}' CONSTRAINT ck_users_roles CHECK (
            roles <@ ARRAY['resident','agent','supervisor','planner','moderator','admin']::text[]),
        is_active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE api_tokens (
        id bigserial PRIMARY KEY,
        user_id bigint NOT NULL
            CONSTRAINT fk_api_tokens_user_id_users REFERENCES users ON DELETE CASCADE,
        token_hash bytea NOT NULL CONSTRAINT uq_api_tokens_token_hash UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
    );
    CREATE INDEX ix_api_tokens_user_id ON api_tokens (user_id);
    """)

    sql(f"""
    CREATE TABLE contributions (
        id bigserial PRIMARY KEY,
        kind varchar(16) NOT NULL CONSTRAINT ck_contributions_kind CHECK (kind IN ('report', 'proposal')),
        category_id integer NOT NULL
            CONSTRAINT fk_contributions_category_id_categories REFERENCES categories,
        status varchar(20) NOT NULL CONSTRAINT ck_contributions_status CHECK (
            (kind = 'report' AND status IN ({REPORT_STATUSES}))
            OR (kind = 'proposal' AND status IN ({PROPOSAL_STATUSES}))),
        title text NOT NULL CONSTRAINT ck_contributions_title CHECK (char_length(title) BETWEEN 3 AND 140),
        description text NOT NULL DEFAULT ''
            CONSTRAINT ck_contributions_description CHECK (char_length(description) <= 5000),
        geom geometry(Geometry, 4326) NOT NULL
            CONSTRAINT ck_contributions_geom_type CHECK (
                GeometryType(geom) IN ('POINT', 'LINESTRING', 'POLYGON')),
        -- metric copy (Lambert-93) for distances, grids and clustering
        geom_l93 geometry(Geometry, 2154) GENERATED ALWAYS AS (ST_Transform(geom, 2154)) STORED,
        arrondissement_id smallint NOT NULL
            CONSTRAINT fk_contributions_arrondissement_id_arrondissements REFERENCES arrondissements,
        quartier_id smallint NOT NULL
            CONSTRAINT fk_contributions_quartier_id_quartiers REFERENCES quartiers,
        address text,
        author_id bigint CONSTRAINT fk_contributions_author_id_users REFERENCES users,
        source varchar(40),
        source_id text,
        votes_up integer NOT NULL DEFAULT 0,
        votes_down integer NOT NULL DEFAULT 0,
        comments_count integer NOT NULL DEFAULT 0,
        photos_count integer NOT NULL DEFAULT 0,
        hidden boolean NOT NULL DEFAULT false,
        withdrawn_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_contributions_report_is_point CHECK (kind = 'proposal' OR GeometryType(geom) = 'POINT'),
        CONSTRAINT uq_contributions_source_id_source UNIQUE (source_id, source)
    );
    CREATE INDEX ix_contributions_geom ON contributions USING gist (geom);
    CREATE INDEX ix_contributions_created_at_id ON contributions (created_at DESC, id DESC);
    CREATE INDEX ix_contributions_category_id_created_at ON contributions (category_id, created_at);
    CREATE INDEX ix_contributions_arrondissement_id ON contributions (arrondissement_id);
    CREATE INDEX ix_contributions_quartier_id ON contributions (quartier_id);
    CREATE INDEX ix_contributions_author_id ON contributions (author_id);
    -- duplicate hint: same category, open, within metres (see postgis-performance.md §4f)
    CREATE INDEX ix_contributions_open_reports_category_geom_l93 ON contributions
        USING gist (category_id, geom_l93)
        WHERE kind = 'report' AND status IN ({REPORT_OPEN});

    -- Arrondissement and quartier of a contribution: the quartier containing its point on
    -- surface (ties on a border go to the lowest id). A bulk INSERT that already computed them
    -- set-based (the importer, same rule) passes them in; a move always recomputes.
    CREATE FUNCTION contributions_locate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.quartier_id IS NOT NULL THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND ST_OrderingEquals(NEW.geom, OLD.geom) THEN
            RETURN NEW;
        END IF;
        SELECT q.quartier_id, q.arrondissement_id INTO NEW.quartier_id, NEW.arrondissement_id
        FROM quartier_parts q
        WHERE ST_Intersects(q.geom, ST_PointOnSurface(NEW.geom))
        ORDER BY q.quartier_id LIMIT 1;
        IF NEW.quartier_id IS NULL THEN
            RAISE EXCEPTION 'contribution outside Paris' USING ERRCODE = 'check_violation',
                CONSTRAINT = 'ck_contributions_inside_paris';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER contributions_locate BEFORE INSERT OR UPDATE OF geom ON contributions
        FOR EACH ROW EXECUTE FUNCTION contributions_locate();

    CREATE TABLE photos (
        id bigserial PRIMARY KEY,
        contribution_id bigint NOT NULL
            CONSTRAINT fk_photos_contribution_id_contributions REFERENCES contributions ON DELETE CASCADE,
        sha256 varchar(64) NOT NULL,
        width integer NOT NULL,
        height integer NOT NULL,
        bytes integer NOT NULL,
        position smallint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_photos_contribution_id_sha256 UNIQUE (contribution_id, sha256)
    );
    CREATE INDEX ix_photos_contribution_id ON photos (contribution_id);

    CREATE TABLE votes (
        contribution_id bigint NOT NULL
            CONSTRAINT fk_votes_contribution_id_contributions REFERENCES contributions ON DELETE CASCADE,
        user_id bigint NOT NULL CONSTRAINT fk_votes_user_id_users REFERENCES users ON DELETE CASCADE,
        value smallint NOT NULL CONSTRAINT ck_votes_value CHECK (value IN (-1, 1)),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_votes PRIMARY KEY (contribution_id, user_id)
    );
    CREATE INDEX ix_votes_user_id ON votes (user_id);

    CREATE TABLE comments (
        id bigserial PRIMARY KEY,
        contribution_id bigint NOT NULL
            CONSTRAINT fk_comments_contribution_id_contributions REFERENCES contributions ON DELETE CASCADE,
        author_id bigint NOT NULL CONSTRAINT fk_comments_author_id_users REFERENCES users,
        body text NOT NULL CONSTRAINT ck_comments_body CHECK (char_length(body) BETWEEN 1 AND 2000),
        hidden boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ix_comments_contribution_id ON comments (contribution_id);

    -- Counters shown on the map are exact: every vote/comment row change adjusts them in the
    -- same transaction, and the UPDATE's row lock serialises concurrent voters.
    CREATE FUNCTION votes_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        d_up integer := 0;
        d_down integer := 0;
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            d_up := d_up - (OLD.value = 1)::int;
            d_down := d_down - (OLD.value = -1)::int;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            d_up := d_up + (NEW.value = 1)::int;
            d_down := d_down + (NEW.value = -1)::int;
        END IF;
        IF d_up <> 0 OR d_down <> 0 THEN
            UPDATE contributions SET votes_up = votes_up + d_up, votes_down = votes_down + d_down
            WHERE id = COALESCE(NEW.contribution_id, OLD.contribution_id);
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER votes_count AFTER INSERT OR UPDATE OR DELETE ON votes
        FOR EACH ROW EXECUTE FUNCTION votes_count();

    CREATE FUNCTION comments_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        delta integer := 0;
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND NOT OLD.hidden THEN delta := delta - 1; END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NOT NEW.hidden THEN delta := delta + 1; END IF;
        IF delta <> 0 THEN
            UPDATE contributions SET comments_count = comments_count + delta
            WHERE id = COALESCE(NEW.contribution_id, OLD.contribution_id);
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER comments_count AFTER INSERT OR UPDATE OF hidden OR DELETE ON comments
        FOR EACH ROW EXECUTE FUNCTION comments_count();
    """)


def downgrade() -> None:
    sql("""
    DROP TABLE comments;
    DROP FUNCTION comments_count();
    DROP TABLE votes;
    DROP FUNCTION votes_count();
    DROP TABLE photos;
    DROP TABLE contributions;
    DROP FUNCTION contributions_locate();
    DROP TABLE api_tokens;
    DROP TABLE users;
    DROP TABLE addresses;
    DROP TABLE categories;
    DROP TABLE services;
    DROP TABLE quartier_parts;
    DROP TABLE quartiers;
    DROP TABLE arrondissements;
    """)
