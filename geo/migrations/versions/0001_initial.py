"""Initial schema: admin units, grids, requests and their events, stations, volunteers,
accounts, audit log, settings.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from geo.store.schema import Geometry, Id

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _spatial_index(table: str) -> None:
    # SQLite keeps WKB blobs and needs no spatial index (point->grid assignment uses an
    # in-memory STRtree); PostGIS gets a GiST index for spatial SQL.
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")


def upgrade() -> None:
    op.create_table(
        "admin_unit",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(12)),
        sa.Column("population", sa.Integer),
        sa.Column("geom", Geometry("MULTIPOLYGON")),
    )
    op.create_index("ix_admin_unit_parent_code", "admin_unit", ["parent_code"])
    _spatial_index("admin_unit")

    op.create_table(
        "grid",
        sa.Column("code", sa.String(15), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON"), nullable=False),
        sa.Column("area_km2", sa.Float),
        sa.Column("population", sa.Integer),
        sa.Column("households", sa.Integer),
        sa.Column("head_name", sa.String(32)),
        sa.Column("head_phone", sa.String(20)),
        sa.Column("wechat_groups", sa.Integer),
        sa.Column("wechat_members", sa.Integer),
        sa.Column("volunteers", sa.Integer),
        sa.Column("source_crs", sa.String(32)),
    )
    op.create_index("ix_grid_community_code", "grid", ["community_code"])
    _spatial_index("grid")

    op.create_table(
        "request",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(64), unique=True),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("outside_grid", sa.Boolean, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("source_crs", sa.String(32)),
        sa.Column("source", sa.String(16)),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("route", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reported_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime),
        sa.Column("resolved_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("satisfaction", sa.String(24)),
        sa.Column("address", sa.String(256)),
        sa.Column("description", sa.Text),
        sa.Column("reporter_name", sa.String(64)),
        sa.Column("reporter_phone", sa.String(32)),
    )
    op.create_index("ix_request_grid_reported", "request", ["grid_code", "reported_at"])
    op.create_index("ix_request_status", "request", ["status"])
    op.create_index("ix_request_reported", "request", ["reported_at"])

    op.create_table(
        "request_event",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "request_id", Id, sa.ForeignKey("request.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_request_event_request_id", "request_event", ["request_id"])

    op.create_table(
        "station",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("officers", sa.Integer),
        sa.Column("radius_m", sa.Float),
        sa.Column("address", sa.String(256)),
        sa.Column("source_crs", sa.String(32)),
    )

    op.create_table(
        "volunteer_activity",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(64), unique=True),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("volunteers", sa.Integer, nullable=False),
        sa.Column("hours", sa.Float, nullable=False),
        sa.Column("points", sa.Float, nullable=False),
    )
    op.create_index("ix_volunteer_activity_grid_code", "volunteer_activity", ["grid_code"])

    op.create_table(
        "account",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64)),
        sa.Column("password_hash", sa.String(256)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "account_scope",
        sa.Column(
            "account_id", Id, sa.ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("admin_code", sa.String(15), primary_key=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.String(64)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("area", sa.String(15)),
        sa.Column("rows", sa.Integer),
        sa.Column("detail", sa.Text),
    )
    op.create_table(
        "setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text),
    )


def downgrade() -> None:
    for table in ("setting", "audit_log", "account_scope", "account", "volunteer_activity",
                  "station", "request_event", "request", "grid", "admin_unit"):
        op.drop_table(table)
