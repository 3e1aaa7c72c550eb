"""Open311 intake: the request's e-mail, media URL, device and client ids, update time;
API keys (hash only).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from geo.store.schema import Id

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_REQUEST_COLUMNS = (
    ("reporter_email", sa.String(128)),
    ("media_url", sa.String(1024)),
    ("device_id", sa.String(64)),
    ("client_request_id", sa.String(64)),
    ("updated_at", sa.DateTime()),
)


def upgrade() -> None:
    # Nullable columns only: SQLite adds them with a plain ALTER TABLE, no table copy.
    for name, type_ in _REQUEST_COLUMNS:
        op.add_column("request", sa.Column(name, type_))
    op.create_table(
        "api_key",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime()),
        sa.Column("last_used_at", sa.DateTime()),
    )


def downgrade() -> None:
    op.drop_table("api_key")
    with op.batch_alter_table("request") as batch:
        for name, _ in reversed(_REQUEST_COLUMNS):
            batch.drop_column(name)
