"""The engine: one database URL, SQLite pragmas, Alembic migrations, transactions, settings.

The backend is chosen by one URL, ``GRIDMAP_DATABASE_URL``. The embedded default is a SQLite
file in ``data/`` in WAL mode; production is PostgreSQL with PostGIS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Connection, Engine

from geo.store._sql import Bind, connect, upsert

# Public here: callers outside the store read ad-hoc selects through engine.read_frame.
from geo.store._sql import read_frame as read_frame
from geo.store.schema import grid, metadata, setting

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE = PROJECT_DIR / "data" / "gridmap.db"
#: The Alembic scripts (package data of ``geo``).
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


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


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
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
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
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
        revision: str | None = MigrationContext.configure(conn).get_current_revision()
    return revision


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside one transaction: everything commits, or nothing does."""
    with engine.begin() as conn:
        yield conn


# --------------------------------------------------------------------------- whole database


def table_counts(bind: Bind) -> dict[str, int]:
    """Return the row count of every table, for status lines and tests."""
    with connect(bind) as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def is_empty(bind: Bind) -> bool:
    """Return True when no grid has been loaded yet (a fresh database)."""
    with connect(bind) as conn:
        return conn.execute(select(func.count()).select_from(grid)).scalar_one() == 0


def clear_all(conn: Connection) -> None:
    """Delete every row of every table (used before rebuilding the demo)."""
    for t in reversed(metadata.sorted_tables):
        conn.execute(t.delete())


def set_setting(conn: Connection, key: str, value: str) -> None:
    """Store one key/value setting (demo flag, seed, planted clusters…)."""
    upsert(conn, setting, [{"key": key, "value": value}], key="key")


def get_setting(engine: Bind, key: str, default: str | None = None) -> str | None:
    """Return a stored setting, or ``default``."""
    with connect(engine) as conn:
        value = conn.execute(select(setting.c.value).where(setting.c.key == key)).scalar()
    return default if value is None else str(value)
