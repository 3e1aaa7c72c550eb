"""Request heat and KPIs per grid and per admin unit over a time window.

Every number here starts as a count from one SQL ``GROUP BY`` (:mod:`geo.store.counts`);
this module rolls per-grid counts up the admin hierarchy (:mod:`geo.hierarchy`) and turns
counts into rates. Raw requests are never loaded.

Windows and "as of"
-------------------
A window is ``[since, until)`` in naive UTC, matched against ``reported_at``: the window's
requests are the ones *reported* in it (a cohort). Each one's state is judged **as of
until**, from its timestamps rather than its current status, so that a past window gives the
same figures today as on the day it closed, and the previous window (``[since - (until -
since), since)``, judged as of ``since``) is comparable. A window that ends in the future
(today, this week) is judged as of now instead: a deadline later today is not yet missed.

Counts (per unit, over the window's requests)
---------------------------------------------
requests
    Reported in the window.
open
    Not resolved by ``until``. "Resolved by t" means ``resolved_at < t``; a request with a
    closed status (:data:`geo.vocab.CLOSED_STATUSES`) but no ``resolved_at``, as some imports
    carry, counts as resolved.
overdue
    ``due_at < until`` and not resolved by ``until``.
due (应办结)
    ``due_at < until`` (the deadline has passed) **or** resolved by ``until`` (resolved
    early). Requests still inside their deadline and unresolved are not yet owed, so they do
    not drag the rates down; an early resolution is owed and delivered, so resolved ⊆ due
    and no rate exceeds 100%. A request with no ``due_at`` becomes due when resolved.
resolved (办结)
    Resolved by ``until``.
on_time
    Resolved by ``until`` and ``resolved_at <= due_at`` (a request with no deadline is on
    time; one resolved with no recorded time is not: it cannot be shown to be).
rated, satisfied
    Rated: a satisfaction code (:data:`geo.vocab.SATISFACTION`) with no ``closed_at`` at or
    after ``until``. Satisfied: rated with a code in :data:`geo.vocab.SATISFIED`.
disputes, disputes_open, disputes_due, disputes_resolved
    The same, for ``category == "dispute"``.

Rates and their empty case
--------------------------
========================== ================================ =====================================
rate                       definition                       when the denominator is 0
========================== ================================ =====================================
requests_per_1k            requests ÷ population × 1,000    NaN (no residents recorded), not inf
resolution_rate (办结率)    resolved ÷ due                   NaN: nothing was due
on_time_rate (按期办结率)   on_time ÷ due                    NaN: nothing was due
satisfaction_rate (满意率)  satisfied ÷ rated                NaN: "no rating", not 100% or 0%
dispute_resolution_rate    disputes_resolved ÷ disputes_due NaN: no dispute was due
========================== ================================ =====================================

Rates are fractions in [0, 1]. Change vs the previous window is ``x - x_prev`` (for a rate,
in fraction points) and ``(x - x_prev) / x_prev``, which is NaN when ``x_prev`` is 0 or NaN,
never inf.

Admin units
-----------
Per-grid counts roll up to community → township → county → city by summing, along
``grid.community_code`` and the ``admin_unit.parent_code`` chain. Where the chain is
missing (no admin units loaded), the 统计用区划代码 prefixes stand in: township = the first
9 digits of the community code, county = the first 6, city = the first 4 + "00". A unit's
population is the sum of its grids' populations. Requests with no grid (outside every grid)
appear in no grid or unit; :func:`wall_kpis` and :func:`request_series` for the whole city
do count them.

Days are Asia/Shanghai calendar days (UTC+8, no daylight saving).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from geo import clock
from geo.access import Scope
from geo.hierarchy import UnitHierarchy, check_area, unit_hierarchy, within
from geo.store.area import AreaFilter
from geo.store.counts import (
    BACKLOG_COLUMNS,
    REQUEST_COUNT_COLUMNS,
    backlog_per_grid,
    backlog_totals,
    request_counts_per_grid,
    request_counts_per_local_period,
    request_totals,
    requests_per_grid,
)
from geo.store.requests import read_admin_units, read_grids
from geo.store.schema import SRID

#: Levels a KPI table can be computed at, from the smallest up.
LEVELS = ("grid", "community", "township", "county", "city")

#: Admin-code prefix length per level (统计用区划代码: 2 province, 2 city, 2 county, 3
#: township, 3 community digits; a grid adds a 3-digit sequence).
PREFIX_LENGTH = {"city": 4, "county": 6, "township": 9, "community": 12, "grid": 15}

#: Counts summed up the hierarchy (see the module docstring for each definition).
COUNT_COLUMNS = REQUEST_COUNT_COLUMNS

#: Rates derived from the counts: name -> (numerator, denominator).
RATES = {
    "resolution_rate": ("resolved", "due"),
    "on_time_rate": ("on_time", "due"),
    "satisfaction_rate": ("satisfied", "rated"),
    "dispute_resolution_rate": ("disputes_resolved", "disputes_due"),
}

#: Figures reported alongside their previous-window value and change.
COMPARED = (
    "requests", "requests_per_1k", "open", "overdue", "resolved", "resolution_rate",
    "on_time_rate", "satisfaction_rate", "disputes", "dispute_resolution_rate",
)


def _window(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    since, until = clock.to_naive_utc(since), clock.to_naive_utc(until)
    if not since < until:
        raise ValueError(f"empty or reversed window: since {since} is not before until {until}")
    return since, until


# --------------------------------------------------------------------------- pure computations


def add_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Return ``counts`` with ``requests_per_1k`` and the :data:`RATES` columns added.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``requests``, ``population`` (NaN where unknown) and any of the other
        :data:`COUNT_COLUMNS`; a rate whose counts are absent is left out.

    Returns
    -------
    pandas.DataFrame
        A copy with the rates as float columns; a zero or missing denominator gives NaN.

    """
    out = counts.copy()
    pop = pd.to_numeric(out["population"], errors="coerce").astype(float)
    out["requests_per_1k"] = _ratio(out["requests"], pop) * 1000.0
    for name, (num, den) in RATES.items():
        if num in out and den in out:  # request_heat has only the requests
            out[name] = _ratio(out[num], out[den])
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype(float)
    return (num.astype(float) / den.where(den > 0)).astype(float)


