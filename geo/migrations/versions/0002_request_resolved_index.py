"""Index request.resolved_at: the open backlog is found without scanning every request.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_request_resolved", "request", ["resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_request_resolved", table_name="request")
