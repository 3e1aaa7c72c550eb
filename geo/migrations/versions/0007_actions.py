"""Actions on requests: assignee, suspension, supervision (督办), resolution photos.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("request") as batch:
        batch.add_column(sa.Column("assignee", sa.String(64)))
        batch.add_column(sa.Column("suspended_at", sa.DateTime))
        batch.add_column(sa.Column("supervised_at", sa.DateTime))
    op.create_table(
        "request_photo",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", Id, sa.ForeignKey("request.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64)),
    )
    op.create_index("ix_request_photo_request_id", "request_photo", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_request_photo_request_id", table_name="request_photo")
    op.drop_table("request_photo")
    with op.batch_alter_table("request") as batch:
        batch.drop_column("supervised_at")
        batch.drop_column("suspended_at")
        batch.drop_column("assignee")
