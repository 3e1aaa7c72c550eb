"""Live reads and writes: the data version, the wall's and one grid's rows, the simulator's flow.

These read rows rather than counts, always few of them (a limit, one grid, the open
backlog), and the live simulator moves requests along their flow here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from geo.access import Scope
from geo.store._sql import Bind, connect, read_frame
from geo.store.access import scoped
from geo.store.area import EVERYWHERE, AreaFilter, in_area
from geo.store.counts import request_conditions
from geo.store.engine import set_setting
from geo.store.schema import grid, request, request_event, setting, station, volunteer_activity

#: The setting a write moves on (:func:`mark_written`), for the changes no count or largest
#: id shows: a grid, unit or station rewritten in place by a re-import.
WRITTEN_SETTING = "data_written"


def data_stamp(bind: Bind) -> str:
    """Return a short token that changes whenever the data the pages show changes.

    It covers grids, requests, events, volunteer activities and stations, and rows an
    import rewrote in place (:func:`mark_written`). Cheap (five indexed aggregates and one
    key look-up): pages key their caches on it so that a new request or an import shows at
    the next rerun, on every server of the database, without recomputing when nothing
    changed.
    """
    with connect(bind) as conn:
        parts = [
            conn.execute(select(func.count()).select_from(grid)).scalar_one(),
            conn.execute(select(func.max(request.c.id))).scalar_one(),
            conn.execute(select(func.max(request_event.c.id))).scalar_one(),
            conn.execute(select(func.max(volunteer_activity.c.id))).scalar_one(),
            conn.execute(select(func.max(station.c.id))).scalar_one(),
            conn.execute(select(setting.c.value)
                         .where(setting.c.key == WRITTEN_SETTING)).scalar(),
        ]
    return ":".join("0" if p is None else str(p) for p in parts)


def mark_written(conn: Connection) -> None:
    """Move :func:`data_stamp` on, in the writing transaction (a renamed grid counts no row).

    Without it, a re-import that only updates grids, units or stations would leave every
    server's caches showing the old rows. Requests need none: their updates add events.
    """
    set_setting(conn, WRITTEN_SETTING, secrets.token_hex(8))


def latest_change(bind: Bind) -> datetime | None:
    """Return the newest moment the data speaks of: a report or the writing of an event.

    Two indexed maxima (``reported_at``, ``request_event.recorded_at``). The wall moves its
    cut-off up to it, so a request reported or updated a few seconds ago is in every figure
    of the next refresh (:func:`geo.wall.cutoff`).
    """
    with connect(bind) as conn:
        moments = [conn.execute(select(func.max(request.c.reported_at))).scalar_one(),
                   conn.execute(select(func.max(request_event.c.recorded_at))).scalar_one()]
    found = [pd.Timestamp(m).to_pydatetime() for m in moments if m is not None]
    return max(found) if found else None


def latest_requests(
    bind: Bind, *, until: datetime, limit: int = 10,
    severities: Iterable[str] | None = None, open_only: bool = False,
    area: AreaFilter = EVERYWHERE, contacts: bool = False,
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
    area : AreaFilter
        The grids read and the caller's scope (:func:`geo.heat.area_filter`); default
        everything.
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
        stmt = stmt.where(request_conditions(until)["open"])
    stmt = in_area(stmt, r.grid_code, area)
    return read_frame(bind, stmt.order_by(r.reported_at.desc(), r.id.desc()).limit(limit))


def newly_overdue_requests(
    bind: Bind, *, since: datetime, until: datetime, limit: int = 10,
    area: AreaFilter = EVERYWHERE, contacts: bool = False,
) -> pd.DataFrame:
    """Return the requests whose deadline passed in [since, until) and still open at ``until``.

    The most recently overdue first; the columns of :func:`latest_requests` (``contacts``
    as there). Only rows that can be open are read (no resolution, or one after ``until``:
    the ``resolved_at`` index).
    """
    r = request.c
    cols = [r.id, r.external_id, r.grid_code, r.reported_at, r.due_at, r.resolved_at,
            r.category, r.severity, r.route, r.status, r.source, r.description]
    if contacts:
        cols += [r.reporter_name, r.reporter_phone]
    stmt = (select(*cols)
            .where(or_(r.resolved_at.is_(None), r.resolved_at >= until),
                   request_conditions(until)["overdue"], r.reported_at < until,
                   r.due_at >= since))
    stmt = in_area(stmt, r.grid_code, area)
    return read_frame(bind, stmt.order_by(r.due_at.desc(), r.id.desc()).limit(limit))


def grid_requests(
    bind: Bind, *, grid_code: str, since: datetime | None, until: datetime,
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
        Only rows of grids inside it (:func:`~geo.store.access.scope_condition`); None: all.
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
        stmt = stmt.where(or_(recent, request_conditions(until)["open"])
                          if include_open else recent)
    stmt = scoped(stmt, r.grid_code, scope).order_by(r.reported_at.desc(), r.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return read_frame(bind, stmt)


def read_volunteer_activities(
    bind: Bind, *, grid_code: str, since: date | None = None,
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


def flow_candidates(bind: Bind, *, resolved_since: datetime) -> pd.DataFrame:
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


def request_events_for(bind: Bind, ids: Iterable[int]) -> pd.DataFrame:
    """Return the request_event rows of the given requests, in id order."""
    e = request_event.c
    stmt = (select(e.request_id, e.at, e.from_status, e.to_status, e.actor)
            .where(e.request_id.in_([int(i) for i in ids])).order_by(e.id))
    return read_frame(bind, stmt)
