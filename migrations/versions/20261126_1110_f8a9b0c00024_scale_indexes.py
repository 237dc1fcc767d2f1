"""Indexes for the 5M-report read paths: the agents' queue.

The queue (app/field/queries.py) reads the reports of an agent's scope — services and
arrondissements — in some statuses, and counts them per status over every status. At 5M
reports the only index it could use was (service_id, status): every report of the service
in the statuses asked was fetched from the heap and tested for the arrondissement, and the
counts read every report of the service. `(service_id, arrondissement_id, status)` over the
visible reports (the queue's own predicate, so that the counts are an index-only scan) answers
both from the scope's entries alone (bench/README.md, `reads`).

Revision ID: f8a9b0c00024
Revises: e7f8a9b00023
Create Date: 2026-11-26 11:10
"""

from alembic import op

revision = "f8a9b0c00024"
down_revision = "e7f8a9b00023"
branch_labels = None
depends_on = None

QUEUE_SCOPE = """
CREATE INDEX ix_contributions_queue_scope ON contributions (service_id, arrondissement_id, status)
WHERE kind = 'report' AND NOT hidden AND withdrawn_at IS NULL
"""


def upgrade() -> None:
    op.execute(QUEUE_SCOPE)


def downgrade() -> None:
    op.execute("DROP INDEX ix_contributions_queue_scope")
