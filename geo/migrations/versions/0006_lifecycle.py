"""The request lifecycle: handler keys, event kinds and write times, escalation levels.

* ``api_key.role``: "reporter" (create and read) or "handler" (may post status updates).
* ``request_event.kind`` and ``recorded_at``: notes and escalations are events too; the
  updates feed pages by when GridMap wrote an event.
* ``request.escalation_level``: the highest level recorded, so each crossing is written once.
* ``request_event.update_id``: the sender's id for the update (Open311 ``update_id``, as
  FixMyStreet's servicerequestupdates extension sends it), so that a resend is recognised
  and answered with the first result instead of being applied twice. Unique per request
  and sender.
* ``request_event.media_url``: a photo of the update (the repaired street lamp), shown in
  the request's notes and the updates feed.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False,
                                   server_default="reporter"))
    with op.batch_alter_table("request_event") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="status"))
        batch.add_column(sa.Column("recorded_at", sa.DateTime))
        batch.add_column(sa.Column("update_id", sa.String(64)))
        batch.add_column(sa.Column("media_url", sa.String(1024)))
    # Events written before this revision were recorded when they happened.
    op.execute("UPDATE request_event SET recorded_at = at")
    op.create_index("ix_request_event_recorded", "request_event", ["recorded_at"])
    # NULLs are distinct on both backends: events without an id never collide.
    op.create_index("ux_request_event_update", "request_event",
                    ["request_id", "actor", "update_id"], unique=True)
    with op.batch_alter_table("request") as batch:
        batch.add_column(sa.Column("escalation_level", sa.SmallInteger, nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("request") as batch:
        batch.drop_column("escalation_level")
    op.drop_index("ux_request_event_update", table_name="request_event")
    op.drop_index("ix_request_event_recorded", table_name="request_event")
    with op.batch_alter_table("request_event") as batch:
        batch.drop_column("media_url")
        batch.drop_column("update_id")
        batch.drop_column("recorded_at")
        batch.drop_column("kind")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("role")
