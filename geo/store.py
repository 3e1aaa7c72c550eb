"""The one place that talks SQL: engine from URL, schema, migrations, reads and writes.

The backend is chosen by one URL, ``GRIDMAP_DATABASE_URL``. The embedded default is a SQLite
file in ``data/`` in WAL mode; production is PostgreSQL with PostGIS. Geometry is stored in
WGS84 (EPSG:4326) and crosses this boundary as shapely geometries, encoded as WKB: plain
BLOBs on SQLite, PostGIS ``geometry`` columns with GiST indexes on PostgreSQL. All DateTime
columns hold naive UTC; the UI converts to Asia/Shanghai.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
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
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    create_engine,
    event,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator, UserDefinedType

from geo import vocab
from geo.access import Scope

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_SQLITE = PROJECT_DIR / "data" / "gridmap.db"
SRID = 4326

# BigInteger ids on PostgreSQL (10 M requests a year at province scale), but SQLite only
# auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class _PostGISGeometry(UserDefinedType):
    """DDL for a PostGIS column; values are bound and read as hex EWKB text."""

    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        self.geometry_type = geometry_type

    def get_col_spec(self, **kw: Any) -> str:
        return f"geometry({self.geometry_type},{SRID})"


class Geometry(TypeDecorator):
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

    def load_dialect_impl(self, dialect):  # noqa: D102
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry(self.geometry_type))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):  # noqa: D102
        if value is None:
            return None
        if isinstance(value, bytes | str):
            value = shapely.from_wkb(value)
        if dialect.name == "postgresql":
            return shapely.to_wkb(shapely.set_srid(value, SRID), hex=True, include_srid=True)
        return shapely.to_wkb(value)

    def process_result_value(self, value, dialect):  # noqa: D102
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
    Index("ix_request_grid_reported", "grid_code", "reported_at"),
    Index("ix_request_status", "status"),
    # With grid_code in it, the heat map's counts per grid read the index alone
    # (migration 0005; SQLite province, 30 days: 8 s through the table, 0.5 s here).
    Index("ix_request_reported_grid", "reported_at", "grid_code"),
    # The open backlog is the few rows with no resolution yet (or one after the moment asked).
    Index("ix_request_resolved", "resolved_at"),
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


# --------------------------------------------------------------------------- engine


def database_url() -> str:
    """Return the configured database URL (``GRIDMAP_DATABASE_URL`` or the SQLite default)."""
    return os.environ.get("GRIDMAP_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"


def make_engine(url: str | None = None, *, upgrade: bool = True) -> Engine:
    """Create an engine for ``url`` and bring its schema to the newest version.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL. Defaults to :func:`database_url`. ``postgresql://`` URLs use the
        psycopg 3 driver.
    upgrade : bool
        Run the schema migrations up to head (idempotent).

    Returns
    -------
    sqlalchemy.engine.Engine

    """
    url = url or database_url()
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if upgrade:
        upgrade_schema(engine)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the dashboard read while intake writes; the busy timeout makes writers wait
    # for each other instead of failing with "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # SQLite's default page cache (2 MB) and temp store (a file, in the OS cache) on
    # purpose: the heat map's GROUP BY over 820 k index entries took 0.45 s with them and
    # 1.2 s with a 256 MB cache and in-memory temp b-trees (province, 30 days).
    # Bulk inserts get the big cache for their own statement (bulk_insert_requests).
    cur.close()


def upgrade_schema(engine: Engine, *, revision: str = "head") -> None:
    """Apply the Alembic migrations in ``geo/migrations`` up to ``revision``."""
    from alembic import command
    from alembic.config import Config

    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            _ensure_postgis(conn)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _ensure_postgis(conn: Connection) -> None:
    try:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except Exception as exc:  # the server lacks the extension's files
        raise RuntimeError(
            "PostgreSQL backend needs the PostGIS extension: install it on the server "
            "(Debian: apt-get install postgresql-15-postgis-3) or ask the DBA to run "
            f"CREATE EXTENSION postgis. Underlying error: {exc}"
        ) from exc


def schema_revision(engine: Engine) -> str | None:
    """Return the Alembic revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# --------------------------------------------------------------------------- helpers


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside one transaction: everything commits, or nothing does."""
    with engine.begin() as conn:
        yield conn


def _clean(value: Any) -> Any:
    """Turn pandas/numpy scalars into what DBAPI drivers accept."""
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Return plain-Python dict rows for the given columns of ``frame``."""
    cols = [c for c in columns if c in frame.columns]
    out = []
    for row in frame[cols].itertuples(index=False, name=None):
        out.append({c: _clean(v) for c, v in zip(cols, row, strict=True)})
    return out


def _insert_ignoring(conn: Connection, table: Table, rows: list[dict], *, key: str) -> int:
    """Insert rows, skipping any whose ``key`` already exists. Returns rows inserted."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=[key])
    before = conn.execute(select(func.count()).select_from(table)).scalar_one()
    for chunk in _chunks(rows, 5000):
        conn.execute(stmt, chunk)
    after = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return int(after - before)


def _upsert(conn: Connection, table: Table, rows: list[dict], *, key: str) -> int:
    """Insert rows, replacing the non-key columns of rows whose ``key`` exists."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    cols = [c for c in rows[0] if c != key]
    stmt = stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in cols}
    )
    for chunk in _chunks(rows, 2000):
        conn.execute(stmt, chunk)
    return len(rows)


def _chunks(rows: list, size: int) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --------------------------------------------------------------------------- writes

GRID_COLUMNS = [c.name for c in grid.columns]
REQUEST_COLUMNS = [c.name for c in request.columns if c.name != "id"]
STATION_COLUMNS = [c.name for c in station.columns if c.name != "id"]
ACTIVITY_COLUMNS = [c.name for c in volunteer_activity.columns if c.name != "id"]


def write_admin_units(conn: Connection, units: pd.DataFrame) -> int:
    """Insert or replace admin units (code, name, level, parent_code, population, geom)."""
    return _upsert(conn, admin_unit, records(units, [c.name for c in admin_unit.columns]),
                   key="code")


