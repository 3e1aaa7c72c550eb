"""Requests and the layers they sit on: writes, the bulk load, reads, Open311 look-ups.

Grids, admin units, stations and volunteer activities are written and read here too: they
are what a request is counted against.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from geo import clock, vocab
from geo.access import Scope
from geo.store._sql import (
    Bind,
    chunks,
    connect,
    geoframe,
    insert_ignoring,
    inserted_id,
    raw_connection,
    read_frame,
    records,
    upsert,
)
from geo.store.access import scoped
from geo.store.schema import (
    ACTIVITY_COLUMNS,
    GRID_COLUMNS,
    GRID_PERSONAL,
    PUBLIC_REQUEST_COLUMNS,
    REQUEST_COLUMNS,
    REQUEST_PERSONAL,
    SRID,
    STATION_COLUMNS,
    admin_unit,
    grid,
    metadata,
    request,
    request_event,
    station,
    volunteer_activity,
)

# --------------------------------------------------------------------------- writes


def write_admin_units(conn: Connection, units: pd.DataFrame) -> int:
    """Insert or replace admin units (code, name, level, parent_code, population, geom)."""
    return upsert(conn, admin_unit, records(units, [c.name for c in admin_unit.columns]),
                  key="code")


def write_grids(conn: Connection, grids: gpd.GeoDataFrame) -> int:
    """Insert or replace grids by code. ``grids`` has a geometry column in EPSG:4326."""
    frame = pd.DataFrame(grids.drop(columns=grids.geometry.name))
    # The column is MULTIPOLYGON: PostGIS refuses a plain Polygon where SQLite would not.
    frame["geom"] = pd.Series(
        [shapely.MultiPolygon([g]) if g is not None and g.geom_type == "Polygon" else g
         for g in grids.geometry.values], index=frame.index, dtype=object)
    return upsert(conn, grid, records(frame, GRID_COLUMNS), key="code")


def insert_requests(conn: Connection, requests: pd.DataFrame) -> int:
    """Insert requests, skipping those whose external_id is already stored.

    Returns the number of rows actually inserted.
    """
    return insert_ignoring(conn, request, records(requests, REQUEST_COLUMNS), key="external_id")


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
    marks = ", ".join("?" for _ in cols)
    sql = (f"INSERT INTO request ({col_list}) VALUES ({marks}) "
           "ON CONFLICT(external_id) DO NOTHING")
    cur = raw_connection(conn).cursor()
    total = 0
    rows = _sqlite_rows(frame, cols)
    # 256 MB page cache while inserting: five indexes of a multi-million-row table are
    # updated; back to the default afterwards, which reads faster (_sqlite_pragmas).
    cur.execute("PRAGMA cache_size=-262144")
    try:
        for chunk in chunks(rows, 50000):
            cur.executemany(sql, chunk)
            total += max(cur.rowcount, 0)
    finally:
        cur.execute("PRAGMA cache_size=-2000")
        cur.close()
    return total


def _sqlite_rows(frame: pd.DataFrame, cols: list[str]) -> list[tuple[Any, ...]]:
    """Return the rows of ``frame[cols]`` as tuples for sqlite3, converted column by column."""
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
    return list(zip(*values, strict=True))


def _copy_requests(conn: Connection, frame: pd.DataFrame, cols: list[str], col_list: str) -> int:
    raw = raw_connection(conn)
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
    return upsert(conn, station, records(stations, STATION_COLUMNS), key="code")


def insert_activities(conn: Connection, activities: pd.DataFrame) -> int:
    """Insert volunteer activities, skipping external ids already stored."""
    return insert_ignoring(
        conn, volunteer_activity, records(activities, ACTIVITY_COLUMNS), key="external_id"
    )


#: From this many events on, SQLite takes the bulk path of :func:`insert_events`.
BULK_EVENTS = 1000


def _naive_times(events: pd.DataFrame) -> bool:
    """Return True when the event times are naive datetime64 (what the bulk path writes)."""
    times = [events[c] for c in ("at", "recorded_at") if c in events.columns]
    return bool(times) and all(pd.api.types.is_datetime64_dtype(t) and
                               not isinstance(t.dtype, pd.DatetimeTZDtype) for t in times)


def insert_events(conn: Connection, events: pd.DataFrame) -> int:
    """Append request events: request_id, at, from_status, to_status, actor, note.

    ``kind`` and ``recorded_at`` are written too where the frame has them; ``recorded_at``
    is ``at`` otherwise: the demo and imports write history whose time of recording is,
    for the updates feed, the time it happened.
    """
    cols = ["request_id", "at", "from_status", "to_status", "actor", "note"]
    cols += [c for c in ("kind", "recorded_at") if c in events.columns]
    if conn.dialect.name == "sqlite" and len(events) >= BULK_EVENTS and _naive_times(events):
        # The demo writes about half a million events: plain tuples converted by column
        # and one DBAPI executemany take a fifth of the time of dict rows through Core.
        frame = events[[c for c in cols if c in events.columns]]
        if "recorded_at" in cols:
            frame = frame.assign(recorded_at=frame["recorded_at"].fillna(frame["at"]))
        else:
            frame = frame.assign(recorded_at=frame["at"])
        out = frame.columns.tolist()
        sql = (f"INSERT INTO request_event ({', '.join(out)}) "
               f"VALUES ({', '.join('?' for _ in out)})")
        cur = raw_connection(conn).cursor()
        try:
            for batch in chunks(_sqlite_rows(frame, out), 50000):
                cur.executemany(sql, batch)
        finally:
            cur.close()
        return len(frame)
    rows = records(events, cols)
    for row in rows:
        if row.get("recorded_at") is None:
            row["recorded_at"] = row["at"]
    for chunk in chunks(rows, 20000):
        conn.execute(request_event.insert(), chunk)
    return len(rows)


# --------------------------------------------------------------------------- reads


def read_grids(
    bind: Bind, *, codes: Iterable[str] | None = None,
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
    return geoframe(read_frame(bind, scoped(stmt, grid.c.code, scope)))


def read_admin_units(bind: Bind, *, level: str | None = None) -> gpd.GeoDataFrame:
    """Return admin units (optionally one level) as a GeoDataFrame in EPSG:4326."""
    stmt = select(admin_unit).order_by(admin_unit.c.code)
    if level is not None:
        stmt = stmt.where(admin_unit.c.level == level)
    return geoframe(read_frame(bind, stmt))


def read_requests(
    bind: Bind, *, since=None, until=None, categories: Iterable[str] | None = None,
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


def read_stations(bind: Bind) -> gpd.GeoDataFrame:
    """Return police stations as points in EPSG:4326."""
    frame = read_frame(bind, select(station).order_by(station.c.id))
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=SRID
    )


def read_grid_attributes(
    bind: Bind,
    *, columns: Sequence[str] = ("code", "name", "community_code", "population",
                                 "wechat_groups", "wechat_members"),
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Return grid attributes without geometry (cheap: no WKB to decode), ordered by code."""
    stmt = select(*[grid.c[c] for c in columns]).order_by(grid.c.code)
    return read_frame(bind, scoped(stmt, grid.c.code, scope))


