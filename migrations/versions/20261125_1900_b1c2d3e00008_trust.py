"""Trust: browser sessions that end on the server, and idempotent creates.

Sessions: a signed-in cookie carries a random token whose row says whether it is still valid,
so signing out (here, everywhere, or by a password change) ends it for good, even for someone
who kept a copy of the cookie. `api_tokens` gains `kind` (the API's bearer tokens, the web
pages' session tokens).

Idempotency keys: a client that sends `Idempotency-Key` with a create (a phone retrying after
a timeout) gets the first answer again instead of a second report. One row per account and
key, written in the same transaction as what it created, holding the answer; kept 24 hours.

Photos: a photo is served only while a visible contribution (or a visible report's history)
uses it; two indexes make that check one index probe each. And the two references to a
merged report get their indexes: without them, deleting or merging scans every report.

Revision ID: b1c2d3e00008
Revises: a0b1c2d00007
Create Date: 2026-11-25 19:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b1c2d3e00008"
down_revision = "a0b1c2d00007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("kind", sa.String(10), nullable=False, server_default="bearer"))
    op.create_check_constraint(op.f("ck_api_tokens_kind"), "api_tokens", "kind IN ('bearer', 'session')")
    op.execute("""
        CREATE TABLE idempotency_keys (
            user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            key text NOT NULL CONSTRAINT ck_idempotency_keys_key CHECK (char_length(key) BETWEEN 1 AND 255),
            fingerprint bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            status smallint,
            media_type text,
            location text,
            body bytea,
            CONSTRAINT pk_idempotency_keys PRIMARY KEY (user_id, key)
        )""")
    op.execute("CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at)")
    op.execute("CREATE INDEX ix_photos_sha256 ON photos (sha256)")
    op.execute("CREATE INDEX ix_status_events_photo_sha256 ON status_events (photo_sha256) "
               "WHERE photo_sha256 IS NOT NULL")
    op.execute("CREATE INDEX ix_contributions_duplicate_of_id ON contributions (duplicate_of_id) "
               "WHERE duplicate_of_id IS NOT NULL")
    op.execute("CREATE INDEX ix_status_events_duplicate_of_id ON status_events (duplicate_of_id) "
               "WHERE duplicate_of_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX ix_status_events_duplicate_of_id")
    op.execute("DROP INDEX ix_contributions_duplicate_of_id")
    op.execute("DROP INDEX ix_status_events_photo_sha256")
    op.execute("DROP INDEX ix_photos_sha256")
    op.execute("DROP TABLE idempotency_keys")
    op.execute("DELETE FROM api_tokens WHERE kind = 'session'")
    op.drop_constraint("ck_api_tokens_kind", "api_tokens")
    op.drop_column("api_tokens", "kind")
