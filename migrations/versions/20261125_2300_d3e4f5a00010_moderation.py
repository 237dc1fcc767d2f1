"""Moderation: flags, bans, and an append-only audit log.

- flags: anyone signed in flags a contribution, a comment or a profile with a reason; one
  flag per person per item (a unique constraint, so two clicks or two workers make one).
  A moderator's decision closes the item's open flags (`closed_at`).
- bans: an account (`users.banned_at`) or an e-mail domain (`banned_domains`); what a banned
  author writes afterwards is stored hidden.
- audit_log: every moderation and administration action (who, when, what, why, and what it
  replaced). Append-only: a trigger refuses UPDATE and DELETE, for everyone but a superuser
  who disables it on purpose.

Revision ID: d3e4f5a00010
Revises: c2d3e4f00009
Create Date: 2026-11-25 23:00
"""

from alembic import op

revision = "d3e4f5a00010"
down_revision = "c2d3e4f00009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE flags (
            id bigserial PRIMARY KEY,
            subject_type text NOT NULL
                CONSTRAINT ck_flags_subject_type CHECK (subject_type IN ('contribution', 'comment', 'user')),
            subject_id bigint NOT NULL,
            user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            reason text NOT NULL CONSTRAINT ck_flags_reason
                CHECK (reason IN ('spam', 'offensive', 'personal_data', 'off_topic', 'other')),
            note text CONSTRAINT ck_flags_note CHECK (char_length(note) <= 500),
            created_at timestamptz NOT NULL DEFAULT now(),
            closed_at timestamptz,
            CONSTRAINT uq_flags_one_per_person UNIQUE (subject_type, subject_id, user_id)
        );
        CREATE INDEX ix_flags_open ON flags (subject_type, subject_id) WHERE closed_at IS NULL;

        ALTER TABLE users ADD COLUMN banned_at timestamptz;
        CREATE TABLE banned_domains (
            domain text PRIMARY KEY CONSTRAINT ck_banned_domains_domain
                CHECK (domain = lower(domain) AND domain LIKE '%_._%'),
            reason text NOT NULL,
            created_by integer REFERENCES users (id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE audit_log (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor_id integer REFERENCES users (id) ON DELETE SET NULL,  -- NULL: the system
            action text NOT NULL,
            subject_type text NOT NULL,
            subject_id text NOT NULL,
            reason text,
            details jsonb NOT NULL DEFAULT '{}'
        );
        CREATE INDEX ix_audit_log_subject ON audit_log (subject_type, subject_id, id);
        CREATE INDEX ix_audit_log_at ON audit_log (at);

        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
               AND (OLD.id, OLD.at, OLD.action, OLD.subject_type, OLD.subject_id, OLD.reason,
                    OLD.details) IS NOT DISTINCT FROM
                   (NEW.id, NEW.at, NEW.action, NEW.subject_type, NEW.subject_id, NEW.reason,
                    NEW.details) THEN
                RETURN NEW;  -- the actor's account was deleted (ON DELETE SET NULL)
            END IF;
            RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    """)


def downgrade() -> None:
    op.execute("""
        DROP TABLE audit_log;
        DROP FUNCTION audit_log_append_only();
        DROP TABLE banned_domains;
        ALTER TABLE users DROP COLUMN banned_at;
        DROP TABLE flags;
    """)
