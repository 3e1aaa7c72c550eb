"""Resends recognised per API key: request.client_key and client_ref, unique together.

Before, a resend was recognised by the request's external_id alone, shared by every
client: a second client reusing the first one's numbers was answered with the first
one's requests and nothing was stored (issue 17, item 10). Requests the API stored
before keep their external_id as their client_ref, with the key named by their
"reported" event (``api:NAME``; ``api`` alone for an in-process caller).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: The "reported" event of a request the API stored: its actor names the key.
_API_EVENT = ("FROM request_event e WHERE e.request_id = request.id AND e.from_status IS NULL "
              "AND (e.actor = 'api' OR e.actor LIKE 'api:%')")


def upgrade() -> None:
    op.add_column("request", sa.Column("client_key", sa.String(64)))
    op.add_column("request", sa.Column("client_ref", sa.String(64)))
    op.execute(
        "UPDATE request SET client_ref = external_id, client_key = ("
        "SELECT CASE WHEN e.actor = 'api' THEN '' ELSE substr(e.actor, 5) END "
        f"{_API_EVENT} ORDER BY e.id LIMIT 1) "
        f"WHERE external_id NOT LIKE 'o311-%' AND EXISTS (SELECT 1 {_API_EVENT})")
    op.create_index("ux_request_client", "request", ["client_key", "client_ref"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_request_client", table_name="request")
    with op.batch_alter_table("request") as batch:
        batch.drop_column("client_ref")
        batch.drop_column("client_key")
