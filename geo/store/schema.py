"""The schema: every table, and the geometry type that carries shapely objects.

Geometry is stored in WGS84 (EPSG:4326) and crosses this boundary as shapely geometries,
encoded as WKB: plain BLOBs on SQLite, PostGIS ``geometry`` columns with GiST indexes on
PostgreSQL. All DateTime columns hold naive UTC; the UI converts to Asia/Shanghai. The
migrations in ``geo/migrations`` build the same tables.
"""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

SRID = 4326

# BigInteger ids on PostgreSQL (10 M requests a year at province scale), but SQLite only
# auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class _PostGISGeometry(UserDefinedType[Any]):
    """DDL for a PostGIS column; values are bound and read as hex EWKB text."""

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        self.geometry_type = geometry_type

    def get_col_spec(self, **kw: Any) -> str:
        return f"geometry({self.geometry_type},{SRID})"


class Geometry(TypeDecorator[Any]):
    """A WGS84 geometry column holding shapely objects.

    Encoded as WKB in a BLOB on SQLite and as a PostGIS geometry on PostgreSQL. PostGIS
    parses hex EWKB on input and returns it on output, so both backends share one code path
    with no per-row SQL functions.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:  # noqa: D102
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry(self.geometry_type))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:  # noqa: D102
        if value is None:
            return None
        if isinstance(value, bytes | str):
            value = shapely.from_wkb(value)
        if dialect.name == "postgresql":
            return shapely.to_wkb(shapely.set_srid(value, SRID), hex=True, include_srid=True)
        return shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:  # noqa: D102
        if value is None:
            return None
        return shapely.from_wkb(bytes(value) if isinstance(value, memoryview) else value)


metadata = MetaData()

admin_unit = Table(
    "admin_unit",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("parent_code", String(12), index=True),
    Column("population", Integer),
    Column("geom", Geometry("MULTIPOLYGON")),
)

grid = Table(
    "grid",
    metadata,
    Column("code", String(15), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("community_code", String(12), nullable=False, index=True),
    Column("geom", Geometry("MULTIPOLYGON"), nullable=False),
    Column("area_km2", Float),
    Column("population", Integer),
    Column("households", Integer),
    Column("head_name", String(32)),
    Column("head_phone", String(20)),
    Column("wechat_groups", Integer),
    Column("wechat_members", Integer),
    Column("volunteers", Integer),
    Column("source_crs", String(32)),
)

request = Table(
    "request",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Unique so that a resend of the same report is recognised, not counted twice.
    Column("external_id", String(64), unique=True),
    Column("grid_code", String(15)),
    # Kept, not dropped: a point in no grid waits for triage.
    Column("outside_grid", Boolean, nullable=False, default=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("source_crs", String(32)),
    Column("source", String(16)),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("route", String(16)),
    Column("status", String(16), nullable=False),
    Column("reported_at", DateTime, nullable=False),
    Column("due_at", DateTime),
    Column("resolved_at", DateTime),
    Column("closed_at", DateTime),
    Column("satisfaction", String(24)),
    Column("address", String(256)),
    Column("description", Text),
    Column("reporter_name", String(64)),
    Column("reporter_phone", String(32)),
    # Open311 intake (migration 0003): the e-mail is personal like name and phone.
    Column("reporter_email", String(128)),
    Column("media_url", String(1024)),
    Column("device_id", String(64)),
    Column("client_request_id", String(64)),
    Column("updated_at", DateTime),
    # Migration 0006: the highest escalation level recorded (0 none, 1 due soon, 2 overdue,
    # 3 long overdue), so that each crossing is written once.
    Column("escalation_level", SmallInteger, nullable=False, server_default="0"),
    # Migration 0007, actions by the people who handle requests: to whom it is dispatched
    # (a department or an alliance member), since when it is suspended (挂起: the deadline
    # clock stops) and when a commander first urged it (督办).
    Column("assignee", String(64)),
    Column("suspended_at", DateTime),
    Column("supervised_at", DateTime),
    # Migration 0011, resends recognised per client: the API key that sent the request
    # ("" for an in-process caller) and the client's own id for it (its external_id, or
    # "dev-" + a hash of device_id and client_request_id). Unique together, so a second
    # client reusing the first one's numbers gets its own requests; NULL for files and
    # the demo (NULLs never collide).
    Column("client_key", String(64)),
    Column("client_ref", String(64)),
    Index("ux_request_client", "client_key", "client_ref", unique=True),
    Index("ix_request_grid_reported", "grid_code", "reported_at"),
    Index("ix_request_status", "status"),
    # With grid_code in it, the heat map's counts per grid read the index alone
    # (migration 0005; SQLite province, 30 days: 8 s through the table, 0.5 s here).
    Index("ix_request_reported_grid", "reported_at", "grid_code"),
    # The open backlog is the few rows with no resolution yet (or one after the moment asked).
    Index("ix_request_resolved", "resolved_at"),
    # Migration 0009: the few urged requests (督办), for the wall's and the bulletin's
    # supervision figures; partial, so the unsupervised millions cost nothing.
    Index("ix_request_supervised", "supervised_at",
          sqlite_where=text("supervised_at IS NOT NULL"),
          postgresql_where=text("supervised_at IS NOT NULL")),
)

request_event = Table(
    "request_event",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "request_id", Id, ForeignKey("request.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("at", DateTime, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(64)),
    Column("note", Text),
    # Migration 0006: what the event is (status, note, escalation; issue 14 adds actions)
    # and when GridMap wrote it. ``at`` is when it happened (a file may bring old changes);
    # the updates feed pages by ``recorded_at`` so that a late import is not missed.
    Column("kind", String(16), nullable=False, server_default="status"),
    Column("recorded_at", DateTime),
    Index("ix_request_event_recorded", "recorded_at"),
    # Migration 0006: the sender's id for an update (a resend is recognised by it) and the
    # update's photo. Unique per request and sender; NULLs (most events) never collide.
    Column("update_id", String(64)),
    Column("media_url", String(1024)),
    Index("ux_request_event_update", "request_id", "actor", "update_id", unique=True),
)

station = Table(
    "station",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("officers", Integer),
    # Per-station override of the kind's default coverage radius.
    Column("radius_m", Float),
    Column("address", String(256)),
    Column("source_crs", String(32)),
)

volunteer_activity = Table(
    "volunteer_activity",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("external_id", String(64), unique=True),
    Column("grid_code", String(15), nullable=False, index=True),
    Column("date", Date, nullable=False),
    Column("title", String(128), nullable=False),
    Column("volunteers", Integer, nullable=False),
    Column("hours", Float, nullable=False),
    Column("points", Float, nullable=False),
)

account = Table(
    "account",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(64)),
    Column("password_hash", String(256)),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False, server_default=func.now()),
    # Migration 0004: OIDC identities map to accounts by e-mail; failed logins lock.
    Column("email", String(128), unique=True),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime),
    Column("last_login_at", DateTime),
    Column("password_changed_at", DateTime),
)

account_scope = Table(
    "account_scope",
    metadata,
    Column("account_id", Id, ForeignKey("account.id", ondelete="CASCADE"), primary_key=True),
    Column("admin_code", String(15), primary_key=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, server_default=func.now()),
    Column("actor", String(64)),
    Column("action", String(32), nullable=False),
    Column("area", String(15)),
    Column("rows", Integer),
    Column("detail", Text),
)

setting = Table(
    "setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text),
)

#: Open311 API keys: only the SHA-256 of each key is kept (migration 0003).
api_key = Table(
    "api_key",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("last_used_at", DateTime),
    # Migration 0006: "reporter" keys (the mini-program) create and read; "handler" keys
    # (the handling platform) may also post status updates.
    Column("role", String(16), nullable=False, server_default="reporter"),
)

#: Photos attached to a request's resolution (migration 0007): images only, EXIF removed,
#: kept in the database (never in the repository), served only to who may see the request.
request_photo = Table(
    "request_photo",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, ForeignKey("request.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("content_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("created_at", DateTime, nullable=False),
    Column("actor", String(64)),
)

#: Read-only wall-screen tokens bound to one area (migration 0004); hash only.
wall_token = Table(
    "wall_token",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("area", String(15), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("last_used_at", DateTime),
    Column("created_by", String(64)),
)

#: Signed-in browser sessions (migration 0010). The cookie carries the random id (signed);
#: only its SHA-256 is stored. Sign-out, a password change, disabling the account and an
#: admin's ``gridmap users end-sessions`` set ``ended_at``; a session is live while it is
#: not ended and not expired.
account_session = Table(
    "account_session",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("account_id", Id, ForeignKey("account.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("ended_reason", String(32)),
)

#: Failed sign-ins per client address (``ip:…``) and per account name (``account:…``)
#: (migration 0010): each failure doubles the wait before the next try is heard, up to a
#: cap, instead of a hard lock that an outsider could renew forever.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime, nullable=False),
    Column("next_allowed_at", DateTime, nullable=False),
)


#: 解忧联盟 members (migration 0008): units, NGOs and shops that claim market and charity
#: requests. The contact is personal data, masked like reporters' (geo.access.mask_frame);
#: ``account`` is the username of a member account (role ``alliance``), if any.
alliance_member = Table(
    "alliance_member",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("contact_name", String(64)),
    Column("contact_phone", String(32)),
    Column("account", String(64), unique=True),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64)),
)

#: The admin or grid codes each member serves.
alliance_area = Table(
    "alliance_area",
    metadata,
    Column("member_id", Id, ForeignKey("alliance_member.id", ondelete="CASCADE"),
           primary_key=True),
    Column("area_code", String(15), primary_key=True),
)

#: A member's claim (认领) of a request: unique per request, so a second claim fails even
#: when two sessions race.
request_claim = Table(
    "request_claim",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, ForeignKey("request.id", ondelete="CASCADE"), nullable=False,
           unique=True),
    Column("member_id", Id, ForeignKey("alliance_member.id"), nullable=False, index=True),
    Column("claimed_at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
)

#: Volunteer tasks a grid head publishes (Yiyang's volunteer day). ``claims`` counts the
#: claims so that a guarded UPDATE keeps them within ``places``; a completed task points
#: at the volunteer_activity row it wrote.
volunteer_task = Table(
    "volunteer_task",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("grid_code", String(15), nullable=False),
    Column("title", String(128), nullable=False),
    Column("date", Date, nullable=False),
    Column("places", Integer, nullable=False),
    Column("hours", Float, nullable=False),
    Column("claims", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("published_by", String(64), nullable=False),
    Column("published_at", DateTime, nullable=False),
    Column("completed_at", DateTime),
    Column("activity_id", Id, ForeignKey("volunteer_activity.id", ondelete="SET NULL")),
    Index("ix_volunteer_task_grid_date", "grid_code", "date"),
)

#: A volunteer's claim of a task, and the hours served and points once recorded.
task_claim = Table(
    "task_claim",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task_id", Id, ForeignKey("volunteer_task.id", ondelete="CASCADE"), nullable=False),
    Column("volunteer", String(64), nullable=False),
    Column("account", String(64)),
    Column("claimed_at", DateTime, nullable=False),
    Column("claimed_by", String(64), nullable=False),
    Column("hours_served", Float),
    Column("points", Float),
    UniqueConstraint("task_id", "volunteer", name="uq_task_claim_volunteer"),
)


GRID_COLUMNS = [c.name for c in grid.columns]
REQUEST_COLUMNS = [c.name for c in request.columns if c.name != "id"]
STATION_COLUMNS = [c.name for c in station.columns if c.name != "id"]
ACTIVITY_COLUMNS = [c.name for c in volunteer_activity.columns if c.name != "id"]

#: Grid columns that identify a person (DESIGN §8): read only when asked for.
GRID_PERSONAL = ("head_name", "head_phone")
#: Request columns that identify a person (DESIGN §8): stored, read only when asked for.
REQUEST_PERSONAL = ("reporter_name", "reporter_phone", "reporter_email")
#: Request columns the Open311 API may show: everything but the personal fields.
PUBLIC_REQUEST_COLUMNS = tuple(c.name for c in request.columns
                               if c.name not in REQUEST_PERSONAL)
