"""Status updates posted by handling platforms: their ids and photos on the event.

* ``request_event.update_id``: the sender's id for the update (Open311 ``update_id``, as
  FixMyStreet's servicerequestupdates extension sends it), so that a resend is recognised
  and answered with the first result instead of being applied twice. Unique per request
  and sender.
* ``request_event.media_url``: a photo of the update (the repaired street lamp), shown in
  the request's notes and the updates feed.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_event") as batch:
        batch.add_column(sa.Column("update_id", sa.String(64)))
        batch.add_column(sa.Column("media_url", sa.String(1024)))
    # NULLs are distinct on both backends: events without an id never collide.
    op.create_index("ux_request_event_update", "request_event",
                    ["request_id", "actor", "update_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_request_event_update", table_name="request_event")
    with op.batch_alter_table("request_event") as batch:
        batch.drop_column("media_url")
        batch.drop_column("update_id")
