"""Accounts: verified e-mails, password resets, two-factor sign-in, OIDC identities, deletion.

- users: `email_verified_at` (set by a verification link or by an OpenID Connect provider
  that vouches for the address); `password_hash` may be NULL (an account made by signing in
  with the city's provider has no local password until it sets one by a reset link); TOTP
  (`totp_secret`, `totp_enabled_at`, and `totp_last_step`, the last 30-second step accepted,
  so that a code seen over someone's shoulder cannot be replayed); `deleted_at` (a deleted
  account keeps its row, anonymised, so that its contributions stay on the map).
- account_tokens: single-use, expiring links sent by e-mail (verify an address, reset a
  password); only their SHA-256 is stored, with the address they were sent to.
- recovery_codes: ten single-use codes per account with two-factor sign-in (SHA-256 only).
- user_identities: an account's identities at OpenID Connect providers (issuer, subject).

Revision ID: c2d3e4f00009
Revises: b1c2d3e00008
Create Date: 2026-11-25 22:00
"""

from alembic import op

revision = "c2d3e4f00009"
down_revision = "b1c2d3e00008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE users
            ADD COLUMN email_verified_at timestamptz,
            ALTER COLUMN password_hash DROP NOT NULL,
            ADD COLUMN totp_secret text,
            ADD COLUMN totp_enabled_at timestamptz,
            ADD COLUMN totp_last_step bigint,
            ADD COLUMN deleted_at timestamptz,
            ADD CONSTRAINT ck_users_totp_enabled CHECK (totp_enabled_at IS NULL OR totp_secret IS NOT NULL);

        CREATE TABLE account_tokens (
            id bigserial PRIMARY KEY,
            user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            purpose text NOT NULL
                CONSTRAINT ck_account_tokens_purpose CHECK (purpose IN ('verify_email', 'reset_password')),
            token_hash bytea NOT NULL CONSTRAINT uq_account_tokens_token_hash UNIQUE,
            email text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            used_at timestamptz
        );
        CREATE INDEX ix_account_tokens_user_id ON account_tokens (user_id, purpose);

        CREATE TABLE recovery_codes (
            id bigserial PRIMARY KEY,
            user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            code_hash bytea NOT NULL,
            used_at timestamptz,
            CONSTRAINT uq_recovery_codes_user_code UNIQUE (user_id, code_hash)
        );

        CREATE TABLE user_identities (
            id serial PRIMARY KEY,
            user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            issuer text NOT NULL,
            subject text NOT NULL,
            email text,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_user_identities_issuer_subject UNIQUE (issuer, subject)
        );
        CREATE INDEX ix_user_identities_user_id ON user_identities (user_id);
    """)


def downgrade() -> None:
    op.execute("""
        DROP TABLE user_identities;
        DROP TABLE recovery_codes;
        DROP TABLE account_tokens;
        UPDATE users SET password_hash = '!' WHERE password_hash IS NULL;  -- matches no password
        ALTER TABLE users
            DROP CONSTRAINT ck_users_totp_enabled,
            DROP COLUMN deleted_at,
            DROP COLUMN totp_last_step,
            DROP COLUMN totp_enabled_at,
            DROP COLUMN totp_secret,
            ALTER COLUMN password_hash SET NOT NULL,
            DROP COLUMN email_verified_at;
    """)
