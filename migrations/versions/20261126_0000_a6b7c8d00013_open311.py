"""Open311 GeoReport v2: each API key acts through an account of its own, and what a client
sends beyond a report's columns is kept beside it.

- api_keys.user_id: the key's account ("FixMyStreet Paris"), with the agent role and a scope
  on the key's services (every service when the key names none), so that the one policy
  (app.policy) decides what a client may create and update, as for a person; it has no
  password and an address under `.invalid` (RFC 2606), so it can neither sign in nor be
  e-mailed. Revoking the key deactivates it.
- open311_requests: for a report created through Open311, the key that created it, the
  `media_url` the client gave (never fetched by the server) and its `attribute[…]` values.

Revision ID: a6b7c8d00013
Revises: e4f5a6b00011
Create Date: 2026-11-26 00:00
"""

from alembic import op

revision = "a6b7c8d00013"
down_revision = "e4f5a6b00011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE api_keys ADD COLUMN user_id integer REFERENCES users (id) ON DELETE SET NULL;
        CREATE TABLE open311_requests (
            contribution_id bigint PRIMARY KEY REFERENCES contributions (id) ON DELETE CASCADE,
            api_key_id integer REFERENCES api_keys (id) ON DELETE SET NULL,
            media_url text CONSTRAINT ck_open311_requests_media_url CHECK (char_length(media_url) <= 2000),
            attributes jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now()
        );
    """)


def downgrade() -> None:
    op.execute("""
        DROP TABLE open311_requests;
        ALTER TABLE api_keys DROP COLUMN user_id;
    """)
