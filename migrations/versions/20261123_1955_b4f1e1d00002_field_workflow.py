"""Field workflow: routing, priority, assignment, status history, follows, resident feedback,
agent scopes and the notification outbox.

Revision ID: b4f1e1d00002
Revises: a1f0c0de0001
Create Date: 2026-11-23 19:55
"""

from alembic import op

revision = "b4f1e1d00002"
down_revision = "a1f0c0de0001"
branch_labels = None
depends_on = None


def sql(statements: str) -> None:
    op.get_bind().exec_driver_sql(statements)


def upgrade() -> None:
    sql("""
    ALTER TABLE contributions
        ADD COLUMN service_id integer
            CONSTRAINT fk_contributions_service_id_services REFERENCES services,
        ADD COLUMN priority varchar(10)
            CONSTRAINT ck_contributions_priority CHECK (priority IN ('dangerous', 'annoying', 'minor')),
        ADD COLUMN assigned_to_id bigint
            CONSTRAINT fk_contributions_assigned_to_id_users REFERENCES users,
        ADD COLUMN planned_for date,
        ADD COLUMN duplicate_of_id bigint
            CONSTRAINT fk_contributions_duplicate_of_id_contributions REFERENCES contributions,
        ADD COLUMN transferred_to text,
        ADD COLUMN resolution varchar(20)
            CONSTRAINT ck_contributions_resolution CHECK (resolution IN ('fixed', 'not_fixed', 'forwarded')),
        ADD COLUMN rejection_reason varchar(30),
        -- time to fix, stored for aggregation: first acknowledgement and last closing
        ADD COLUMN acknowledged_at timestamptz,
        ADD COLUMN closed_at timestamptz,
        ADD COLUMN reopen_count integer NOT NULL DEFAULT 0,
        ADD COLUMN followers_count integer NOT NULL DEFAULT 0,
        ADD COLUMN is_demo boolean NOT NULL DEFAULT false;

    UPDATE contributions c SET service_id = cat.service_id
    FROM categories cat WHERE cat.id = c.category_id AND c.service_id IS DISTINCT FROM cat.service_id;

    CREATE INDEX ix_contributions_service_id_status ON contributions (service_id, status);
    CREATE INDEX ix_contributions_assigned_to_id ON contributions (assigned_to_id);

    -- Routing: a report's service is its category's, set on insert and on category change.
    CREATE FUNCTION contributions_route() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- a bulk INSERT that joined the categories already (the importer) passes service_id
        IF (TG_OP = 'INSERT' AND NEW.service_id IS NULL)
           OR (TG_OP = 'UPDATE' AND NEW.category_id IS DISTINCT FROM OLD.category_id) THEN
            SELECT service_id INTO NEW.service_id FROM categories WHERE id = NEW.category_id;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER contributions_route BEFORE INSERT OR UPDATE OF category_id ON contributions
        FOR EACH ROW EXECUTE FUNCTION contributions_route();

    -- Append-only history: one row per status change (or other public step).
    CREATE TABLE status_events (
        id bigserial PRIMARY KEY,
        contribution_id bigint NOT NULL
            CONSTRAINT fk_status_events_contribution_id_contributions REFERENCES contributions ON DELETE CASCADE,
        actor_id bigint CONSTRAINT fk_status_events_actor_id_users REFERENCES users,
        created_at timestamptz NOT NULL DEFAULT now(),
        from_status varchar(20),
        to_status varchar(20) NOT NULL,
        public_note text CONSTRAINT ck_status_events_public_note CHECK (char_length(public_note) <= 2000),
        internal_note text CONSTRAINT ck_status_events_internal_note CHECK (char_length(internal_note) <= 2000),
        planned_for date,
        reason varchar(30),
        resolution varchar(20),
        duplicate_of_id bigint CONSTRAINT fk_status_events_duplicate_of_id_contributions REFERENCES contributions,
        transferred_to text,
        photo_sha256 varchar(64),
        is_demo boolean NOT NULL DEFAULT false
    );
    CREATE INDEX ix_status_events_contribution_id_created_at ON status_events (contribution_id, created_at);
    CREATE FUNCTION status_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'status_events is append-only' USING ERRCODE = 'restrict_violation';
    END $$;
    CREATE TRIGGER status_events_append_only BEFORE UPDATE ON status_events
        FOR EACH ROW EXECUTE FUNCTION status_events_append_only();

    CREATE TABLE follows (
        contribution_id bigint NOT NULL
            CONSTRAINT fk_follows_contribution_id_contributions REFERENCES contributions ON DELETE CASCADE,
        user_id bigint NOT NULL CONSTRAINT fk_follows_user_id_users REFERENCES users ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_follows PRIMARY KEY (contribution_id, user_id)
    );
    CREATE INDEX ix_follows_user_id ON follows (user_id);
    CREATE FUNCTION follows_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE contributions SET followers_count = followers_count + CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END
        WHERE id = COALESCE(NEW.contribution_id, OLD.contribution_id);
        RETURN NULL;
    END $$;
    CREATE TRIGGER follows_count AFTER INSERT OR DELETE ON follows
        FOR EACH ROW EXECUTE FUNCTION follows_count();

    -- Residents close the loop after a resolution: "fixed" or "still there".
    CREATE TABLE fix_feedback (
        id bigserial PRIMARY KEY,
        contribution_id bigint NOT NULL
            CONSTRAINT fk_fix_feedback_contribution_id_contributions REFERENCES contributions ON DELETE CASCADE,
        user_id bigint NOT NULL CONSTRAINT fk_fix_feedback_user_id_users REFERENCES users,
        value varchar(12) NOT NULL CONSTRAINT ck_fix_feedback_value CHECK (value IN ('fixed', 'still_there')),
        service_id integer CONSTRAINT fk_fix_feedback_service_id_services REFERENCES services,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ix_fix_feedback_contribution_id ON fix_feedback (contribution_id);

    -- Which reports an agent may act on: any matching row (NULL = every service / arrondissement).
    CREATE TABLE agent_scopes (
        id serial PRIMARY KEY,
        user_id bigint NOT NULL CONSTRAINT fk_agent_scopes_user_id_users REFERENCES users ON DELETE CASCADE,
        service_id integer CONSTRAINT fk_agent_scopes_service_id_services REFERENCES services,
        arrondissement_id smallint
            CONSTRAINT fk_agent_scopes_arrondissement_id_arrondissements REFERENCES arrondissements,
        CONSTRAINT uq_agent_scopes_user_id_service_id_arrondissement_id
            UNIQUE NULLS NOT DISTINCT (user_id, service_id, arrondissement_id)
    );

    -- Notifications are written in the same transaction as the change, delivered later.
    CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now(),
        recipient text NOT NULL,
        subject text NOT NULL,
        body text NOT NULL,
        event_id bigint CONSTRAINT fk_outbox_event_id_status_events REFERENCES status_events ON DELETE SET NULL,
        status varchar(10) NOT NULL DEFAULT 'pending'
            CONSTRAINT ck_outbox_status CHECK (status IN ('pending', 'sent', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        last_error text
    );
    CREATE INDEX ix_outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending';
    """)


def downgrade() -> None:
    sql("""
    DROP TABLE outbox;
    DROP TABLE agent_scopes;
    DROP TABLE fix_feedback;
    DROP TABLE follows;
    DROP FUNCTION follows_count();
    DROP TABLE status_events;
    DROP FUNCTION status_events_append_only();
    DROP TRIGGER contributions_route ON contributions;
    DROP FUNCTION contributions_route();
    DROP INDEX ix_contributions_service_id_status;
    DROP INDEX ix_contributions_assigned_to_id;
    ALTER TABLE contributions
        DROP COLUMN service_id, DROP COLUMN priority, DROP COLUMN assigned_to_id,
        DROP COLUMN planned_for, DROP COLUMN duplicate_of_id, DROP COLUMN transferred_to,
        DROP COLUMN resolution, DROP COLUMN rejection_reason, DROP COLUMN acknowledged_at,
        DROP COLUMN closed_at, DROP COLUMN reopen_count, DROP COLUMN followers_count,
        DROP COLUMN is_demo;
    """)
