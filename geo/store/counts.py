"""The analytics SQL behind heat, detail and bulletin: conditional counts in one pass.

Every count is a conditional COUNT in one GROUP BY pass over an indexed reported_at range;
no raw request rows leave the database. A request's state is judged "as of" a moment ``t``
(the end of the window), from its timestamps, so a past window reads the same today as it
did then:

* resolved by t: resolved_at < t, or no resolved_at but a closed status (imports may carry
  "办结" without a time; such a request counts as resolved, never as on time);
* due by t: due_at < t, or resolved by t (an early resolution is owed and delivered);
* on time: resolved by t and resolved_at <= due_at (or no deadline at all);
* overdue at t: due_at < t and not resolved by t;
* rated by t: a satisfaction code and no closed_at at or after t.

Supervision (督办) and returns (回退) are counted by when they happened, not by when the
request was reported: a request is supervised in [since, until) when a commander first
urged it then (``supervised_at``), and a return is a ``request_event`` of kind "return" in
the window. A supervised request's state is judged as above.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Date,
    Label,
    Select,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)

from geo import vocab
from geo.access import Scope
from geo.clock import LOCAL_UTC_OFFSET
from geo.store._sql import AnySelect, Bind, connect, int_frame, read_frame
from geo.store.access import scoped
from geo.store.area import EVERYWHERE, AreaFilter, in_area
from geo.store.schema import request, request_event, volunteer_activity

#: The count columns returned by :func:`request_counts_per_grid` and :func:`request_totals`.
REQUEST_COUNT_COLUMNS = (
    "requests", "open", "overdue", "due", "resolved", "on_time", "rated", "satisfied",
    "disputes", "disputes_open", "disputes_due", "disputes_resolved",
)


def request_conditions(until: datetime) -> dict[str, ColumnElement[bool]]:
    """Name → SQL condition for each count but ``requests``, state judged as of ``until``.

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


def _request_count_columns(until: datetime) -> list[Label[int]]:
    """Labelled conditional counts of requests, their state judged as of ``until``."""
    conditions = request_conditions(until)
    return [func.count().label(name) if name == "requests"
            else func.count(case((conditions[name], 1))).label(name)
            for name in REQUEST_COUNT_COLUMNS]


def _reported_between(stmt: AnySelect, since: datetime | None,
                      until: datetime) -> AnySelect:
    stmt = stmt.where(request.c.reported_at < until)
    return stmt if since is None else stmt.where(request.c.reported_at >= since)