def compare_with_previous(current: pd.DataFrame, previous: pd.DataFrame, *,
                          columns: tuple[str, ...] = COMPARED) -> pd.DataFrame:
    """Add ``<x>_prev``, ``<x>_change`` and ``<x>_change_rel`` for each of ``columns``.

    Parameters
    ----------
    current, previous : pandas.DataFrame
        Same index (unit codes); ``previous`` rows missing from it count as NaN.
    columns : tuple of str
        Figures to compare.

    Returns
    -------
    pandas.DataFrame
        ``current`` plus the comparison columns. The relative change is NaN when the
        previous value is 0 or NaN, never ±inf.

    """
    out = current.copy()
    prev = previous.reindex(current.index)
    for col in columns:
        before = prev[col].astype(float)
        now = out[col].astype(float)
        out[f"{col}_prev"] = before
        out[f"{col}_change"] = now - before
        out[f"{col}_change_rel"] = (now - before) / before.where(before != 0)
    return out


def rollup(grid_counts: pd.DataFrame, hierarchy: pd.DataFrame, *, level: str) -> pd.DataFrame:
    """Sum per-grid counts and populations to the admin units of ``level``.

    Parameters
    ----------
    grid_counts : pandas.DataFrame
        Indexed by grid code, with ``population`` and the :data:`COUNT_COLUMNS` (or some
        of them, as from :func:`request_heat`: those present are summed).
    hierarchy : pandas.DataFrame
        ``UnitHierarchy.grids``: indexed by grid code, one column per admin level.
    level : str
        "community", "township", "county" or "city".

    Returns
    -------
    pandas.DataFrame
        Indexed by unit code: the summed counts and ``population`` (NaN when none of the
        unit's grids has a population).

    """
    unit = hierarchy[level].reindex(grid_counts.index)
    sums = grid_counts[[c for c in COUNT_COLUMNS if c in grid_counts]].groupby(unit).sum()
    pop = pd.to_numeric(grid_counts["population"], errors="coerce").groupby(unit).sum(
        min_count=1)
    sums["population"] = pop
    sums.index.name = "code"
    return sums


