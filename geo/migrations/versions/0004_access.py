"""Access: account e-mail (OIDC mapping), failed-login lockout, password age; wall tokens.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from geo.store.schema import Id

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("email", sa.String(128)))
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime()))
        batch.add_column(sa.Column("last_login_at", sa.DateTime()))
        batch.add_column(sa.Column("password_changed_at", sa.DateTime()))
        batch.create_unique_constraint("uq_account_email", ["email"])
    op.create_table(
        "wall_token",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("area", sa.String(15), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime()),
        sa.Column("last_used_at", sa.DateTime()),
        sa.Column("created_by", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("wall_token")
    with op.batch_alter_table("account") as batch:
        batch.drop_constraint("uq_account_email", type_="unique")
        for name in ("password_changed_at", "last_login_at", "locked_until", "failed_logins",
                     "email"):
            batch.drop_column(name)
