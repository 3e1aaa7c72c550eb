"""One grid in detail: KPIs, neighbours, nearest stations, request points, breakdowns.

Everything here is about a single grid, so it may read that grid's own rows (a few hundred
requests at most, capped) where the city-wide modules only ever read ``GROUP BY`` counts.

Distances and areas are computed in the UTM zone of the grid (:func:`geo.coords.metric_crs`;
EPSG:32649 in Yiyang). A station's distance to a grid is measured from the grid's
representative point (shapely's ``point_on_surface``), as on the coverage page
(:mod:`geo.coverage`), so the two pages agree. A station *reaches* the grid when its
coverage disc (its own ``radius_m``, else its kind's default) touches the grid; the grid's
*covered share* is the part of its area inside the union of all discs.

A request's state is judged as of a moment ``now`` from its timestamps, with the rules of
:mod:`geo.heat`: resolved when ``resolved_at < now`` (or no time but a closed status);
overdue when ``due_at < now`` and not resolved; open otherwise.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine

from geo import clock, coords, heat, vocab
from geo.access import AccessDenied, Scope
from geo.coverage import QUAD_SEGS, Radius, _station_radii
from geo.deadlines import DeadlinePolicy, escalation_levels
from geo.store.access import grid_in_scope
from geo.store.area import AreaFilter
from geo.store.counts import backlog_totals, request_counts_per_local_period, request_totals

__all__ = [
    "KPI_NAMES",
    "REQUEST_STATES",
    "breakdown",
    "covered_share",
    "grid_kpis",
    "grid_neighbours",
    "nearest_stations",
    "open_requests",
    "per_1k",
    "request_spots",
    "request_state",
    "share_of",
    "trend_since",
    "volunteer_totals",
    "weekly_requests",
]

#: A request's state on the map, from least to most pressing.
REQUEST_STATES = ("closed", "open", "overdue")
#: Severities from least to most pressing.
SEVERITY_ORDER = tuple(vocab.SEVERITIES)
#: The figures of :func:`grid_kpis`, in tile order.
KPI_NAMES = ("requests", "requests_per_1k", "open", "overdue", "resolution_rate",
             "on_time_rate", "satisfaction_rate", "disputes", "disputes_open")
#: Codes of each breakdown, in display order.
BREAKDOWN_CODES = {
    "category": tuple(vocab.CATEGORIES),
    "severity": SEVERITY_ORDER,
    "route": tuple(vocab.ROUTES),
    "source": tuple(vocab.SOURCES),
    "status": tuple(vocab.STATUSES),
}
#: The code a breakdown gives requests with no value in the column.
UNSET = "unset"


# --------------------------------------------------------------------------- small figures


def per_1k(count: float, population: object) -> float:
    """``count`` per 1,000 residents; NaN when the population is unknown or zero."""
    pop = pd.to_numeric(pd.Series([population]), errors="coerce").iloc[0]
    if pd.isna(pop) or pop <= 0:
        return float("nan")
    return float(count) / float(pop) * 1000.0


def share_of(part: object, whole: object) -> float:
    """Return ``part ÷ whole`` (e.g. WeChat members ÷ residents).

    NaN when either is unknown or the whole is zero.
    """
    values = pd.to_numeric(pd.Series([part, whole]), errors="coerce")
    if values.isna().any() or values.iloc[1] <= 0:
        return float("nan")
    return float(values.iloc[0] / values.iloc[1])


def trend_since(now: datetime, *, weeks: int = 12) -> datetime:
    """Return the naive-UTC start of a ``weeks``-long weekly series ending in ``now``'s week.

    The Monday (Asia/Shanghai) ``weeks - 1`` weeks before the week holding ``now``, at
    local midnight, so that :func:`geo.heat.request_series` with ``freq="W"`` gives exactly
    ``weeks`` whole weeks, the last one running up to now.
    """
    local = pd.Timestamp(clock.to_local(now)).normalize()
    monday = local - pd.Timedelta(days=local.weekday()) - pd.Timedelta(weeks=weeks - 1)
    return clock.from_local(monday)


def weekly_requests(engine: Engine, code: str, *, now: datetime,
                    weeks: int = 12, scope: Scope | None = None) -> pd.DataFrame:
    """Count requests and disputes per Asia/Shanghai week in one grid, the last ``weeks``.

    The figures of :func:`geo.heat.request_series` with ``freq="W"`` and ``area=code``, read
    with the grid's code directly (that function first maps the whole admin hierarchy to
    resolve any area, which costs more than the count itself for one grid). A ``scope``
    that does not cover the grid is refused (:class:`~geo.access.AccessDenied`).

    Returns
    -------
    pandas.DataFrame
        ``period`` (the week's Monday, naive local midnight), ``requests`` and
        ``disputes``: ``weeks`` rows, the last the week holding ``now``, zeros included.

    """
    _require(engine, code, scope)
    now = clock.to_naive_utc(now)
    since = trend_since(now, weeks=weeks)
    counts = request_counts_per_local_period(engine, since=since, until=now, freq="W",
                                             area=AreaFilter(grid_code=code, scope=scope))
    first = pd.Timestamp(clock.to_local(since))
    periods = pd.date_range(first, periods=weeks, freq="7D", name="period")
    out = counts.set_index("period").reindex(periods, fill_value=0).reset_index()
    return out.astype({"requests": "int64", "disputes": "int64"})


# --------------------------------------------------------------------------- KPIs


def grid_kpis(engine: Engine, code: str, *, now: datetime, population: object = None,
              window: timedelta = timedelta(days=30),
              scope: Scope | None = None) -> pd.DataFrame:
    """One grid's KPI tiles: the trailing window and the one before it.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    code : str
        The grid code.
    now : datetime
        The moment (naive UTC or aware).
    population : int, optional
        The grid's residents, for ``requests_per_1k`` (NaN when unknown or 0).
    window : timedelta
        Length of the window; default 30 days.
    scope : geo.access.Scope, optional
        Who asks; a grid outside it is refused (:class:`~geo.access.AccessDenied`).

    Returns
    -------
    pandas.DataFrame
        Indexed by :data:`KPI_NAMES`; columns ``value``, ``previous`` and ``change``
        (``value - previous``; for a rate in fraction points). ``requests``,
        ``requests_per_1k``, ``disputes`` and the rates are over the requests reported in
        ``[now - window, now)``, judged as of ``now``, against ``[now - 2·window, now -
        window)`` judged as of its end (the rules of :mod:`geo.heat`). ``open``,
        ``overdue`` and ``disputes_open`` are the backlog at ``now`` against the backlog at
        ``now - window``. A rate whose denominator is 0 is NaN.

    """
    _require(engine, code, scope)
    now = clock.to_naive_utc(now)
    start = now - window
    where = AreaFilter(grid_code=code, scope=scope)
    current = request_totals(engine, since=start, until=now, area=where)
    previous = request_totals(engine, since=start - window, until=start, area=where)
    backlog = backlog_totals(engine, as_of=now, area=where)
    backlog_before = backlog_totals(engine, as_of=start, area=where)

    def figures(totals: dict[str, int], open_: dict[str, int]) -> dict[str, float]:
        out: dict[str, float] = {
            "requests": totals["requests"],
            "requests_per_1k": per_1k(totals["requests"], population),
            "open": open_["open"],
            "overdue": open_["overdue"],
            "disputes": totals["disputes"],
            "disputes_open": open_["disputes_open"],
        }
        for name in ("resolution_rate", "on_time_rate", "satisfaction_rate"):
            num, den = heat.RATES[name]
            out[name] = totals[num] / totals[den] if totals[den] else float("nan")
        return out

    table = pd.DataFrame({"value": pd.Series(figures(current, backlog)),
                          "previous": pd.Series(figures(previous, backlog_before))},
                         dtype=float).reindex(list(KPI_NAMES))
    table["change"] = table["value"] - table["previous"]
    return table


# --------------------------------------------------------------------------- geometry


def _metric(geoms: gpd.GeoSeries, crs: str) -> gpd.GeoSeries:
    return (geoms.set_crs(4326) if geoms.crs is None else geoms).to_crs(crs)


def _grid_crs(grid: BaseGeometry, crs: str | None) -> str:
    if crs is not None:
        return crs
    c = grid.centroid
    return coords.metric_crs(c.x, c.y)


def grid_neighbours(grids: gpd.GeoDataFrame, code: str, *, tolerance_m: float = 1.0,
                    crs: str | None = None) -> pd.Index:
    """Return the codes of the grids that touch grid ``code`` (an edge or a corner), in order.

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Every grid: ``code`` and polygons in EPSG:4326 (simplified ones will do: their
        shared edges are kept).
    code : str
        The grid.
    tolerance_m : float
        Grids closer than this count as touching (rounding leaves hair-thin gaps).
    crs : str, optional
        Metric CRS; default the grid's UTM zone.

    Returns
    -------
    pandas.Index
        Neighbour codes, sorted; empty for an unknown code.

    """
    rows = np.flatnonzero((grids["code"] == code).to_numpy())
    if not len(rows):
        return pd.Index([], dtype=object, name="code")
    geom = grids.geometry.iloc[rows[0]]
    crs = _grid_crs(geom, crs)
    # Pad the search box generously: a degree of latitude is 111 km, of longitude less.
    pad = tolerance_m / 50_000.0
    minx, miny, maxx, maxy = geom.bounds
    candidates = grids.sindex.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad))
    candidates = candidates[candidates != rows[0]]
    if not len(candidates):
        return pd.Index([], dtype=object, name="code")
    near = grids.iloc[candidates]
    target = _metric(gpd.GeoSeries([geom], crs=grids.crs), crs).iloc[0]
    close = _metric(near.geometry, crs).distance(target).to_numpy() <= tolerance_m
    return pd.Index(sorted(near["code"].to_numpy()[close]), dtype=object, name="code")


def _station_metric(stations: pd.DataFrame, crs: str) -> tuple[np.ndarray, np.ndarray]:
    lon = pd.to_numeric(stations["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(stations["lat"], errors="coerce").to_numpy(dtype=float)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _reach(grid: BaseGeometry, stations: pd.DataFrame, *, radius_m: Radius,
           crs: str | None) -> tuple[pd.DataFrame, BaseGeometry]:
    """Every station's distance, gap, radius and reach for one grid, and the metric grid."""
    crs = _grid_crs(grid, crs)
    target = _metric(gpd.GeoSeries([grid], crs=4326), crs).iloc[0]
    x, y = _station_metric(stations, crs)
    centre = shapely.point_on_surface(target)
    points = shapely.points(x, y)
    out = pd.DataFrame({
        "distance_m": np.hypot(x - centre.x, y - centre.y),
        "gap_m": shapely.distance(points, target),
        "radius_m": _station_radii(stations, radius_m),
    }, index=stations.index)
    out["reaches"] = out["gap_m"] <= out["radius_m"]
    out["_x"], out["_y"] = x, y
    return out, target


def _disc_shares(reach: pd.DataFrame, target: BaseGeometry) -> np.ndarray:
    area = target.area
    discs = shapely.buffer(shapely.points(reach["_x"], reach["_y"]),
                           reach["radius_m"].to_numpy(), quad_segs=QUAD_SEGS)
    if area <= 0:
        return np.full(len(reach), np.nan)
    return np.clip(shapely.area(shapely.intersection(discs, target)) / area, 0.0, 1.0)


def nearest_stations(grid: BaseGeometry, stations: pd.DataFrame, *, k: int = 3,
                     per_kind: bool = True, radius_m: Radius = None,
                     crs: str | None = None) -> pd.DataFrame:
    """Return the stations nearest to a grid, with distances and whether each covers it.

    Parameters
    ----------
    grid : shapely.Geometry
        The grid's polygon in EPSG:4326.
    stations : pandas.DataFrame
        ``lon``/``lat`` (WGS84), ``kind``, optionally ``code``, ``name`` and ``radius_m``
        (a per-station override of the kind's radius).
    k : int
        The ``k`` nearest stations of any kind ...
    per_kind : bool
        ... plus the nearest of each kind (a grid head's 派出所, 警务站 and 警务室).
    radius_m : float or mapping of str to float, optional
        Coverage radius for every station or per kind, as in :mod:`geo.coverage`.
    crs : str, optional
        Metric CRS; default the grid's UTM zone.

    Returns
    -------
    pandas.DataFrame
        The chosen station rows (their columns kept), nearest first, with
        ``distance_m`` (from the grid's representative point), ``gap_m`` (to the grid's
        edge; 0 inside), ``radius_m`` (the radius used), ``reaches`` (the disc touches the
        grid) and ``share`` (the grid's area share inside this station's disc, 0 … 1).

    """
    if stations is None or not len(stations):
        cols = ["code", "name", "kind", "lon", "lat", "distance_m", "gap_m", "radius_m",
                "reaches", "share"]
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(stations.drop(columns=stations.geometry.name)
                         if isinstance(stations, gpd.GeoDataFrame) else stations)
    reach, target = _reach(grid, frame, radius_m=radius_m, crs=crs)
    order = reach["distance_m"].sort_values(kind="stable").index
    chosen = list(order[:k])
    if per_kind and "kind" in frame:
        firsts = frame.loc[order, "kind"].drop_duplicates().index
        chosen += [i for i in firsts if i not in chosen]
    reach = reach.loc[chosen].sort_values("distance_m", kind="stable")
    reach["share"] = _disc_shares(reach, target)
    out = frame.drop(columns=["radius_m"], errors="ignore").loc[reach.index]
    out = out.join(reach.drop(columns=["_x", "_y"]))
    return out.reset_index(drop=True)


def covered_share(grid: BaseGeometry, stations: pd.DataFrame, *,
                  radius_m: Radius = None, crs: str | None = None) -> float:
    """Return the share (0 … 1) of a grid's area inside the union of every station's disc.

    The same figure as ``covered_share`` of :func:`geo.coverage.station_coverage`, for one
    grid; 0 with no stations, NaN for a grid of no area.
    """
    if stations is None or not len(stations):
        return 0.0
    frame = pd.DataFrame(stations.drop(columns=stations.geometry.name)
                         if isinstance(stations, gpd.GeoDataFrame) else stations)
    reach, target = _reach(grid, frame, radius_m=radius_m, crs=crs)
    if target.area <= 0:
        return float("nan")
    reach = reach[reach["reaches"]]
    if reach.empty:
        return 0.0
    discs = shapely.buffer(shapely.points(reach["_x"], reach["_y"]),
                           reach["radius_m"].to_numpy(), quad_segs=QUAD_SEGS)
    inside = shapely.intersection(target, shapely.union_all(discs)).area
    return float(min(max(inside / target.area, 0.0), 1.0))


# --------------------------------------------------------------------------- requests


def request_state(requests: pd.DataFrame, *, now: datetime) -> pd.Series:
    """Each request's state at ``now``: "closed", "open" or "overdue" (module docstring)."""
    now = pd.Timestamp(clock.to_naive_utc(now))
    resolved_at = pd.to_datetime(requests["resolved_at"])
    due_at = pd.to_datetime(requests["due_at"])
    closed_status = requests["status"].isin(sorted(vocab.CLOSED_STATUSES))
    resolved = (resolved_at.notna() & (resolved_at < now)) | (resolved_at.isna()
                                                                & closed_status)
    overdue = due_at.notna() & (due_at < now) & ~resolved
    state = np.where(resolved, "closed", np.where(overdue, "overdue", "open"))
    return pd.Series(state, index=requests.index, name="state", dtype=object)


def open_requests(requests: pd.DataFrame, *, now: datetime,
                  policy: DeadlinePolicy | None = None) -> pd.DataFrame:
    """Return a grid's open requests as a worklist: overdue first, then the nearest deadline.

    Parameters
    ----------
    requests : pandas.DataFrame
        Requests with ``reported_at``, ``due_at``, ``resolved_at`` and ``status`` (e.g.
        :func:`geo.store.live.latest_requests` with ``open_only=True``); closed ones are dropped.
    now : datetime
        The moment (naive UTC or aware).
    policy : DeadlinePolicy, optional
        The escalation thresholds; default :class:`~geo.deadlines.DeadlinePolicy`'s.

    Returns
    -------
    pandas.DataFrame
        The open rows with ``state`` ("open"/"overdue"), ``level`` (the escalation level at
        ``now``, 0–3: :data:`geo.deadlines.LEVELS`), ``age_h`` (hours since reported) and
        ``left_h`` (hours to the deadline; negative once overdue, NaN with none).

    """
    now_ts = pd.Timestamp(clock.to_naive_utc(now))
    out = requests.copy()
    out["state"] = request_state(out, now=now_ts)
    out = out[out["state"] != "closed"].copy()
    out["level"] = escalation_levels(out["reported_at"], out["due_at"],
                                     now=now_ts.to_pydatetime(),
                                     policy=policy or DeadlinePolicy()).to_numpy()
    hour = pd.Timedelta(hours=1)
    out["age_h"] = (now_ts - pd.to_datetime(out["reported_at"])) / hour
    out["left_h"] = (pd.to_datetime(out["due_at"]) - now_ts) / hour
    out["_late"] = out["state"] == "overdue"
    out = out.sort_values(["_late", "left_h", "reported_at"], ascending=[False, True, True],
                          na_position="last", kind="stable")
    return out.drop(columns="_late").reset_index(drop=True)


def request_spots(requests: pd.DataFrame, *, now: datetime, limit: int = 300,
                  spot_m: float = 10.0, crs: str | None = None) -> pd.DataFrame:
    """Group a grid's newest requests into map spots: one marker where several coincide.

    Parameters
    ----------
    requests : pandas.DataFrame
        ``id``, ``lon``, ``lat``, ``reported_at``, ``severity`` and either ``state`` or the
        columns :func:`request_state` needs. Rows without coordinates are left out.
    now : datetime
        The moment states are judged at.
    limit : int
        Only the newest ``limit`` requests are placed (DESIGN §6: capped).
    spot_m : float
        Requests in the same ``spot_m`` × ``spot_m`` metre cell share a spot.
    crs : str, optional
        Metric CRS; default the UTM zone of the points.

    Returns
    -------
    pandas.DataFrame
        One row per spot, drawn in order (the most pressing last, on top): ``lon``,
        ``lat`` (the mean of its requests), ``requests`` (how many), ``severity`` and
        ``state`` (the most pressing of its requests), ``reported_at`` (the newest) and
        ``ids`` (a tuple of request ids, newest first).

    """
    cols = ["lon", "lat", "requests", "severity", "state", "reported_at", "ids"]
    rows = requests[requests["lon"].notna() & requests["lat"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    rows = rows.sort_values(["reported_at", "id"], ascending=False, kind="stable").head(limit)
    rows = rows.assign(state=rows["state"] if "state" in rows
                       else request_state(rows, now=now))
    lon = rows["lon"].to_numpy(dtype=float)
    lat = rows["lat"].to_numpy(dtype=float)
    if crs is None:
        crs = coords.metric_crs(float(np.mean(lon)), float(np.mean(lat)))
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    cell = pd.Series(list(zip(np.floor(np.asarray(x) / spot_m).astype(np.int64),
                              np.floor(np.asarray(y) / spot_m).astype(np.int64),
                              strict=True)), index=rows.index)
    sev_rank = rows["severity"].map({s: i for i, s in enumerate(SEVERITY_ORDER)}).fillna(-1)
    state_rank = rows["state"].map({s: i for i, s in enumerate(REQUEST_STATES)})
    work = pd.DataFrame({"cell": cell, "lon": lon, "lat": lat, "sev": sev_rank.to_numpy(),
                         "st": state_rank.to_numpy(), "reported_at": rows["reported_at"],
                         "id": rows["id"]}, index=rows.index)
    groups = work.groupby("cell", sort=False)
    spots = pd.DataFrame({
        "lon": groups["lon"].mean(), "lat": groups["lat"].mean(),
        "requests": groups.size(), "sev": groups["sev"].max(), "st": groups["st"].max(),
        "reported_at": groups["reported_at"].max(),
        "ids": groups["id"].agg(tuple),
    })
    spots["severity"] = [SEVERITY_ORDER[int(i)] if i >= 0 else None for i in spots["sev"]]
    spots["state"] = [REQUEST_STATES[int(i)] for i in spots["st"]]
    spots = spots.sort_values(["st", "sev", "reported_at"], kind="stable")
    return spots[cols].reset_index(drop=True)


def breakdown(counts: pd.DataFrame, column: str) -> pd.Series:
    """Turn :func:`geo.store.counts.request_counts_by` rows into counts in display order.

    Every code of the column's vocabulary is present (0 where none), in vocabulary order;
    codes outside it follow, and requests with no value count under :data:`UNSET`.
    """
    codes = list(BREAKDOWN_CODES.get(column, ()))
    values = counts["value"].astype(object).where(counts["value"].notna(), UNSET)
    series = pd.Series(counts["requests"].to_numpy(dtype=np.int64), index=values.to_numpy())
    series = series.groupby(level=0, sort=False).sum()
    extra = [c for c in series.index if c not in codes and c != UNSET]
    extra += [UNSET] if UNSET in series.index else []
    out = series.reindex(codes + extra, fill_value=0).astype(np.int64)
    out.index.name = column
    out.name = "requests"
    return out


def volunteer_totals(activities: pd.DataFrame) -> dict[str, float]:
    """Activities, person-hours (Σ volunteers × hours) and points of a grid's activities."""
    if activities.empty:
        return {"activities": 0, "volunteer_hours": 0.0, "points": 0.0}
    return {
        "activities": int(len(activities)),
        "volunteer_hours": float((activities["volunteers"] * activities["hours"]).sum()),
        "points": float(activities["points"].sum()),
    }


def _require(engine: Engine, code: str, scope: Scope | None) -> None:
    """Refuse a grid outside ``scope``, judged by the stored hierarchy as every read is."""
    if scope is None or scope.everywhere or grid_in_scope(engine, code, scope):
        return
    raise AccessDenied(f"{code} is outside this account's areas "
                       f"({', '.join(scope.areas or ())})")