# --------------------------------------------------------------------------- KPI tables


def grid_counts(engine: Engine, *, since: datetime | None, until: datetime,
                hierarchy: UnitHierarchy, now: datetime | None = None,
                scope: Scope | None = None) -> pd.DataFrame:
    """Count requests per grid over [since, until) for every grid, zeros where none.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    since, until : datetime
        Naive UTC window (``since`` None: everything before ``until``). Each request's state
        is judged as of ``until``, or ``now`` if that is earlier.
    hierarchy : UnitHierarchy
        From :func:`unit_hierarchy`; read once and share it across calls.
    now : datetime, optional
        The current moment (naive UTC); default the clock.
    scope : geo.access.Scope, optional
        Only grids inside it (the rows and the counts); None: every grid.

    Returns
    -------
    pandas.DataFrame
        Indexed by grid code (every grid in ``hierarchy`` inside the scope): the
        :data:`COUNT_COLUMNS` and
        ``population`` (float, NaN where unknown).

    """
    now = clock.or_now(now)
    counts = request_counts_per_grid(engine, since=since, until=until, as_of=min(until, now),
                                     scope=scope)
    return _every_grid(counts.set_index("grid_code"), within(hierarchy, scope).grids)


def request_heat(engine: Engine, *, since: datetime | None, until: datetime,
                 hierarchy: UnitHierarchy, scope: Scope | None = None) -> pd.DataFrame:
    """Count the requests reported per grid over [since, until): every grid, zeros too.

    The heat map's figure only (no state of any request), read from an index
    (:func:`geo.store.counts.requests_per_grid`): at province scale about 16 times faster than
    :func:`grid_counts`.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    since, until : datetime
        Naive UTC window (``since`` None: everything before ``until``).
    hierarchy : UnitHierarchy
        From :func:`unit_hierarchy`.
    scope : geo.access.Scope, optional
        Only grids inside it; None: every grid.

    Returns
    -------
    pandas.DataFrame
        Indexed by grid code (every grid in ``hierarchy`` inside the scope): ``requests``
        (int64) and ``population`` (float, NaN where unknown). :func:`add_rates` adds
        ``requests_per_1k``; :func:`rollup` sums it to admin units.

    """
    per = requests_per_grid(engine, since=since, until=until, scope=scope)
    return _every_grid(per.to_frame(), within(hierarchy, scope).grids)


def grid_backlog(engine: Engine, *, as_of: datetime, hierarchy: UnitHierarchy,
                 scope: Scope | None = None) -> pd.DataFrame:
    """Count the open backlog per grid at ``as_of``: every grid, zeros too.

    The wall's backlog, overdue and dispute layers, from one ``GROUP BY`` over the rows
    that can still be open (:func:`geo.store.counts.backlog_per_grid`).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    as_of : datetime
        Naive UTC moment: reported before it, not resolved by it.
    hierarchy : UnitHierarchy
        From :func:`unit_hierarchy`.
    scope : geo.access.Scope, optional
        Only grids inside it; None: every grid.

    Returns
    -------
    pandas.DataFrame
        Indexed by grid code (every grid in ``hierarchy`` inside the scope): ``open``,
        ``overdue``, ``disputes_open`` (int64) and ``population``.

    """
    per = backlog_per_grid(engine, as_of=as_of, scope=scope).set_index("grid_code")
    return _every_grid(per[list(BACKLOG_COLUMNS)], within(hierarchy, scope).grids)


def _every_grid(counts: pd.DataFrame, grids: pd.DataFrame) -> pd.DataFrame:
    """Put ``counts`` (by grid code) on every grid of ``grids``, zeros filled, + population."""
    out = counts.reindex(grids.index, fill_value=0).astype(np.int64)
    out["population"] = pd.to_numeric(grids["population"], errors="coerce").astype(float)
    out.index.name = "code"
    return out