def write_grids(conn: Connection, grids: gpd.GeoDataFrame) -> int:
    """Insert or replace grids by code. ``grids`` has a geometry column in EPSG:4326."""
    frame = pd.DataFrame(grids.drop(columns=grids.geometry.name))
    # The column is MULTIPOLYGON: PostGIS refuses a plain Polygon where SQLite would not.
    frame["geom"] = [shapely.MultiPolygon([g]) if g is not None and g.geom_type == "Polygon"
                     else g for g in grids.geometry.values]
    return _upsert(conn, grid, records(frame, GRID_COLUMNS), key="code")


def insert_requests(conn: Connection, requests: pd.DataFrame) -> int:
    """Insert requests, skipping those whose external_id is already stored.

    Returns the number of rows actually inserted.
    """
    return _insert_ignoring(conn, request, records(requests, REQUEST_COLUMNS), key="external_id")


def bulk_insert_requests(conn: Connection, requests: pd.DataFrame) -> int:
    """Insert many requests fast, skipping external ids already stored.

    The bulk path for imports and the demo: one DBAPI ``executemany`` on SQLite, ``COPY``
    into a temporary table and one ``INSERT … SELECT`` on PostgreSQL. It runs inside the
    caller's transaction, so a failure leaves nothing behind.

    Returns
    -------
    int
        Rows actually inserted (resends of stored external ids are not counted).

    """
    cols = [c for c in REQUEST_COLUMNS if c in requests.columns]
    if requests.empty:
        return 0
    frame = requests[cols]
    col_list = ", ".join(cols)
    if conn.dialect.name == "postgresql":
        return _copy_requests(conn, frame, cols, col_list)
    values = []
    for c in cols:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            # The text form SQLAlchemy's SQLite DateTime type writes, parses and compares
            # (a space, not "T", between date and time); numpy formats it in C.
            text_ = np.char.replace(
                np.datetime_as_string(s.to_numpy(dtype="datetime64[us]"), unit="us"), "T", " ")
            s = pd.Series(text_, dtype=object).where(s.notna().to_numpy(), None)
        elif pd.api.types.is_bool_dtype(s):
            s = s.astype(int)
        else:
            s = s.astype(object).where(s.notna(), None)
        values.append(s.tolist())
    marks = ", ".join("?" for _ in cols)
    sql = (f"INSERT INTO request ({col_list}) VALUES ({marks}) "
           "ON CONFLICT(external_id) DO NOTHING")
    cur = conn.connection.driver_connection.cursor()
    total = 0
    rows = list(zip(*values, strict=True))
    # 256 MB page cache while inserting: five indexes of a multi-million-row table are
    # updated; back to the default afterwards, which reads faster (_sqlite_pragmas).
    cur.execute("PRAGMA cache_size=-262144")
    try:
        for chunk in _chunks(rows, 50000):
            cur.executemany(sql, chunk)
            total += max(cur.rowcount, 0)
    finally:
        cur.execute("PRAGMA cache_size=-2000")
        cur.close()
    return total


