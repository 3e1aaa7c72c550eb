"""Server-side browser sessions and the stored sign-in throttle (issue 17, items 3 and 9).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from geo.store.schema import Id

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_session",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", Id, sa.ForeignKey("account.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime()),
        sa.Column("ended_reason", sa.String(32)),
    )
    op.create_index("ix_account_session_account_id", "account_session", ["account_id"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("next_allowed_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index("ix_account_session_account_id", table_name="account_session")
    op.drop_table("account_session")
