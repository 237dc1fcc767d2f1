"""An index for "My contributions": what a person commented on.

The page's "commented" tab reads `comments` by author; the table was indexed only by
contribution, so the tab scanned every comment. `comments (author_id, created_at)` also serves
the account export and deletion. (`follows` by person has ix_follows_user_id already.)

Revision ID: d6e7f8a00022
Revises: c5d6e7f00021
Create Date: 2026-11-26 10:20
"""

from alembic import op

revision = "d6e7f8a00022"
down_revision = "c5d6e7f00021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_comments_author_created ON comments (author_id, created_at DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_comments_author_created")