def _copy_requests(conn: Connection, frame: pd.DataFrame, cols: list[str], col_list: str) -> int:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS request_load "
                    "(LIKE request INCLUDING DEFAULTS) ON COMMIT DROP")
        cur.execute("TRUNCATE request_load")
        # CSV through COPY: pandas formats the text in bulk, PostgreSQL parses it in C.
        # Missing values are written as unquoted empty fields, which COPY reads as NULL (an
        # empty text becomes NULL too, which every reader treats alike).
        with cur.copy(f"COPY request_load ({col_list}) FROM STDIN "
                      "WITH (FORMAT csv, NULL '')") as copy:
            for start in range(0, len(frame), 100_000):
                buf = io.StringIO()
                frame.iloc[start:start + 100_000].to_csv(
                    buf, header=False, index=False, quoting=csv.QUOTE_MINIMAL,
                    date_format="%Y-%m-%d %H:%M:%S.%f")
                copy.write(buf.getvalue())
        # Duplicates inside one file keep their first row, as on SQLite.
        cur.execute(
            f"INSERT INTO request ({col_list}) SELECT {col_list} FROM request_load "
            "ORDER BY ctid ON CONFLICT (external_id) DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute("TRUNCATE request_load")
    return int(inserted)


def request_ids(conn: Connection, external_ids: Iterable[str]) -> np.ndarray:
    """Return the stored ids for ``external_ids``, in the same order."""
    ext = list(external_ids)
    frame = read_frame(conn, select(request.c.id, request.c.external_id)
                       .where(request.c.external_id.is_not(None)))
    lookup = dict(zip(frame.external_id, frame.id, strict=True))
    return np.array([lookup[e] for e in ext], dtype=np.int64)


def write_stations(conn: Connection, stations: pd.DataFrame) -> int:
    """Insert or replace police stations by code."""
    return _upsert(conn, station, records(stations, STATION_COLUMNS), key="code")


def insert_activities(conn: Connection, activities: pd.DataFrame) -> int:
    """Insert volunteer activities, skipping external ids already stored."""
    return _insert_ignoring(
        conn, volunteer_activity, records(activities, ACTIVITY_COLUMNS), key="external_id"
    )


def insert_events(conn: Connection, events: pd.DataFrame) -> int:
    """Append request events (request_id, at, from_status, to_status, actor, note)."""
    rows = records(events, ["request_id", "at", "from_status", "to_status", "actor", "note"])
    for chunk in _chunks(rows, 20000):
        conn.execute(request_event.insert(), chunk)
    return len(rows)


def log_audit(bind: Engine | Connection, *, actor: str | None, action: str,
              area: str | None = None, rows: int | None = None,
              detail: dict[str, Any] | None = None) -> None:
    """Append one line to the audit log (logins, exports, imports; DESIGN §8).

    Parameters
    ----------
    bind : Engine or Connection
        An engine writes in its own transaction; a connection joins the caller's.
    actor : str or None
        Who did it (account name, or ``cli:<os user>``).
    action : str
        ``export``, ``import``, ``login``, ``login_failed``…
    area : str, optional
        The admin or grid code the action covered.
    rows : int, optional
        Rows exported or imported.
    detail : dict, optional
        Anything else worth keeping (layer, format, personal flag, file name), as JSON.

    """
    import json

    row = {"at": pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime(), "actor": actor,
           "action": action, "area": area, "rows": rows,
           "detail": json.dumps(detail or {}, ensure_ascii=False, default=str)}
    if isinstance(bind, Connection):
        bind.execute(audit_log.insert(), row)
    else:
        with bind.begin() as conn:
            conn.execute(audit_log.insert(), row)


def read_audit(bind: Engine | Connection, *, limit: int = 200,
               action: str | None = None) -> pd.DataFrame:
    """Return the newest audit lines first (only ``action`` lines when given)."""
    stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    return read_frame(bind, stmt)


def set_setting(conn: Connection, key: str, value: str) -> None:
    """Store one key/value setting (demo flag, seed, planted clusters…)."""
    _upsert(conn, setting, [{"key": key, "value": value}], key="key")


# --------------------------------------------------------------------------- reads


def get_setting(engine: Engine | Connection, key: str, default: str | None = None) -> str | None:
    """Return a stored setting, or ``default``."""
    with _conn(engine) as conn:
        value = conn.execute(select(setting.c.value).where(setting.c.key == key)).scalar()
    return default if value is None else value


@contextmanager
def _conn(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def read_frame(bind: Engine | Connection, stmt) -> pd.DataFrame:
    """Run a select (or a SQL string) and return its rows as a DataFrame."""
    if isinstance(stmt, str):
        stmt = text(stmt)
    with _conn(bind) as conn:
        result = conn.execute(stmt)
        keys = list(result.keys())
        # Plain tuples: pandas probes SQLAlchemy Row objects attribute by attribute, which is
        # about ten times slower on thousands of rows.
        return pd.DataFrame([tuple(row) for row in result], columns=keys)


def _geoframe(frame: pd.DataFrame, geom_col: str = "geom") -> gpd.GeoDataFrame:
    geoms = frame.pop(geom_col) if geom_col in frame else pd.Series([], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(list(geoms), crs=SRID,
                                                          index=frame.index))


#: Grid columns that identify a person (DESIGN §8): read only when asked for.
GRID_PERSONAL = ("head_name", "head_phone")


def read_grids(
    bind: Engine | Connection, *, codes: Iterable[str] | None = None,
    community_codes: Iterable[str] | None = None, personal: bool = False,
    scope: Scope | None = None,
) -> gpd.GeoDataFrame:
    """Return grids as a GeoDataFrame in EPSG:4326, ordered by code.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    codes : iterable of str, optional
        Only these grid codes.
    community_codes : iterable of str, optional
        Only grids of these communities.
    personal : bool
        Include the grid head's name and phone (for the grid head and admins only).
    scope : geo.access.Scope, optional
        Only grids inside it (see :func:`scope_condition`); None: every grid.

    """
    cols = [c for c in grid.columns if personal or c.name not in GRID_PERSONAL]
    stmt = select(*cols).order_by(grid.c.code)
    if codes is not None:
        stmt = stmt.where(grid.c.code.in_(list(codes)))
    if community_codes is not None:
        stmt = stmt.where(grid.c.community_code.in_(list(community_codes)))
    return _geoframe(read_frame(bind, scoped(stmt, grid.c.code, scope)))


def read_admin_units(bind: Engine | Connection, *, level: str | None = None) -> gpd.GeoDataFrame:
    """Return admin units (optionally one level) as a GeoDataFrame in EPSG:4326."""
    stmt = select(admin_unit).order_by(admin_unit.c.code)
    if level is not None:
        stmt = stmt.where(admin_unit.c.level == level)
    return _geoframe(read_frame(bind, stmt))


def read_requests(
    bind: Engine | Connection, *, since=None, until=None, categories: Iterable[str] | None = None,
    grid_codes: Iterable[str] | None = None, columns: Sequence[str] | None = None,
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Return requests reported in [since, until) as a DataFrame.

    Personal fields (reporter name and phone) are left out unless named in ``columns``.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    since, until : datetime, optional
        Naive UTC bounds on ``reported_at``; either may be open.
    categories : iterable of str, optional
        Only these category codes (e.g. ``["dispute"]``).
    grid_codes : iterable of str, optional
        Only requests assigned to these grids.
    columns : sequence of str, optional
        Columns to return; default every non-personal column.
    scope : geo.access.Scope, optional
        Only requests in grids inside it; None: every request.

    """
    personal = set(REQUEST_PERSONAL)
    names = list(columns) if columns else [c.name for c in request.columns
                                           if c.name not in personal]
    stmt = select(*[request.c[n] for n in names]).order_by(request.c.reported_at)
    if since is not None:
        stmt = stmt.where(request.c.reported_at >= since)
    if until is not None:
        stmt = stmt.where(request.c.reported_at < until)
    if categories is not None:
        stmt = stmt.where(request.c.category.in_(list(categories)))
    if grid_codes is not None:
        stmt = stmt.where(request.c.grid_code.in_(list(grid_codes)))
    return read_frame(bind, scoped(stmt, request.c.grid_code, scope))


def read_stations(bind: Engine | Connection) -> gpd.GeoDataFrame:
    """Return police stations as points in EPSG:4326."""
    frame = read_frame(bind, select(station).order_by(station.c.id))
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=SRID
    )


def table_counts(bind: Engine | Connection) -> dict[str, int]:
    """Return the row count of every table, for status lines and tests."""
    with _conn(bind) as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def is_empty(bind: Engine | Connection) -> bool:
    """Return True when no grid has been loaded yet (a fresh database)."""
    with _conn(bind) as conn:
        return conn.execute(select(func.count()).select_from(grid)).scalar_one() == 0


def clear_all(conn: Connection) -> None:
    """Delete every row of every table (used before rebuilding the demo)."""
    for t in reversed(metadata.sorted_tables):
        conn.execute(t.delete())


#: Request columns that identify a person (DESIGN §8): stored, read only when asked for.
REQUEST_PERSONAL = ("reporter_name", "reporter_phone", "reporter_email")


# --------------------------------------------------------------------------- import support


def existing_keys(bind: Engine | Connection, table_name: str, column: str,
                  values: Iterable[Any]) -> set[Any]:
    """Return which of ``values`` are already stored in ``table_name.column``.

    Used by the importer to tell new rows from re-imported ones (and in dry runs, where
    nothing is written). Queries in chunks so that the bind-parameter limit of SQLite is
    never reached.
    """
    col = metadata.tables[table_name].c[column]
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    found: set[Any] = set()
    with _conn(bind) as conn:
        for chunk in _chunks(wanted, 900):
            found.update(conn.execute(select(col).where(col.in_(chunk))).scalars())
    return found


# --------------------------------------------------------------------------- Open311 intake

#: Request columns the Open311 API may show: everything but the personal fields.
PUBLIC_REQUEST_COLUMNS = tuple(c.name for c in request.columns
                               if c.name not in REQUEST_PERSONAL)


_PUBLIC_SELECT = select(*[request.c[n] for n in PUBLIC_REQUEST_COLUMNS])
# Built once: every Open311 POST looks its idempotency key up.
_FIND_BY_ID = _PUBLIC_SELECT.where(request.c.id == bindparam("value"))
_FIND_BY_EXTERNAL_ID = _PUBLIC_SELECT.where(request.c.external_id == bindparam("value"))


def find_request(bind: Engine | Connection, *, id: int | None = None,
                 external_id: str | None = None) -> dict[str, Any] | None:
    """Return one request's public columns by id or external id, or None when unknown."""
    if id is not None:
        stmt, value = _FIND_BY_ID, id
    elif external_id is not None:
        stmt, value = _FIND_BY_EXTERNAL_ID, external_id
    else:
        raise ValueError("give id or external_id")
    with _conn(bind) as conn:
        row = conn.execute(stmt, {"value": value}).mappings().first()
    return dict(row) if row is not None else None


def insert_request_row(conn: Connection, row: dict[str, Any], *, actor: str | None = None,
                       note: str | None = None) -> int:
    """Insert one request and its "reported" event in the caller's transaction.

    A resend of a stored ``external_id`` raises ``sqlalchemy.exc.IntegrityError`` (the
    unique constraint decides, so two concurrent resends cannot both get in).

    Returns
    -------
    int
        The new request's id.

    """
    # Values as parameters, not .values(**row): the statement then compiles once and is
    # reused from SQLAlchemy's cache, which halves the cost of an Open311 POST.
    new_id = int(conn.execute(request.insert(), row).inserted_primary_key[0])
    conn.execute(request_event.insert(), {
        "request_id": new_id, "at": row["reported_at"], "from_status": None,
        "to_status": row["status"], "actor": actor, "note": note})
    return new_id


def search_requests(
    bind: Engine | Connection, *, ids: Sequence[int] | None = None,
    categories: Sequence[str] | None = None, since: datetime | None = None,
    until: datetime | None = None, closed: bool | None = None, offset: int = 0,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Return public request columns, newest first (the Open311 ``GET /requests``).

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    ids : sequence of int, optional
        Only these request ids.
    categories : sequence of str, optional
        Only these category codes.
    since, until : datetime, optional
        Naive UTC bounds on ``reported_at``, [since, until].
    closed : bool, optional
        True: only resolved or rated requests; False: only the others.
    offset, limit : int
        The page.

    """
    r = request.c
    stmt = select(*[r[n] for n in PUBLIC_REQUEST_COLUMNS])
    if ids is not None:
        stmt = stmt.where(r.id.in_(list(ids)))
    if categories is not None:
        stmt = stmt.where(r.category.in_(list(categories)))
    if since is not None:
        stmt = stmt.where(r.reported_at >= since)
    if until is not None:
        stmt = stmt.where(r.reported_at <= until)
    if closed is not None:
        is_closed = r.status.in_(sorted(vocab.CLOSED_STATUSES))
        stmt = stmt.where(is_closed if closed else ~is_closed)
    stmt = stmt.order_by(r.reported_at.desc(), r.id.desc()).offset(offset).limit(limit)
    with _conn(bind) as conn:
        return [dict(m) for m in conn.execute(stmt).mappings()]


def grid_count(bind: Engine | Connection) -> int:
    """Return the number of stored grids (intake's cache key for its grid index)."""
    with _conn(bind) as conn:
        return int(conn.execute(select(func.count()).select_from(grid)).scalar_one())


def create_api_key(conn: Connection, *, name: str, key_hash: str, now: datetime) -> int:
    """Store a new API key's hash under ``name``; IntegrityError if the name is taken."""
    result = conn.execute(api_key.insert().values(name=name, key_hash=key_hash,
                                                  created_at=now))
    return int(result.inserted_primary_key[0])


def find_api_key(bind: Engine | Connection, key_hash: str) -> dict[str, Any] | None:
    """Return the API key row (id, name, revoked_at, last_used_at) for a hash, or None."""
    k = api_key.c
    stmt = select(k.id, k.name, k.revoked_at, k.last_used_at).where(k.key_hash == key_hash)
    with _conn(bind) as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def touch_api_key(bind: Engine | Connection, key_id: int, now: datetime) -> None:
    """Record that a key was used at ``now``."""
    with _conn(bind) as conn:
        conn.execute(api_key.update().where(api_key.c.id == key_id).values(last_used_at=now))
        if isinstance(bind, Engine):
            conn.commit()


def list_api_keys(bind: Engine | Connection) -> pd.DataFrame:
    """Return every API key's name and times (never the hash), by name."""
    k = api_key.c
    return read_frame(bind, select(k.name, k.created_at, k.revoked_at, k.last_used_at)
                      .order_by(k.name))


def revoke_api_key(conn: Connection, name: str, *, now: datetime) -> bool:
    """Revoke the key called ``name``; False when there is no such live key."""
    result = conn.execute(api_key.update()
                          .where(api_key.c.name == name, api_key.c.revoked_at.is_(None))
                          .values(revoked_at=now))
    return result.rowcount > 0


# ---------------------------------------------------- analytics queries (heat, bulletin)
#
# Counts for geo/heat.py and geo/bulletin.py. Every count is a conditional COUNT in one
# GROUP BY pass over an indexed reported_at range; no raw request rows leave the database.
# A request's state is judged "as of" a moment ``t`` (the end of the window), from its
# timestamps, so a past window reads the same today as it did then:
#
# * resolved by t: resolved_at < t, or no resolved_at but a closed status (imports may carry
#   "办结" without a time; such a request counts as resolved, never as on time);
# * due by t: due_at < t, or resolved by t (an early resolution is owed and delivered);
# * on time: resolved by t and resolved_at <= due_at (or no deadline at all);
# * overdue at t: due_at < t and not resolved by t;
# * rated by t: a satisfaction code and no closed_at at or after t.

#: The count columns returned by :func:`request_counts_per_grid` and :func:`request_totals`.
REQUEST_COUNT_COLUMNS = (
    "requests", "open", "overdue", "due", "resolved", "on_time", "rated", "satisfied",
    "disputes", "disputes_open", "disputes_due", "disputes_resolved",
)

#: Asia/Shanghai is UTC+8 all year (no daylight saving since 1991).
LOCAL_UTC_OFFSET = timedelta(hours=8)


def _request_conditions(until: datetime) -> dict[str, Any]:
    """Name → SQL condition for each count, a request's state judged as of ``until``.

    Every condition is written so that it is never NULL where it is negated: ``NOT NULL`` is
    NULL in SQL, and a NULL condition would silently drop a row from a count.
    """
    r = request.c
    resolved = or_(and_(r.resolved_at.is_not(None), r.resolved_at < until),
                   and_(r.resolved_at.is_(None), r.status.in_(sorted(vocab.CLOSED_STATUSES))))
    past_due = and_(r.due_at.is_not(None), r.due_at < until)
    due = or_(past_due, resolved)
    # On time needs a resolution time: a closed status with no resolved_at never is.
    on_time = and_(resolved, r.resolved_at.is_not(None),
                   or_(r.due_at.is_(None), r.resolved_at <= r.due_at))
    rated = and_(r.satisfaction.in_(sorted(vocab.SATISFACTION)),
                 or_(r.closed_at.is_(None), r.closed_at < until))
    satisfied = and_(rated, r.satisfaction.in_(sorted(vocab.SATISFIED)))
    dispute = r.category == "dispute"
    return {
        "requests": None,
        "open": ~resolved,
        "overdue": and_(past_due, ~resolved),
        "due": due,
        "resolved": resolved,
        "on_time": on_time,
        "rated": rated,
        "satisfied": satisfied,
        "disputes": dispute,
        "disputes_open": and_(dispute, ~resolved),
        "disputes_due": and_(dispute, due),
        "disputes_resolved": and_(dispute, resolved),
    }


def _request_count_columns(until: datetime) -> list:
    """Labelled conditional counts of requests, their state judged as of ``until``."""
    return [func.count().label(name) if cond is None
            else func.count(case((cond, 1))).label(name)
            for name, cond in _request_conditions(until).items()]


def _reported_between(stmt, since: datetime | None, until: datetime):
    stmt = stmt.where(request.c.reported_at < until)
    return stmt if since is None else stmt.where(request.c.reported_at >= since)


def scope_condition(column, scope: Scope | None):
    """Return the SQL test that ``column`` (a grid code) lies inside ``scope``, or None.

    A grid is inside when the scope names it, its community, or the community's township,
    county or city, following the stored admin hierarchy (``parent_code``) rather than the
    digits, so a township filed under another county is still found. Rows with no grid
    (outside every grid) are never inside a restricted scope.
    """
    if scope is None or scope.everywhere:
        return None
    areas = list(scope.areas)
    com = admin_unit.alias("scope_community")
    town = admin_unit.alias("scope_township")
    county = admin_unit.alias("scope_county")
    inside = (
        select(grid.c.code)
        .select_from(grid.outerjoin(com, com.c.code == grid.c.community_code)
                     .outerjoin(town, town.c.code == com.c.parent_code)
                     .outerjoin(county, county.c.code == town.c.parent_code))
        .where(or_(grid.c.code.in_(areas), grid.c.community_code.in_(areas),
                   town.c.code.in_(areas), county.c.code.in_(areas),
                   county.c.parent_code.in_(areas)))
    )
    return column.in_(inside)


def grid_in_scope(bind: Engine | Connection, code: str, scope: Scope | None) -> bool:
    """Return True when grid ``code`` is stored and inside ``scope`` (stored hierarchy).

    The same test every scoped read applies (:func:`scope_condition`), for a check made
    before reading one grid.
    """
    stmt = select(grid.c.code).where(grid.c.code == code)
    stmt = scoped(stmt, grid.c.code, scope)
    with _conn(bind) as conn:
        return conn.execute(stmt.limit(1)).first() is not None


def scoped(stmt, column, scope: Scope | None):
    """Add :func:`scope_condition` to ``stmt`` when the scope restricts anything."""
    cond = scope_condition(column, scope)
    return stmt if cond is None else stmt.where(cond)


def _in_area(stmt, *, grid_code: str | None, grid_prefix: str | None,
             grid_codes: Sequence[str] | None, scope: Scope | None = None):
    stmt = scoped(stmt, request.c.grid_code, scope)
    if grid_code is not None:
        stmt = stmt.where(request.c.grid_code == grid_code)
    if grid_codes is not None:
        stmt = stmt.where(request.c.grid_code.in_(list(grid_codes)))
    if grid_prefix is not None:
        # Admin codes are prefixes of their grids' codes (统计用区划代码).
        stmt = stmt.where(request.c.grid_code.startswith(grid_prefix, autoescape=True))
    return stmt


def _int_frame(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Give count columns an integer dtype even when the query returned no rows."""
    return frame.astype({c: "int64" for c in columns})


def request_counts_per_grid(
    bind: Engine | Connection, *, since: datetime | None, until: datetime,
    as_of: datetime | None = None, scope: Scope | None = None,
) -> pd.DataFrame:
    """Count requests per grid reported in [since, until), their state as of ``as_of``.

    One ``GROUP BY grid_code`` over the ``reported_at`` range. Requests with no grid
    (outside every grid) are left out; grids with no request have no row.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    since : datetime or None
        Naive UTC start (inclusive); None counts everything reported before ``until``.
    until : datetime
        Naive UTC end (exclusive).
    as_of : datetime, optional
        The moment each request's state is judged at; default ``until``.
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.

    Returns
    -------
    pandas.DataFrame
        ``grid_code`` and the :data:`REQUEST_COUNT_COLUMNS` (int64), one row per grid
        that has at least one request in the window, ordered by code.

    """
    stmt = (select(request.c.grid_code, *_request_count_columns(as_of or until))
            .where(request.c.grid_code.is_not(None))
            .group_by(request.c.grid_code).order_by(request.c.grid_code))
    stmt = scoped(_reported_between(stmt, since, until), request.c.grid_code, scope)
    return _int_frame(read_frame(bind, stmt), REQUEST_COUNT_COLUMNS)


def requests_per_grid(
    bind: Engine | Connection, *, since: datetime | None, until: datetime,
    scope: Scope | None = None,
) -> pd.Series:
    """Count requests reported in [since, until) per grid: the heat map's one figure.

    Unlike :func:`request_counts_per_grid` it judges no state, so it reads only the
    ``(reported_at, grid_code)`` index, never the table.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    since : datetime or None
        Naive UTC start (inclusive); None counts everything reported before ``until``.
    until : datetime
        Naive UTC end (exclusive).
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.

    Returns
    -------
    pandas.Series
        int64 ``requests`` indexed by ``grid_code``, only grids with at least one request.

    """
    stmt = (select(request.c.grid_code, func.count().label("requests"))
            .where(request.c.grid_code.is_not(None)).group_by(request.c.grid_code))
    stmt = scoped(_reported_between(stmt, since, until), request.c.grid_code, scope)
    frame = read_frame(bind, stmt)
    return pd.Series(frame["requests"].to_numpy(dtype=np.int64),
                     index=pd.Index(frame["grid_code"].astype(str), name="grid_code"),
                     name="requests").sort_index()


def request_totals(
    bind: Engine | Connection, *, since: datetime | None, until: datetime,
    as_of: datetime | None = None, grid_code: str | None = None,
    grid_prefix: str | None = None, grid_codes: Sequence[str] | None = None,
    scope: Scope | None = None,
) -> dict[str, int]:
    """Count requests reported in [since, until) in one area, their state as of ``as_of``.

    Unlike :func:`request_counts_per_grid`, requests outside every grid are included when
    no area is given: they are still the city's and still wait for someone.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    since : datetime or None
        Naive UTC start (inclusive); None for no lower bound (the whole backlog).
    until : datetime
        Naive UTC end (exclusive).
    as_of : datetime, optional
        The moment each request's state is judged at; default ``until``.
    grid_code : str, optional
        Only this grid.
    grid_prefix : str, optional
        Only grids whose code starts with this admin-code prefix.
    grid_codes : sequence of str, optional
        Only these grids (an admin unit whose grids do not share its code as a prefix).
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.

    Returns
    -------
    dict
        One int per name in :data:`REQUEST_COUNT_COLUMNS`.

    """
    stmt = _in_area(_reported_between(select(*_request_count_columns(as_of or until)),
                                      since, until),
                    grid_code=grid_code, grid_prefix=grid_prefix, grid_codes=grid_codes,
                    scope=scope)
    with _conn(bind) as conn:
        row = conn.execute(stmt).one()
    return {name: int(row._mapping[name] or 0) for name in REQUEST_COUNT_COLUMNS}


def backlog_totals(
    bind: Engine | Connection, *, as_of: datetime, grid_code: str | None = None,
    grid_prefix: str | None = None, grid_codes: Sequence[str] | None = None,
    scope: Scope | None = None,
) -> dict[str, int]:
    """Count the open backlog at ``as_of``: open, overdue and open disputes.

    The same figures as :func:`request_totals` with ``since=None``, but only the rows that
    can still be open are read (no resolution, or one at or after ``as_of``), through the
    ``resolved_at`` index; at 10 M requests that is the difference between a full scan and
    a few thousand rows.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    as_of : datetime
        Naive UTC moment.
    grid_code, grid_prefix, grid_codes : optional
        The area, as in :func:`request_totals`.
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.

    Returns
    -------
    dict
        ``open``, ``overdue`` and ``disputes_open``.

    """
    r = request.c
    cond = _request_conditions(as_of)
    names = ("open", "overdue", "disputes_open")
    # reported_at is tested inside the counts, not in WHERE: there SQLite would pick the
    # reported_at index (nearly every row) over the two resolved_at look-ups.
    stmt = select(*[func.count(case((and_(r.reported_at < as_of, cond[n]), 1))).label(n)
                    for n in names]).where(or_(r.resolved_at.is_(None),
                                               r.resolved_at >= as_of))
    stmt = _in_area(stmt, grid_code=grid_code, grid_prefix=grid_prefix, grid_codes=grid_codes,
                    scope=scope)
    with _conn(bind) as conn:
        row = conn.execute(stmt).one()
    return {name: int(row._mapping[name] or 0) for name in names}


def _local_period(dialect: str, freq: str):
    """Return SQL for the Asia/Shanghai day (or the week's Monday) of ``reported_at``."""
    r = request.c
    hours = int(LOCAL_UTC_OFFSET.total_seconds() // 3600)
    if dialect == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff', which date()
        # parses. 'weekday 0' moves forward to Sunday (or stays), '-6 days' back to Monday.
        # Literal SQL, not bound parameters: the expression must read the same everywhere.
        shift = [literal_column(f"'+{hours} hours'")]
        if freq == "W":
            shift += [literal_column("'weekday 0'"), literal_column("'-6 days'")]
        return func.date(r.reported_at, *shift)
    local = r.reported_at + literal_column(f"INTERVAL '{hours} hours'")
    if freq == "W":
        return cast(func.date_trunc(literal_column("'week'"), local), Date)  # ISO: Monday
    return cast(local, Date)


def request_counts_per_local_period(
    bind: Engine | Connection, *, since: datetime, until: datetime, freq: str = "D",
    grid_code: str | None = None, grid_prefix: str | None = None,
    grid_codes: Sequence[str] | None = None,
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Count requests and disputes per Asia/Shanghai day or week, reported in [since, until).

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    since, until : datetime
        Naive UTC bounds on ``reported_at``.
    freq : {"D", "W"}
        Calendar day, or ISO week (starting Monday), both in Asia/Shanghai time.
    grid_code, grid_prefix : str, optional
        Only one grid, or only grids whose code starts with an admin-code prefix.
    grid_codes : sequence of str, optional
        Only these grids.
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.

    Returns
    -------
    pandas.DataFrame
        ``period`` (datetime64, the local day or the week's Monday at midnight), ``requests``
        and ``disputes``; only periods with at least one request, in order.

    """
    if freq not in ("D", "W"):
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}")
    with _conn(bind) as conn:
        period = _local_period(conn.dialect.name, freq).label("period")
        # A subquery, so that GROUP BY names a column rather than repeating the expression.
        inner = _in_area(
            _reported_between(select(period, request.c.category), since, until),
            grid_code=grid_code, grid_prefix=grid_prefix, grid_codes=grid_codes,
            scope=scope).subquery()
        stmt = (select(inner.c.period, func.count().label("requests"),
                       func.count(case((inner.c.category == "dispute", 1))).label("disputes"))
                .group_by(inner.c.period).order_by(inner.c.period))
        frame = read_frame(conn, stmt)
    frame["period"] = pd.to_datetime(frame["period"].astype(str) if len(frame) else
                                     frame["period"])
    return _int_frame(frame, ["requests", "disputes"])


def volunteer_hours_per_grid(
    bind: Engine | Connection, *, since: date, until: date, scope: Scope | None = None,
) -> pd.DataFrame:
    """Sum volunteer activities per grid with ``date`` in [since, until).

    Returns
    -------
    pandas.DataFrame
        ``grid_code``, ``activities``, ``volunteer_hours`` (Σ volunteers × hours, i.e.
        person-hours) and ``points``; grids with no activity have no row.

    """
    va = volunteer_activity.c
    stmt = (select(va.grid_code, func.count().label("activities"),
                   func.sum(va.volunteers * va.hours).label("volunteer_hours"),
                   func.sum(va.points).label("points"))
            .where(va.date >= since, va.date < until)
            .group_by(va.grid_code).order_by(va.grid_code))
    frame = read_frame(bind, scoped(stmt, va.grid_code, scope))
    return frame.astype({"activities": "int64", "volunteer_hours": "float64",
                         "points": "float64"})


def read_grid_attributes(
    bind: Engine | Connection,
    *, columns: Sequence[str] = ("code", "name", "community_code", "population",
                                 "wechat_groups", "wechat_members"),
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Return grid attributes without geometry (cheap: no WKB to decode), ordered by code."""
    stmt = select(*[grid.c[c] for c in columns]).order_by(grid.c.code)
    return read_frame(bind, scoped(stmt, grid.c.code, scope))


def read_admin_unit_attributes(bind: Engine | Connection) -> pd.DataFrame:
    """Return admin units (code, name, level, parent_code, population) without geometry."""
    cols = [admin_unit.c[c] for c in ("code", "name", "level", "parent_code", "population")]
    return read_frame(bind, select(*cols).order_by(admin_unit.c.code))


# --------------------------------------------------------------------------- live views


def data_stamp(bind: Engine | Connection) -> str:
    """Return a short token that changes whenever the data the pages show changes.

    It covers grids, requests, events, volunteer activities and stations. Cheap (five
    indexed aggregates): pages key their caches on it so that a new request or
    an import shows at the next rerun without recomputing when nothing changed.
    """
    with _conn(bind) as conn:
        parts = [
            conn.execute(select(func.count()).select_from(grid)).scalar_one(),
            conn.execute(select(func.max(request.c.id))).scalar_one(),
            conn.execute(select(func.max(request_event.c.id))).scalar_one(),
            conn.execute(select(func.max(volunteer_activity.c.id))).scalar_one(),
            conn.execute(select(func.max(station.c.id))).scalar_one(),
        ]
    return ":".join("0" if p is None else str(p) for p in parts)


def latest_requests(
    bind: Engine | Connection, *, until: datetime, limit: int = 10,
    severities: Iterable[str] | None = None, open_only: bool = False,
    grid_code: str | None = None, grid_prefix: str | None = None,
    grid_codes: Sequence[str] | None = None,
    scope: Scope | None = None, contacts: bool = False,
) -> pd.DataFrame:
    """Return the newest requests reported before ``until``, newest first.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    until : datetime
        Naive UTC; requests reported at or after it are left out.
    limit : int
        At most this many rows.
    severities : iterable of str, optional
        Only these severity codes (the wall's ticker asks for ``["urgent"]``).
    open_only : bool
        Only requests not resolved by ``until``.
    grid_code, grid_prefix, grid_codes : optional
        The area filter of :func:`geo.heat.area_filter`.
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.
    contacts : bool
        Also return ``reporter_name`` and ``reporter_phone`` (personal: the caller masks
        them with :func:`geo.access.mask_frame`). Without it, no personal data.

    """
    r = request.c
    cols = [r.id, r.external_id, r.grid_code, r.reported_at, r.due_at, r.resolved_at,
            r.category, r.severity, r.route, r.status, r.source, r.description]
    if contacts:
        cols += [r.reporter_name, r.reporter_phone]
    stmt = select(*cols).where(r.reported_at < until)
    if severities is not None:
        stmt = stmt.where(r.severity.in_(list(severities)))
    if open_only:
        stmt = stmt.where(_request_conditions(until)["open"])
    stmt = _in_area(stmt, grid_code=grid_code, grid_prefix=grid_prefix, grid_codes=grid_codes,
                    scope=scope)
    return read_frame(bind, stmt.order_by(r.reported_at.desc(), r.id.desc()).limit(limit))


# --------------------------------------------------------------------------- one grid (detail)

#: Request columns a breakdown may group by (:func:`request_counts_by`).
BREAKDOWN_COLUMNS = ("category", "severity", "route", "source", "status", "satisfaction")


def request_counts_by(
    bind: Engine | Connection, *, column: str, since: datetime | None, until: datetime,
    grid_code: str | None = None, grid_prefix: str | None = None,
    grid_codes: Sequence[str] | None = None,
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Count requests reported in [since, until) per value of one column, in one area.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    column : str
        One of :data:`BREAKDOWN_COLUMNS`.
    since : datetime or None
        Naive UTC start (inclusive); None for no lower bound.
    until : datetime
        Naive UTC end (exclusive).
    grid_code, grid_prefix, grid_codes : optional
        The area filter of :func:`geo.heat.area_filter`.
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.

    Returns
    -------
    pandas.DataFrame
        ``value`` (the column's code; None where unset) and ``requests`` (int64), one row
        per value seen, most requests first.

    """
    if column not in BREAKDOWN_COLUMNS:
        raise ValueError(f"column must be one of {BREAKDOWN_COLUMNS}, not {column!r}")
    col = request.c[column]
    stmt = select(col.label("value"), func.count().label("requests")).group_by(col)
    stmt = _in_area(_reported_between(stmt, since, until), grid_code=grid_code,
                    grid_prefix=grid_prefix, grid_codes=grid_codes, scope=scope)
    frame = read_frame(bind, stmt.order_by(func.count().desc(), col))
    return _int_frame(frame, ["requests"])


def grid_requests(
    bind: Engine | Connection, *, grid_code: str, since: datetime | None, until: datetime,
    include_open: bool = True, limit: int | None = None, scope: Scope | None = None,
    contacts: bool = False,
) -> pd.DataFrame:
    """Return one grid's requests, newest first: the points of its map.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    grid_code : str
        The grid.
    since : datetime or None
        Naive UTC; requests reported before it are left out, except still-open ones when
        ``include_open``.
    until : datetime
        Naive UTC; requests reported at or after it are left out. Open means not resolved
        by ``until``.
    include_open : bool
        Also return older requests still open at ``until`` (a grid head's whole backlog).
    limit : int, optional
        At most this many rows (the newest).
    scope : geo.access.Scope, optional
        Only rows of grids inside it (:func:`scope_condition`); None: no restriction.
    contacts : bool
        Also return ``grid_code``, ``reporter_name`` and ``reporter_phone`` (personal:
        the caller masks them with :func:`geo.access.mask_frame`).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``external_id``, ``lon``, ``lat``, ``reported_at``, ``due_at``,
        ``resolved_at``, ``category``, ``severity``, ``route``, ``status``, ``source``,
        ``satisfaction`` and ``description``.

    """
    r = request.c
    cols = [r.id, r.external_id, r.lon, r.lat, r.reported_at, r.due_at, r.resolved_at,
            r.category, r.severity, r.route, r.status, r.source, r.satisfaction,
            r.description]
    if contacts:
        cols += [r.grid_code, r.reporter_name, r.reporter_phone]
    stmt = select(*cols).where(r.grid_code == grid_code, r.reported_at < until)
    if since is not None:
        recent = r.reported_at >= since
        stmt = stmt.where(or_(recent, _request_conditions(until)["open"])
                          if include_open else recent)
    stmt = scoped(stmt, r.grid_code, scope).order_by(r.reported_at.desc(), r.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return read_frame(bind, stmt)


def read_volunteer_activities(
    bind: Engine | Connection, *, grid_code: str, since: date | None = None,
    until: date | None = None, limit: int | None = None, scope: Scope | None = None,
) -> pd.DataFrame:
    """Return one grid's volunteer activities with ``date`` in [since, until), newest first.

    Returns
    -------
    pandas.DataFrame
        ``date``, ``title``, ``volunteers``, ``hours`` and ``points``.

    """
    va = volunteer_activity.c
    stmt = select(va.date, va.title, va.volunteers, va.hours, va.points).where(
        va.grid_code == grid_code)
    if since is not None:
        stmt = stmt.where(va.date >= since)
    if until is not None:
        stmt = stmt.where(va.date < until)
    stmt = scoped(stmt, va.grid_code, scope).order_by(va.date.desc(), va.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    frame = read_frame(bind, stmt)
    return frame.astype({"volunteers": "int64", "hours": "float64", "points": "float64"})


# --------------------------------------------------------------------------- live simulator

#: Statuses the simulator moves on, in flow order (``rated`` needs a ``resolved`` request).
FLOW_OPEN_STATUSES = ("reported", "accepted", "dispatched", "in_progress")


def flow_candidates(bind: Engine | Connection, *, resolved_since: datetime) -> pd.DataFrame:
    """Return the requests the simulator may move on: open ones and recent unrated ones.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    resolved_since : datetime
        Naive UTC; resolved requests older than this are no longer rated (residents rate
        within about two days), so they are left out.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``status``, ``category``, ``severity``, ``reported_at``, ``resolved_at``.

    """
    r = request.c
    stmt = (select(r.id, r.status, r.category, r.severity, r.reported_at, r.resolved_at)
            .where(or_(r.status.in_(FLOW_OPEN_STATUSES),
                       and_(r.status == "resolved", r.satisfaction.is_(None),
                            r.resolved_at >= resolved_since)))
            .order_by(r.id))
    return read_frame(bind, stmt)


def apply_transitions(conn: Connection, transitions: Sequence[dict[str, Any]]) -> int:
    """Move requests one step along their flow and log each step, inside ``conn``'s transaction.

    Each update is guarded by the expected current status, so a request moved meanwhile by
    someone else is skipped rather than moved twice; only applied steps get an event row.

    Parameters
    ----------
    conn : Connection
        A connection inside a transaction (see :func:`transaction`).
    transitions : sequence of dict
        ``id``, ``from_status``, ``to_status``, ``at`` (naive UTC), ``actor`` and, where they
        change, ``resolved_at``, ``closed_at``, ``satisfaction``.

    Returns
    -------
    int
        The number of transitions applied.

    """
    events = []
    for t in transitions:
        values: dict[str, Any] = {"status": t["to_status"]}
        if "updated_at" in request.c:  # Open311's updated_datetime, where the column exists
            values["updated_at"] = t["at"]
        for col in ("resolved_at", "closed_at", "satisfaction"):
            if col in t:
                values[col] = t[col]
        done = conn.execute(request.update()
                            .where(request.c.id == t["id"],
                                   request.c.status == t["from_status"])
                            .values(**values))
        if done.rowcount == 1:
            events.append({"request_id": t["id"], "at": t["at"],
                           "from_status": t["from_status"], "to_status": t["to_status"],
                           "actor": t.get("actor"), "note": t.get("note")})
    if events:
        conn.execute(request_event.insert(), events)
    return len(events)


def request_events_for(bind: Engine | Connection, ids: Iterable[int]) -> pd.DataFrame:
    """Return the request_event rows of the given requests, in id order."""
    e = request_event.c
    stmt = (select(e.request_id, e.at, e.from_status, e.to_status, e.actor)
            .where(e.request_id.in_([int(i) for i in ids])).order_by(e.id))
    return read_frame(bind, stmt)