def kpi_table(counts: pd.DataFrame, *, level: str, hierarchy: UnitHierarchy,
              previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Turn per-grid counts into the KPI table of one level (see :func:`area_kpis`).

    Parameters
    ----------
    counts : pandas.DataFrame
        From :func:`grid_counts`.
    level : str
        One of :data:`LEVELS`.
    hierarchy : UnitHierarchy
        From :func:`unit_hierarchy`.
    previous : pandas.DataFrame, optional
        :func:`grid_counts` of the previous window, to add the comparison columns.

    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")

    def at_level(grid_level: pd.DataFrame) -> pd.DataFrame:
        if level == "grid":
            return grid_level
        return rollup(grid_level, hierarchy.grids, level=level)

    current = add_rates(at_level(counts))
    if previous is not None:
        current = compare_with_previous(current, add_rates(at_level(previous)))
    if level == "grid":
        info = pd.DataFrame({"name": hierarchy.grids["name"], "level": "grid",
                             "parent_code": hierarchy.grids["community"]})
    else:
        units = hierarchy.units
        info = units[units["level"] == level][["name", "level", "parent_code"]]
        # Admin units with no grid still get a row of zeros.
        missing = info.index.difference(current.index)
        if len(missing):
            empty = pd.DataFrame(0, index=missing, columns=list(COUNT_COLUMNS))
            empty["population"] = np.nan
            filler = add_rates(empty)
            if previous is not None:
                filler = compare_with_previous(filler, filler)
            current = pd.concat([current, filler])
    current.index.name = "code"
    table = info.reindex(current.index).join(current).sort_index().reset_index()
    table["level"] = level
    return table


def area_kpis(
    engine: Engine, *, level: str, since: datetime, until: datetime,
    compare: bool = True, geometry: bool = False, now: datetime | None = None,
    scope: Scope | None = None,
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Request counts and rates per grid or admin unit over [since, until).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    level : {"grid", "community", "township", "county", "city"}
        The units to report.
    since, until : datetime
        The window, naive UTC (aware values are converted). Each request's state is judged
        as of ``until``, or as of ``now`` if that is earlier.
    compare : bool
        Add the previous window of equal length, ``[2·since − until, since)`` judged as of
        ``since``, as ``<x>_prev``, ``<x>_change`` and ``<x>_change_rel`` for each of
        :data:`COMPARED`.
    geometry : bool
        Return a GeoDataFrame (EPSG:4326) with each unit's polygon; an admin unit stored
        without one gets the union of its grids.
    now : datetime, optional
        The current moment (naive UTC); default the clock. Only matters when ``until`` is
        in the future.
    scope : geo.access.Scope, optional
        Only grids and units inside it; None: everything.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        One row per unit, ordered by ``code``: ``code``, ``name``, ``level``,
        ``parent_code``, ``population``, the :data:`COUNT_COLUMNS`, ``requests_per_1k``,
        the :data:`RATES` and, with ``compare``, the comparison columns. Units with no
        request have zero counts and NaN rates. Definitions: see the module docstring.

    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    since, until = _window(since, until)
    now = clock.or_now(now)
    hierarchy = within(unit_hierarchy(engine), scope)
    current = grid_counts(engine, since=since, until=until, hierarchy=hierarchy, now=now,
                          scope=scope)
    previous = None
    if compare:
        previous = grid_counts(engine, since=since - (until - since), until=since,
                               hierarchy=hierarchy, now=now, scope=scope)
    table = kpi_table(current, level=level, hierarchy=hierarchy, previous=previous)
    if geometry:
        return _with_geometry(engine, table, level=level, hierarchy=hierarchy.grids)
    return table


def grid_kpis(engine: Engine, *, since: datetime, until: datetime, compare: bool = True,
              geometry: bool = False, now: datetime | None = None,
              scope: Scope | None = None) -> pd.DataFrame | gpd.GeoDataFrame:
    """Request counts and rates per grid over [since, until); see :func:`area_kpis`."""
    return area_kpis(engine, level="grid", since=since, until=until, compare=compare,
                     geometry=geometry, now=now, scope=scope)


def _with_geometry(engine: Engine, table: pd.DataFrame, *, level: str,
                   hierarchy: pd.DataFrame) -> gpd.GeoDataFrame:
    grids = read_grids(engine)
    if level == "grid":
        geoms = grids.set_index("code").geometry.reindex(table["code"])
    else:
        admin = read_admin_units(engine, level=level)
        geoms = admin.set_index("code").geometry.reindex(table["code"])
        lacking = geoms.index[geoms.isna().to_numpy()]
        if len(lacking):
            unit_of = hierarchy[level].reindex(grids["code"]).to_numpy()
            shapes = np.asarray(grids.geometry.array)
            for code in lacking:
                parts = shapes[unit_of == code]
                geoms[code] = shapely.union_all(parts) if len(parts) else None
    return gpd.GeoDataFrame(table, geometry=list(geoms.array), crs=SRID)


# --------------------------------------------------------------------------- areas and series


def area_filter(engine: Engine, area: str | None, *,
                scope: Scope | None = None) -> AreaFilter:
    """Resolve an area code to the :class:`~geo.store.area.AreaFilter` store reads take.

    An admin unit's grids are the ones :func:`unit_hierarchy` puts in it. When they are
    exactly the grids whose code starts with the unit's code (统计用区划代码, the usual
    case) the filter is that prefix; otherwise (a township moved to a development zone but
    still coded under its old county) it is the list of the unit's grid codes.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to look the code up.
    area : str or None
        None (everything), a grid code, or an admin unit code of any level. The code of the
        only city means every request, including those outside every grid.
    scope : geo.access.Scope, optional
        Who is asking: the filter also carries it, and an area outside it is refused.

    Returns
    -------
    geo.store.area.AreaFilter
        At most one of ``grid_code``, ``grid_prefix`` and ``grid_codes`` set, and ``scope``.

    Raises
    ------
    ValueError
        The code is neither a grid nor an admin unit.
    geo.access.AccessDenied
        The area lies outside ``scope``.

    """
    everything = AreaFilter(scope=scope)
    if area is None:
        return everything
    area = str(area).strip()
    hierarchy = unit_hierarchy(engine)
    grids, units = hierarchy
    if area in grids.index or area in units.index:
        check_area(hierarchy, area, scope)
    if area in grids.index:
        return AreaFilter(grid_code=area, scope=scope)
    if area not in units.index:
        raise ValueError(f"unknown area {area!r}: not a grid code nor an admin unit code")
    level = cast(str, units.at[area, "level"])
    if level not in PREFIX_LENGTH:
        raise ValueError(f"admin unit {area!r} has an unknown level {level!r}")
    if level == "city" and (units["level"] == "city").sum() == 1:
        return everything
    inside = grids.index[(grids[level] == area).to_numpy()]
    prefix = area[:PREFIX_LENGTH.get(level, len(area))]
    by_prefix = grids.index[grids.index.str.startswith(prefix)]
    if len(inside) == len(by_prefix) and inside.equals(by_prefix):
        return AreaFilter(grid_prefix=prefix, scope=scope)
    return AreaFilter(grid_codes=tuple(inside), scope=scope)


def request_series(
    engine: Engine, *, area: str | None = None, since: datetime, until: datetime,
    freq: str = "D", scope: Scope | None = None,
) -> pd.DataFrame:
    """Count requests and disputes per Asia/Shanghai day or week in one area.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    area : str, optional
        A grid code, an admin unit code, or None for the whole city (see
        :func:`area_filter`).
    since, until : datetime
        Naive UTC window on ``reported_at``. Pass local midnights (e.g. from
        :func:`geo.clock.local_day_bounds`) for whole days; otherwise the first and last buckets are
        partial.
    freq : {"D", "W"}
        Local calendar days, or ISO weeks starting Monday.
    scope : geo.access.Scope, optional
        Only requests in grids inside it; an area outside it is refused.

    Returns
    -------
    pandas.DataFrame
        ``period`` (local day, or the week's Monday, as a naive datetime at midnight),
        ``requests`` and ``disputes``: every period from the one holding ``since`` to the
        one holding the last instant before ``until``, with zeros where nothing was reported.

    """
    since, until = _window(since, until)
    counts = request_counts_per_local_period(engine, since=since, until=until, freq=freq,
                                             area=area_filter(engine, area, scope=scope))
    first = pd.Timestamp(clock.to_local(since)).normalize()
    last = pd.Timestamp(clock.to_local(until - timedelta(microseconds=1))).normalize()
    if freq == "W":
        first -= pd.Timedelta(days=first.weekday())
        last -= pd.Timedelta(days=last.weekday())
    periods = pd.date_range(first, last, freq="7D" if freq == "W" else "D", name="period")
    out = counts.set_index("period").reindex(periods, fill_value=0).reset_index()
    return out.astype({"requests": "int64", "disputes": "int64"})


# --------------------------------------------------------------------------- command wall


@dataclass(frozen=True)
class WallKpis:
    """The command wall's KPI tiles for one area at one moment.

    Attributes
    ----------
    as_of : datetime
        The moment (naive UTC) the figures describe.
    today_requests : int
        Reported since the start of the Asia/Shanghai day of ``as_of``.
    open, overdue, open_disputes : int
        The backlog at ``as_of``: every request reported before it, however long ago, that
        is not resolved by then (overdue: and past its deadline).
    resolution_rate, on_time_rate, satisfaction_rate : float
        Over the requests reported in the trailing ``window`` (see the module docstring);
        NaN when nothing was due (or nothing was rated): "no rating", not 100%.
    window : timedelta
        The trailing window of the rates.
    newly_overdue : int
        Of ``overdue``, those whose deadline passed in the last ``newly_window`` (the
        wall's "newly overdue"; the moment each crossed is the moment its escalation event
        carries).
    newly_window : timedelta
        How recent "newly" is (default 24 h).

    """

    as_of: datetime
    today_requests: int
    open: int
    overdue: int
    resolution_rate: float
    on_time_rate: float
    satisfaction_rate: float
    open_disputes: int
    window: timedelta
    newly_overdue: int = 0
    newly_window: timedelta = timedelta(hours=24)


def wall_kpis(engine: Engine, *, now: datetime | None = None, area: str | None = None,
              window: timedelta = timedelta(days=30), scope: Scope | None = None,
              newly_window: timedelta = timedelta(hours=24)) -> WallKpis:
    """Return the command wall's KPI tiles for an area (default: the whole city).

    Three aggregate queries (today, backlog, trailing window); no GROUP BY, no raw rows;
    the backlog reads only unresolved rows through the ``resolved_at`` index.
    Requests outside every grid count for the whole city.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    now : datetime, optional
        The moment to report (naive UTC or aware); default the current time.
    area : str, optional
        A grid or admin unit code (see :func:`area_filter`).
    window : timedelta
        The trailing window for the rates; default 30 days.
    scope : geo.access.Scope, optional
        Only requests in grids inside it; an area outside it is refused.
    newly_window : timedelta
        How recent a deadline must be for "newly overdue"; default 24 hours.

    """
    now = clock.or_now(now)
    where = area_filter(engine, area, scope=scope)
    day_start, _ = clock.local_day_bounds(now)
    today = request_totals(engine, since=day_start, until=now, area=where)
    backlog = backlog_totals(engine, as_of=now, area=where, overdue_since=now - newly_window)
    recent = request_totals(engine, since=now - window, until=now, area=where)

    def rate(num: str, den: str) -> float:
        return recent[num] / recent[den] if recent[den] else float("nan")

    return WallKpis(
        as_of=now,
        today_requests=today["requests"],
        open=backlog["open"],
        overdue=backlog["overdue"],
        resolution_rate=rate(*RATES["resolution_rate"]),
        on_time_rate=rate(*RATES["on_time_rate"]),
        satisfaction_rate=rate(*RATES["satisfaction_rate"]),
        open_disputes=backlog["disputes_open"],
        window=window,
        newly_overdue=backlog["newly_overdue"],
        newly_window=newly_window,
    )