def request_counts_per_grid(
    bind: Bind, *, since: datetime | None, until: datetime,
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
        Only rows of grids inside it (:func:`~geo.store.access.scope_condition`); None: all.

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
    return int_frame(read_frame(bind, stmt), REQUEST_COUNT_COLUMNS)


def requests_per_grid(
    bind: Bind, *, since: datetime | None, until: datetime,
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
        Only rows of grids inside it (:func:`~geo.store.access.scope_condition`); None: all.

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
    bind: Bind, *, since: datetime | None, until: datetime,
    as_of: datetime | None = None, area: AreaFilter = EVERYWHERE,
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
    area : AreaFilter
        The grids counted and the caller's scope; default everything.

    Returns
    -------
    dict
        One int per name in :data:`REQUEST_COUNT_COLUMNS`.

    """
    stmt = in_area(_reported_between(select(*_request_count_columns(as_of or until)),
                                     since, until), request.c.grid_code, area)
    with connect(bind) as conn:
        row = conn.execute(stmt).one()
    return {name: int(row._mapping[name] or 0) for name in REQUEST_COUNT_COLUMNS}


def backlog_totals(
    bind: Bind, *, as_of: datetime, area: AreaFilter = EVERYWHERE,
    overdue_since: datetime | None = None,
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
    area : AreaFilter
        The grids counted and the caller's scope; default everything.
    overdue_since : datetime, optional
        Also count ``newly_overdue``: the overdue requests whose deadline passed at or
        after this moment (naive UTC), the wall's "newly overdue in 24 h".

    Returns
    -------
    dict
        ``open``, ``overdue`` and ``disputes_open`` (and ``newly_overdue``).

    """
    r = request.c
    cond = dict(request_conditions(as_of))
    names: tuple[str, ...] = ("open", "overdue", "disputes_open")
    if overdue_since is not None:
        cond["newly_overdue"] = and_(cond["overdue"], r.due_at >= overdue_since)
        names += ("newly_overdue",)
    # reported_at is tested inside the counts, not in WHERE: there SQLite would pick the
    # reported_at index (nearly every row) over the two resolved_at look-ups.
    stmt = select(*[func.count(case((and_(r.reported_at < as_of, cond[n]), 1))).label(n)
                    for n in names]).where(or_(r.resolved_at.is_(None),
                                               r.resolved_at >= as_of))
    stmt = in_area(stmt, request.c.grid_code, area)
    with connect(bind) as conn:
        row = conn.execute(stmt).one()
    return {name: int(row._mapping[name] or 0) for name in names}


#: The columns of :func:`backlog_per_grid`.
BACKLOG_COLUMNS = ("open", "overdue", "disputes_open")


def backlog_per_grid(bind: Bind, *, as_of: datetime,
                     scope: Scope | None = None) -> pd.DataFrame:
    """Count the open backlog per grid at ``as_of``: open, overdue and open disputes.

    :func:`backlog_totals` per grid (the wall's backlog, overdue and dispute layers): every
    request reported before ``as_of``, however long ago, that is not resolved by then;
    overdue when its stored deadline (``due_at``, :mod:`geo.deadlines`) has passed. Only
    the rows that can still be open are read, through the ``resolved_at`` index.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    as_of : datetime
        Naive UTC moment (a wall refresh's cut-off).
    scope : geo.access.Scope, optional
        Only rows of grids inside it; None: every grid.

    Returns
    -------
    pandas.DataFrame
        ``grid_code`` and the :data:`BACKLOG_COLUMNS` (int64), one row per grid with at
        least one open request, ordered by code. Requests outside every grid are left out.

    """
    r = request.c
    cond = request_conditions(as_of)
    stmt = (select(r.grid_code,
                   *[func.count(case((and_(r.reported_at < as_of, cond[n]), 1))).label(n)
                     for n in BACKLOG_COLUMNS])
            .where(or_(r.resolved_at.is_(None), r.resolved_at >= as_of),
                   r.grid_code.is_not(None))
            .group_by(r.grid_code).order_by(r.grid_code))
    stmt = scoped(stmt, r.grid_code, scope)
    frame = int_frame(read_frame(bind, stmt), BACKLOG_COLUMNS)
    return frame[(frame[list(BACKLOG_COLUMNS)] > 0).any(axis=1)].reset_index(drop=True)


def _local_period(dialect: str, freq: str) -> ColumnElement[Any]:
    """Return SQL for the Asia/Shanghai day (or the week's Monday) of ``reported_at``."""
    r = request.c
    hours = int(LOCAL_UTC_OFFSET.total_seconds() // 3600)
    if dialect == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff', which date()
        # parses. 'weekday 0' moves forward to Sunday (or stays), '-6 days' back to Monday.
        # Literal SQL, not bound parameters: the expression must read the same everywhere.
        shift: list[ColumnElement[Any]] = [literal_column(f"'+{hours} hours'")]
        if freq == "W":
            shift += [literal_column("'weekday 0'"), literal_column("'-6 days'")]
        return func.date(r.reported_at, *shift)
    local = r.reported_at + literal_column(f"INTERVAL '{hours} hours'")
    if freq == "W":
        return cast(func.date_trunc(literal_column("'week'"), local), Date)  # ISO: Monday
    return cast(local, Date)


def request_counts_per_local_period(
    bind: Bind, *, since: datetime, until: datetime, freq: str = "D",
    area: AreaFilter = EVERYWHERE,
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
    area : AreaFilter
        The grids counted and the caller's scope; default everything.

    Returns
    -------
    pandas.DataFrame
        ``period`` (datetime64, the local day or the week's Monday at midnight), ``requests``
        and ``disputes``; only periods with at least one request, in order.

    """
    if freq not in ("D", "W"):
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}")
    with connect(bind) as conn:
        period = _local_period(conn.dialect.name, freq).label("period")
        # A subquery, so that GROUP BY names a column rather than repeating the expression.
        inner = in_area(_reported_between(select(period, request.c.category), since, until),
                        request.c.grid_code, area).subquery()
        stmt = (select(inner.c.period, func.count().label("requests"),
                       func.count(case((inner.c.category == "dispute", 1))).label("disputes"))
                .group_by(inner.c.period).order_by(inner.c.period))
        frame = read_frame(conn, stmt)
    frame["period"] = pd.to_datetime(frame["period"].astype(str) if len(frame) else
                                     frame["period"])
    return int_frame(frame, ["requests", "disputes"])


def volunteer_hours_per_grid(
    bind: Bind, *, since: date, until: date, scope: Scope | None = None,
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


#: Request columns a breakdown may group by (:func:`request_counts_by`).
BREAKDOWN_COLUMNS = ("category", "severity", "route", "source", "status", "satisfaction")


def request_counts_by(
    bind: Bind, *, column: str, since: datetime | None, until: datetime,
    area: AreaFilter = EVERYWHERE,
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
    area : AreaFilter
        The grids counted and the caller's scope (:func:`geo.heat.area_filter`); default
        everything.

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
    stmt = in_area(_reported_between(stmt, since, until), request.c.grid_code, area)
    frame = read_frame(bind, stmt.order_by(func.count().desc(), col))
    return int_frame(frame, ["requests"])


def escalations_per_grid(
    bind: Bind, *, since: datetime, until: datetime, scope: Scope | None = None,
) -> pd.DataFrame:
    """Count escalation events (督办) per grid and level whose crossing lies in [since, until).

    Returns
    -------
    pandas.DataFrame
        ``grid_code``, ``level`` (the level's name, :data:`geo.deadlines.LEVELS`) and
        ``escalations`` (int64); only grids and levels with at least one.

    """
    e, r = request_event.c, request.c
    stmt = (select(r.grid_code, e.note.label("level"), func.count().label("escalations"))
            .join_from(request_event, request, e.request_id == r.id)
            .where(e.kind == "escalation", e.at >= since, e.at < until,
                   r.grid_code.is_not(None))
            .group_by(r.grid_code, e.note).order_by(r.grid_code, e.note))
    return int_frame(read_frame(bind, scoped(stmt, r.grid_code, scope)), ["escalations"])


#: The count columns of :func:`supervised_counts_per_grid` and :func:`supervised_totals`.
SUPERVISED_COLUMNS = ("supervised", "supervised_open", "supervised_due",
                      "supervised_resolved", "supervised_on_time")


def _supervised_select(since: datetime | None, until: datetime,
                       as_of: datetime | None) -> Select[*tuple[Any, ...]]:
    """Conditional counts of the requests first urged in [since, until), judged at as_of."""
    r = request.c
    cond = request_conditions(as_of or until)
    named = {"supervised_open": cond["open"], "supervised_due": cond["due"],
             "supervised_resolved": cond["resolved"], "supervised_on_time": cond["on_time"]}
    stmt = select(func.count().label("supervised"),
                  *[func.count(case((c, 1))).label(n) for n, c in named.items()])
    # The partial index ix_request_supervised holds only urged requests (migration 0009).
    stmt = stmt.where(r.supervised_at.is_not(None), r.supervised_at < until)
    return stmt if since is None else stmt.where(r.supervised_at >= since)


def supervised_counts_per_grid(
    bind: Bind, *, since: datetime | None, until: datetime,
    as_of: datetime | None = None, area: AreaFilter = EVERYWHERE,
) -> pd.DataFrame:
    """Count the requests supervised (督办) in [since, until) per grid, judged at ``as_of``.

    Parameters
    ----------
    bind : Engine or Connection
        Where to read.
    since : datetime or None
        Naive UTC start (inclusive) on ``supervised_at``; None: every urge before ``until``.
    until : datetime
        Naive UTC end (exclusive).
    as_of : datetime, optional
        The moment each request's state is judged at; default ``until``.
    area : AreaFilter
        The grids counted and the caller's scope; default everything.

    Returns
    -------
    pandas.DataFrame
        ``grid_code`` and the :data:`SUPERVISED_COLUMNS` (int64): requests first urged in
        the window, and of them those open, due, resolved and resolved on time at
        ``as_of``. Only grids with at least one; requests outside every grid left out.

    """
    r = request.c
    stmt = (_supervised_select(since, until, as_of).add_columns(r.grid_code)
            .where(r.grid_code.is_not(None)).group_by(r.grid_code).order_by(r.grid_code))
    frame = read_frame(bind, in_area(stmt, r.grid_code, area))
    return int_frame(frame[["grid_code", *SUPERVISED_COLUMNS]], SUPERVISED_COLUMNS)


def supervised_totals(
    bind: Bind, *, since: datetime | None, until: datetime,
    as_of: datetime | None = None, area: AreaFilter = EVERYWHERE,
) -> dict[str, int]:
    """Count the requests supervised (督办) in [since, until) in one area, judged at ``as_of``.

    The totals of :func:`supervised_counts_per_grid`, but requests outside every grid
    count when no area is given.

    Returns
    -------
    dict
        One int per name in :data:`SUPERVISED_COLUMNS`.

    """
    stmt = in_area(_supervised_select(since, until, as_of), request.c.grid_code, area)
    with connect(bind) as conn:
        row = conn.execute(stmt).one()
    return {name: int(row._mapping[name] or 0) for name in SUPERVISED_COLUMNS}


def _returns_select(since: datetime, until: datetime) -> Select[*tuple[Any, ...]]:
    e, r = request_event.c, request.c
    # A return is written when it happens (recorded_at == at), so recorded_at >= since
    # holds for every one counted and lets the recorded_at index skip older events.
    return (select(func.count().label("returns"))
            .join_from(request_event, request, e.request_id == r.id)
            .where(e.kind == "return", e.at >= since, e.at < until,
                   e.recorded_at >= since))


def returns_per_grid(
    bind: Bind, *, since: datetime, until: datetime, area: AreaFilter = EVERYWHERE,
) -> pd.DataFrame:
    """Count returns (回退: events of kind "return") per grid that happened in [since, until).

    Returns
    -------
    pandas.DataFrame
        ``grid_code`` and ``returns`` (int64); only grids with at least one.

    """
    r = request.c
    stmt = (_returns_select(since, until).add_columns(r.grid_code)
            .where(r.grid_code.is_not(None)).group_by(r.grid_code).order_by(r.grid_code))
    frame = read_frame(bind, in_area(stmt, r.grid_code, area))
    return int_frame(frame[["grid_code", "returns"]], ["returns"])


def return_total(
    bind: Bind, *, since: datetime, until: datetime, area: AreaFilter = EVERYWHERE,
) -> int:
    """Count returns (回退) that happened in [since, until) in one area."""
    stmt = in_area(_returns_select(since, until), request.c.grid_code, area)
    with connect(bind) as conn:
        return int(conn.execute(stmt).scalar_one() or 0)
