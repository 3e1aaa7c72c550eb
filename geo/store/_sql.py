"""Small helpers shared by the store modules: connections, frames, rows, upserts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import CursorResult, Executable, Select, Table, func, select, text
from sqlalchemy.engine import Connection, Engine

from geo.store.schema import SRID

#: Where a read runs: an engine (its own connection) or a connection (the caller's).
Bind = Engine | Connection

_T = TypeVar("_T")
#: Any SELECT, whatever its columns (the filters below keep the caller's row type).
AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


def inserted_id(result: CursorResult[Any]) -> int:
    """Return the primary key of the one row an INSERT wrote."""
    key = result.inserted_primary_key
    assert key is not None, "not a single-row INSERT"
    return int(key[0])


def raw_connection(conn: Connection) -> Any:
    """Return the DBAPI connection under ``conn`` (sqlite3 or psycopg), for bulk paths."""
    raw = conn.connection.driver_connection
    assert raw is not None, "the connection is closed"
    return raw


@contextmanager
def connect(bind: Bind) -> Iterator[Connection]:
    """Yield ``bind`` itself when it is a connection, else a new connection of the engine."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def read_frame(bind: Bind, stmt: Executable | str) -> pd.DataFrame:
    """Run a select (or a SQL string) and return its rows as a DataFrame."""
    if isinstance(stmt, str):
        stmt = text(stmt)
    with connect(bind) as conn:
        result = conn.execute(stmt)
        keys = list(result.keys())
        # Plain tuples: pandas probes SQLAlchemy Row objects attribute by attribute, which is
        # about ten times slower on thousands of rows.
        return pd.DataFrame([tuple(row) for row in result], columns=keys)


def geoframe(frame: pd.DataFrame, geom_col: str = "geom") -> gpd.GeoDataFrame:
    """Turn a frame with a column of shapely geometries into a GeoDataFrame in EPSG:4326."""
    geoms = frame.pop(geom_col) if geom_col in frame else pd.Series([], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(list(geoms), crs=SRID,
                                                          index=frame.index))


def int_frame(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Give count columns an integer dtype even when the query returned no rows."""
    return frame.astype({c: "int64" for c in columns})


def clean(value: Any) -> Any:
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
        out.append({c: clean(v) for c, v in zip(cols, row, strict=True)})
    return out


def chunks(rows: list[_T], size: int) -> Iterable[list[_T]]:
    """Yield ``rows`` in slices of at most ``size`` (bind-parameter and memory limits)."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert_ignoring(conn: Connection, table: Table, rows: list[dict[str, Any]], *,
                    key: str) -> int:
    """Insert rows, skipping any whose ``key`` already exists. Returns rows inserted."""
    if not rows:
        return 0
    stmt = _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=[key])
    before = conn.execute(select(func.count()).select_from(table)).scalar_one()
    for chunk in chunks(rows, 5000):
        conn.execute(stmt, chunk)
    after = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return int(after - before)


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], *, key: str) -> int:
    """Insert rows, replacing the non-key columns of rows whose ``key`` exists."""
    if not rows:
        return 0
    stmt = _dialect_insert(conn, table)
    cols = [c for c in rows[0] if c != key]
    upserting = stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in cols}
    )
    for chunk in chunks(rows, 2000):
        conn.execute(upserting, chunk)
    return len(rows)


def _dialect_insert(conn: Connection, table: Table) -> Any:
    """Return the dialect's INSERT, which has ``on_conflict_…`` (both spell it alike)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