def read_admin_unit_attributes(bind: Bind) -> pd.DataFrame:
    """Return admin units (code, name, level, parent_code, population) without geometry."""
    cols = [admin_unit.c[c] for c in ("code", "name", "level", "parent_code", "population")]
    return read_frame(bind, select(*cols).order_by(admin_unit.c.code))


# --------------------------------------------------------------------------- import support


def existing_keys(bind: Bind, table_name: str, column: str,
                  values: Iterable[Any]) -> set[Any]:
    """Return which of ``values`` are already stored in ``table_name.column``.

    Used by the importer to tell new rows from re-imported ones (and in dry runs, where
    nothing is written). Queries in chunks so that the bind-parameter limit of SQLite is
    never reached.
    """
    col = metadata.tables[table_name].c[column]
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    found: set[Any] = set()
    with connect(bind) as conn:
        for chunk in chunks(wanted, 900):
            found.update(conn.execute(select(col).where(col.in_(chunk))).scalars())
    return found


# --------------------------------------------------------------------------- Open311 intake


_PUBLIC_SELECT = select(*[request.c[n] for n in PUBLIC_REQUEST_COLUMNS])
# Built once: every Open311 POST looks its idempotency key up.
_FIND_BY_ID = _PUBLIC_SELECT.where(request.c.id == bindparam("value"))
_FIND_BY_EXTERNAL_ID = _PUBLIC_SELECT.where(request.c.external_id == bindparam("value"))


_FIND_BY_CLIENT = select(*[request.c[n] for n in (*PUBLIC_REQUEST_COLUMNS,
                                                    *REQUEST_PERSONAL)]).where(
    request.c.client_key == bindparam("client"), request.c.client_ref == bindparam("value"))


def find_request(bind: Bind, *, id: int | None = None,
                 external_id: str | None = None) -> dict[str, Any] | None:
    """Return one request's public columns by id or external id, or None when unknown."""
    value: int | str
    if id is not None:
        stmt, value = _FIND_BY_ID, id
    elif external_id is not None:
        stmt, value = _FIND_BY_EXTERNAL_ID, external_id
    else:
        raise ValueError("give id or external_id")
    with connect(bind) as conn:
        row = conn.execute(stmt, {"value": value}).mappings().first()
    return dict(row) if row is not None else None


def find_client_request(bind: Bind, *, client_key: str,
                        client_ref: str) -> dict[str, Any] | None:
    """Return the request a client stored under its own id, every column, or None.

    The personal columns too: a resend is compared with what was first sent
    (:func:`geo.intake.submit`), and nothing of them is returned to the client.
    """
    with connect(bind) as conn:
        row = conn.execute(_FIND_BY_CLIENT, {"client": client_key,
                                             "value": client_ref}).mappings().first()
    return dict(row) if row is not None else None


def reporter_contacts(bind: Bind, ids: Iterable[int]) -> pd.DataFrame:
    """Return the reporters' name, phone and e-mail of these requests (to mask them in text).

    With each request's ``category``, which decides what a public reader sees of it.
    """
    r = request.c
    frames = [read_frame(bind, select(r.id, r.reporter_name, r.reporter_phone, r.reporter_email,
                                      r.category)
                         .where(r.id.in_(chunk)))
              for chunk in chunks([int(i) for i in ids], 5000)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["id", "reporter_name", "reporter_phone", "reporter_email", "category"])


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
    new_id = inserted_id(conn.execute(request.insert(), row))
    conn.execute(request_event.insert(), {
        "request_id": new_id, "at": row["reported_at"], "from_status": None,
        "to_status": row["status"], "actor": actor, "note": note,
        "recorded_at": clock.now()})
    return new_id


def search_requests(
    bind: Bind, *, ids: Sequence[int] | None = None,
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
    with connect(bind) as conn:
        return [dict(m) for m in conn.execute(stmt).mappings()]


def grid_count(bind: Bind) -> int:
    """Return the number of stored grids (intake's cache key for its grid index)."""
    with connect(bind) as conn:
        return int(conn.execute(select(func.count()).select_from(grid)).scalar_one())
