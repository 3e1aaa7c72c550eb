"""解忧联盟 members and their claims of requests; volunteer tasks and their claims.

* ``alliance_member`` (unit / NGO / shop, contact = personal data, optional member account)
  and ``alliance_area`` (the admin or grid codes it serves).
* ``request_claim``: at most one claim per request (the unique key refuses a second one
  even when two sessions race), by which member, when, recorded by whom.
* ``volunteer_task`` (published in a grid; ``claims`` counts claims so that a guarded
  UPDATE keeps them within ``places``) and ``task_claim`` (volunteer, hours served, points).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alliance_member",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("contact_name", sa.String(64)),
        sa.Column("contact_phone", sa.String(32)),
        sa.Column("account", sa.String(64), unique=True),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "alliance_area",
        sa.Column("member_id", Id, sa.ForeignKey("alliance_member.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("area_code", sa.String(15), primary_key=True),
    )
    op.create_table(
        "request_claim",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("request_id", Id, sa.ForeignKey("request.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("member_id", Id, sa.ForeignKey("alliance_member.id"), nullable=False),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
    )
    op.create_index("ix_request_claim_member_id", "request_claim", ["member_id"])
    op.create_table(
        "volunteer_task",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("places", sa.Integer, nullable=False),
        sa.Column("hours", sa.Float, nullable=False),
        sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.Column("completed_at", sa.DateTime),
        sa.Column("activity_id", Id, sa.ForeignKey("volunteer_activity.id",
                                                   ondelete="SET NULL")),
    )
    op.create_index("ix_volunteer_task_grid_date", "volunteer_task", ["grid_code", "date"])
    op.create_table(
        "task_claim",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("task_id", Id, sa.ForeignKey("volunteer_task.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("volunteer", sa.String(64), nullable=False),
        sa.Column("account", sa.String(64)),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("hours_served", sa.Float),
        sa.Column("points", sa.Float),
        sa.UniqueConstraint("task_id", "volunteer", name="uq_task_claim_volunteer"),
    )


def downgrade() -> None:
    op.drop_table("task_claim")
    op.drop_index("ix_volunteer_task_grid_date", table_name="volunteer_task")
    op.drop_table("volunteer_task")
    op.drop_index("ix_request_claim_member_id", table_name="request_claim")
    op.drop_table("request_claim")
    op.drop_table("alliance_area")
    op.drop_table("alliance_member")
