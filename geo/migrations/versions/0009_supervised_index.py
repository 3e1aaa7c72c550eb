"""A partial index on request.supervised_at: the urged requests (督办) only.

The wall and the bulletin count requests supervised in a window and the supervised
backlog; the index holds only the requests a commander urged, so the figures read a few
rows whatever the table's size.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_WHERE = sa.text("supervised_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_request_supervised", "request", ["supervised_at"],
                    sqlite_where=_WHERE, postgresql_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_request_supervised", table_name="request")
