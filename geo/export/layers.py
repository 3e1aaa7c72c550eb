"""The layer builders: one function per layer, from the database to a :class:`LayerData`.

Each builder reads what its layer needs through :mod:`geo.store` (and computes figures
with :mod:`geo.heat`, :mod:`geo.coverage`, :mod:`geo.hotspots` or :mod:`geo.bulletin`),
keeps the area's rows and returns them chunk by chunk for a writer of
:mod:`geo.export.writers`. :data:`BUILDERS` maps each layer key but the bulletin's to its
builder; :func:`bulletin_layer` also takes the month and level and returns the month's bounds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from geo import alliance, bulletin, clock, coverage, deadlines, heat, hotspots, vocab
from geo.access import FREE_TEXT, mask_text
from geo.export.catalogue import PERSONAL_FIELDS, Area, LayerData, Reporter, split
from geo.grids import GridIndex
from geo.store import counts
from geo.store import counts as store_counts
from geo.store import requests as store_requests
from geo.store import schema as store_schema
from geo.store.area import EVERYWHERE

__all__ = ["BUILDERS", "GI_CLASSES", "Context", "bulletin_layer"]


@dataclass
class Context:
    """What every builder reads: where, which area and window, and how to report."""

    engine: Engine
    area: Area
    hierarchy: heat.UnitHierarchy
    since: datetime | None
    until: datetime | None
    now: datetime
    personal: bool
    chunk_rows: int
    report: Reporter


_ADMIN_SCHEMA = [
    ("code", "str"), ("name", "str"),
    ("community_code", "str"), ("community_name", "str"),
    ("township_code", "str"), ("township_name", "str"),
    ("county_code", "str"), ("county_name", "str"),
    ("population", "int"),
]

_KPI_SCHEMA = [
    ("requests", "int"), ("requests_per_1k", "float"), ("open", "int"), ("overdue", "int"),
    ("due", "int"), ("resolved", "int"), ("on_time", "int"), ("rated", "int"),
    ("satisfied", "int"), ("resolution_rate", "float"), ("on_time_rate", "float"),
    ("satisfaction_rate", "float"), ("disputes", "int"), ("disputes_open", "int"),
    ("dispute_resolution_rate", "float"),
]

_VOCABS: dict[str, dict[str, Any]] = {
    "source": vocab.SOURCES, "category": vocab.CATEGORIES, "severity": vocab.SEVERITIES,
    "route": vocab.ROUTES, "status": vocab.STATUSES, "satisfaction": vocab.SATISFACTION,
}


def _vocab_names(codes: pd.Series, table: dict[str, Any]) -> pd.Series:
    names = {code: (v[0] if isinstance(v, tuple) else v) for code, v in table.items()}
    return codes.map(names)


def _admin_columns(codes: pd.Index, hierarchy: heat.UnitHierarchy) -> pd.DataFrame:
    """Code, name, community/township/county codes and names, population per grid."""
    grids = hierarchy.grids.reindex(codes)
    unit_names = hierarchy.units["name"]
    unit_names = unit_names[~unit_names.index.duplicated()]
    out = pd.DataFrame({"code": codes, "name": grids["name"].to_numpy()}, index=codes)
    for level in ("community", "township", "county"):
        out[f"{level}_code"] = grids[level].to_numpy()
        out[f"{level}_name"] = grids[level].map(unit_names).to_numpy()
    out["population"] = grids["population"].to_numpy()
    return out


def _in_clause(codes: pd.Index | None) -> list[str] | None:
    """Return the codes for a SQL ``IN`` list, or None to read every row and filter here."""
    # SQLite allows 32,766 bound parameters; beyond a few thousand codes an IN list costs
    # more than reading the rows and filtering them here.
    return list(codes) if codes is not None and len(codes) <= 5000 else None


def _area_grids(ctx: Context) -> gpd.GeoDataFrame:
    """Read the area's grids, all columns, ordered by code."""
    codes = ctx.area.grids
    grids = store_requests.read_grids(ctx.engine, codes=_in_clause(codes), personal=ctx.personal)
    if codes is not None:
        grids = grids[grids["code"].isin(codes)]
    return grids.reset_index(drop=True)


def _multi(geoms: Iterable) -> np.ndarray:
    """Polygons as MultiPolygons, so a GeoPackage layer has one geometry type."""
    out = np.array(list(geoms), dtype=object)
    single = np.array([g is not None and g.geom_type == "Polygon" for g in out], dtype=bool)
    if single.any():
        out[single] = [shapely.MultiPolygon([g]) for g in out[single]]
    return out




def _grids_layer(ctx: Context) -> LayerData:
    until = ctx.until or ctx.now
    ctx.report(0.02, "计算网格指标")
    grids = _area_grids(ctx)
    counts = heat.grid_counts(ctx.engine, since=ctx.since, until=until,
                              hierarchy=ctx.hierarchy, now=ctx.now)
    kpis = heat.kpi_table(counts, level="grid", hierarchy=ctx.hierarchy).set_index("code")
    codes = pd.Index(grids["code"])
    frame = _admin_columns(codes, ctx.hierarchy)
    own = grids.set_index("code")
    extra = ["households", "area_km2", "wechat_groups", "wechat_members", "volunteers"]
    personal = list(PERSONAL_FIELDS["grids"]) if ctx.personal else []
    for col in extra + personal:
        frame[col] = own[col].reindex(codes).to_numpy()
    kpi_cols = [c for c, _ in _KPI_SCHEMA]
    frame = frame.join(kpis[kpi_cols].reindex(codes))
    schema = (_ADMIN_SCHEMA + [("households", "int"), ("area_km2", "float"),
                               ("wechat_groups", "int"), ("wechat_members", "int"),
                               ("volunteers", "int")]
              + [(c, "str") for c in personal] + _KPI_SCHEMA)
    geoms = _multi(grids.geometry.to_numpy())
    return LayerData("grids", schema, split(frame, geoms, ctx.chunk_rows), len(frame),
                     "MultiPolygon")


_REQUEST_SCHEMA = [
    ("id", "int"), ("external_id", "str"), ("grid_code", "str"), ("outside_grid", "bool"),
    ("lon", "float"), ("lat", "float"), ("source_crs", "str"),
    ("source", "str"), ("source_name", "str"), ("category", "str"), ("category_name", "str"),
    ("severity", "str"), ("severity_name", "str"), ("route", "str"), ("route_name", "str"),
    ("status", "str"), ("status_name", "str"),
    ("reported_at", "datetime"), ("due_at", "datetime"), ("resolved_at", "datetime"),
    ("closed_at", "datetime"), ("satisfaction", "str"), ("satisfaction_name", "str"),
    ("address", "str"), ("description", "str"),
    # The escalation level (督办) at the export's moment by the working-day clock, for the
    # requests still open then (empty for closed ones): in_time / due_soon / overdue /
    # long_overdue, and its Chinese name.
    ("escalation", "str"), ("escalation_name", "str"),
]
#: Chinese names of the escalation levels in exports.
_LEVEL_NAMES = {"in_time": "正常", "due_soon": "即将到期", "overdue": "已超期",
                "long_overdue": "严重超期"}

#: Bounds standing in for an open window end when planning chunks by day.
_EARLIEST, _LATEST = datetime(1900, 1, 1), datetime(2200, 1, 1)


def _requests_per_local_day(ctx: Context) -> pd.DataFrame:
    """Count the area's requests per Asia/Shanghai day in the window (open ends: all)."""
    # The one store read filtered by heat's area filter rather than by ctx.area.grids.
    area = heat.area_filter(ctx.engine, ctx.area.code) if ctx.area.code else EVERYWHERE
    return counts.request_counts_per_local_period(
        ctx.engine, since=ctx.since or _EARLIEST, until=ctx.until or _LATEST, freq="D", area=area)


def _plan_request_chunks(ctx: Context) -> tuple[list[tuple[datetime | None, datetime | None]],
                                                 int]:
    """Cut the window into time slices of about ``chunk_rows`` requests, at local days.

    The slices partition ``[since, until)`` exactly (each ends where the next begins), so
    every request is read once, in report order, whatever its time.
    """
    days = _requests_per_local_day(ctx)
    starts = [clock.from_local(p) for p in days["period"]]
    bounds: list[tuple[datetime | None, datetime | None]] = []
    begin, held = ctx.since, 0
    for day_start, n in zip(starts, days["requests"].to_numpy(), strict=True):
        if held and held + n > ctx.chunk_rows:
            bounds.append((begin, day_start))
            begin, held = day_start, 0
        held += int(n)
    if held:
        bounds.append((begin, ctx.until))
    return bounds, int(days["requests"].sum())


def _read_requests(ctx: Context, *, since: datetime | None, until: datetime | None,
                   columns: list[str]) -> pd.DataFrame:
    codes = ctx.area.grids
    listed = _in_clause(codes)
    frame = store_requests.read_requests(ctx.engine, since=since, until=until, columns=columns,
                                         grid_codes=listed)
    if codes is not None and listed is None:
        frame = frame[frame["grid_code"].isin(codes)]
    return frame


def _requests_layer(ctx: Context) -> LayerData:
    personal = list(PERSONAL_FIELDS["requests"]) if ctx.personal else []
    schema = _REQUEST_SCHEMA + [(c, "str") for c in personal]
    derived = {f"{col}_name" for col in _VOCABS} | {"escalation", "escalation_name"}
    stored = [c for c, _ in schema if c not in derived]
    policy = deadlines.policy_and_calendar()[0]
    ctx.report(0.02, "统计诉求")
    bounds, total = _plan_request_chunks(ctx)

    def chunks() -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        for since, until in bounds:
            frame = _read_requests(ctx, since=since, until=until, columns=stored)
            if not ctx.personal:
                # Residents' free text without personal data: phone and ID numbers masked.
                for col in FREE_TEXT:
                    if col in frame.columns:
                        frame[col] = pd.Series([mask_text(v) for v in frame[col]],
                                               index=frame.index, dtype=object)
            for col, table in _VOCABS.items():
                frame[f"{col}_name"] = _vocab_names(frame[col], table)
            frame["escalation"] = _escalation(frame, now=ctx.now, policy=policy)
            frame["escalation_name"] = frame["escalation"].map(_LEVEL_NAMES)
            lon = frame["lon"].to_numpy(dtype=float)
            lat = frame["lat"].to_numpy(dtype=float)
            points = np.asarray(shapely.points(lon, lat), dtype=object)
            yield from split(frame.reset_index(drop=True), points, ctx.chunk_rows)

    return LayerData("requests", schema, chunks(), total, "Point", csv_geometry=False)


def _escalation(frame: pd.DataFrame, *, now: datetime,
                policy: deadlines.DeadlinePolicy) -> pd.Series:
    """Each request's escalation level name at ``now``; None for those closed by then."""
    resolved = pd.to_datetime(frame["resolved_at"])
    closed = ((resolved.notna() & (resolved < now))
              | (resolved.isna() & frame["status"].isin(sorted(vocab.CLOSED_STATUSES))))
    level = deadlines.escalation_levels(frame["reported_at"], frame["due_at"], now=now,
                                        policy=policy)
    names = pd.Series(np.array(deadlines.LEVELS, dtype=object)[level.to_numpy()],
                      index=frame.index, dtype=object)
    return names.where(~closed.to_numpy(), None)


_STATION_SCHEMA = [
    ("code", "str"), ("name", "str"), ("kind", "str"), ("kind_name", "str"),
    ("lon", "float"), ("lat", "float"), ("grid_code", "str"), ("officers", "int"),
    ("radius_override_m", "float"), ("coverage_radius_m", "float"), ("address", "str"),
    ("source_crs", "str"),
]


def _stations_in_area(ctx: Context) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """All stations (with ``grid_code``) and those standing in the area's grids."""
    stations = store_requests.read_stations(ctx.engine)
    if len(stations):
        index = GridIndex(store_requests.read_grids(ctx.engine))
        stations["grid_code"] = index.assign(stations["lon"].to_numpy(dtype=float),
                                             stations["lat"].to_numpy(dtype=float))
    else:
        stations["grid_code"] = pd.Series(dtype=object)
    keep = (stations["grid_code"].isin(ctx.area.grids) if ctx.area.grids is not None
            else pd.Series(True, index=stations.index))
    inside = stations[keep.to_numpy()].sort_values("code").reset_index(drop=True)
    return stations, inside


def _station_frame(stations: gpd.GeoDataFrame, radii: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(stations.drop(columns=stations.geometry.name))
    frame["kind_name"] = _vocab_names(frame["kind"], vocab.STATION_KINDS)
    frame["radius_override_m"] = frame["radius_m"]
    frame["coverage_radius_m"] = radii
    return frame


def _station_radii(stations: gpd.GeoDataFrame) -> np.ndarray:
    if not len(stations):
        return np.empty(0)
    return coverage.coverage_areas(stations)["radius_m"].to_numpy(dtype=float)


def _stations_layer(ctx: Context) -> LayerData:
    _, inside = _stations_in_area(ctx)
    frame = _station_frame(inside, _station_radii(inside))
    geoms = inside.geometry.to_numpy()
    return LayerData("stations", _STATION_SCHEMA, split(frame, geoms, ctx.chunk_rows),
                     len(frame), "Point", csv_geometry=False)


def _coverage_areas_layer(ctx: Context) -> LayerData:
    _, inside = _stations_in_area(ctx)
    if len(inside):
        discs = coverage.coverage_areas(inside)
        radii, geoms = discs["radius_m"].to_numpy(dtype=float), _multi(discs.geometry)
    else:
        radii, geoms = np.empty(0), np.empty(0, dtype=object)
    frame = _station_frame(inside, radii)
    return LayerData("coverage_areas", _STATION_SCHEMA, split(frame, geoms, ctx.chunk_rows),
                     len(frame), "MultiPolygon")


_COVERAGE_SCHEMA = _ADMIN_SCHEMA + [
    ("area_km2", "float"), ("covered_km2", "float"), ("covered_share", "float"),
    ("covered_population", "float"), ("uncovered_population", "float"),
    ("uncovered", "bool"), ("nearest_station_code", "str"), ("nearest_station_name", "str"),
    ("nearest_station_kind", "str"), ("nearest_station_m", "float"),
    ("requests", "int"), ("covered_requests", "float"), ("uncovered_requests", "float"),
]


def _coverage_layer(ctx: Context) -> LayerData:
    ctx.report(0.02, "计算警务覆盖")
    stations, _ = _stations_in_area(ctx)
    grids = _area_grids(ctx)
    requests = _read_requests(ctx, since=ctx.since, until=ctx.until or ctx.now,
                              columns=["lon", "lat", "grid_code"])
    per_grid = coverage.station_coverage(stations, grids, requests=requests)
    codes = pd.Index(per_grid["code"])
    frame = _admin_columns(codes, ctx.hierarchy)
    for col, _ in _COVERAGE_SCHEMA[len(_ADMIN_SCHEMA):]:
        frame[col] = per_grid[col].to_numpy()
    geoms = _multi(per_grid.geometry.to_numpy())
    return LayerData("coverage", _COVERAGE_SCHEMA, split(frame, geoms, ctx.chunk_rows),
                     len(frame), "MultiPolygon")


_HOTSPOT_SCHEMA = _ADMIN_SCHEMA + [
    ("disputes", "int"), ("gi_z", "float"), ("gi_p", "float"), ("gi_bin", "int"),
    ("gi_class", "str"), ("gi_class_name", "str"), ("neighbours", "int"),
    ("island", "bool"), ("excluded", "bool"),
    # The definition used (geo.hotspots.DEFAULT), so a file says how it was made.
    ("weights", "str"), ("distance_m", "float"), ("p_value", "str"), ("fdr", "bool"),
    ("measure", "str"),
    ("window_since", "datetime"), ("window_until", "datetime"), ("window_days", "float"),
]

_SCAN_SCHEMA = [
    ("cluster", "int"), ("centre", "str"), ("grids", "int"), ("codes", "str"),
    ("radius_m", "float"), ("disputes", "int"), ("expected", "float"),
    ("relative_risk", "float"), ("llr", "float"), ("p_value", "float"), ("found", "bool"),
    # How the clusters were found (geo.hotspots.DEFAULT), so a file says how it was made.
    ("method", "str"), ("max_share", "float"), ("replicates", "int"), ("alpha", "float"),
    ("window_since", "datetime"), ("window_until", "datetime"), ("window_days", "float"),
]

#: Gi* bins as class codes and Chinese names.
GI_CLASSES = {
    3: ("hot_99", "热点（99%置信度）"), 2: ("hot_95", "热点（95%置信度）"),
    1: ("hot_90", "热点（90%置信度）"), 0: ("not_significant", "不显著"),
    -1: ("cold_90", "冷点（90%置信度）"), -2: ("cold_95", "冷点（95%置信度）"),
    -3: ("cold_99", "冷点（99%置信度）"),
}


def _dispute_counts(ctx: Context
                    ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, hotspots.HotspotDefinition,
                               datetime]:
    """Return the grids, the window's counts per grid, the definition and the window's end."""
    definition = hotspots.DEFAULT
    until = ctx.until or definition.window_end(ctx.now)
    counts = store_counts.request_counts_per_grid(ctx.engine, since=ctx.since, until=until)
    return store_requests.read_grids(ctx.engine), counts, definition, until


def _hotspots_layer(ctx: Context) -> LayerData:
    ctx.report(0.02, "计算矛盾纠纷热点")
    grids, counts, definition, until = _dispute_counts(ctx)
    if len(grids):
        spots = definition.hotspots(grids[["code", "population", "geometry"]],
                                    counts[["grid_code", "disputes"]])
    else:
        spots = gpd.GeoDataFrame({"code": pd.Series(dtype=object)},
                                 geometry=gpd.GeoSeries([], crs=store_schema.SRID))
    if ctx.area.grids is not None:
        spots = spots[spots["code"].isin(ctx.area.grids)]
    spots = spots.sort_values("code").reset_index(drop=True)
    codes = pd.Index(spots["code"])
    frame = _admin_columns(codes, ctx.hierarchy)
    for col in ("disputes", "gi_z", "gi_p", "gi_bin", "neighbours", "island", "excluded"):
        frame[col] = spots[col].to_numpy() if col in spots else np.nan
    bins = pd.Series(frame["gi_bin"].to_numpy(), index=frame.index)
    frame["gi_class"] = bins.map({b: c for b, (c, _) in GI_CLASSES.items()})
    frame["gi_class_name"] = bins.map({b: n for b, (_, n) in GI_CLASSES.items()})
    for key, value in definition.properties(ctx.since, until).items():
        frame[key] = value
    geoms = _multi(spots.geometry.to_numpy())
    return LayerData("hotspots", _HOTSPOT_SCHEMA, split(frame, geoms, ctx.chunk_rows),
                     len(frame), "MultiPolygon")


def _scan_layer(ctx: Context) -> LayerData:
    ctx.report(0.02, "扫描统计：矛盾纠纷聚集区")
    grids, counts, definition, until = _dispute_counts(ctx)
    found = definition.scan(grids[["code", "population", "geometry"]],
                            counts[["grid_code", "disputes"]]) if len(grids) else None
    frame = (pd.DataFrame(found.drop(columns="geometry")) if found is not None
             else pd.DataFrame(columns=[c for c, _ in _SCAN_SCHEMA[:11]]))
    geoms = found.geometry.to_numpy() if found is not None else np.array([], dtype=object)
    if ctx.area.grids is not None and len(frame):
        # A cluster is the reader's when its centre grid is in the reader's area.
        keep = frame["centre"].isin(ctx.area.grids).to_numpy()
        frame, geoms = frame[keep].reset_index(drop=True), geoms[keep]
    frame["method"] = "kulldorff_poisson_circular"
    frame["max_share"] = definition.scan_share
    frame["replicates"] = definition.scan_replicates
    frame["alpha"] = definition.scan_alpha
    props = definition.properties(ctx.since, until)
    for key in ("window_since", "window_until", "window_days"):
        frame[key] = props[key]
    return LayerData("scan_clusters", _SCAN_SCHEMA, split(frame, _multi(geoms), ctx.chunk_rows),
                     len(frame), "MultiPolygon")


_CLAIM_SCHEMA = _ADMIN_SCHEMA + [
    ("claimable", "int"), ("claimed", "int"), ("claim_rate", "float"),
    ("median_hours_to_claim", "float"),
]


def _claims_layer(ctx: Context) -> LayerData:
    """Market and charity requests reported in the window per grid: claimed, rate, time."""
    ctx.report(0.02, "计算解忧联盟认领")
    grids = _area_grids(ctx)
    rates = alliance.claim_rates(ctx.engine, since=ctx.since, until=ctx.until or ctx.now,
                                 grid_codes=_in_clause(ctx.area.grids))
    codes = pd.Index(grids["code"])
    frame = _admin_columns(codes, ctx.hierarchy)
    per_grid = rates.reindex(codes)
    frame["claimable"] = per_grid["claimable"].fillna(0).astype("int64").to_numpy()
    frame["claimed"] = per_grid["claimed"].fillna(0).astype("int64").to_numpy()
    frame["claim_rate"] = per_grid["claim_rate"].to_numpy(dtype=float)
    frame["median_hours_to_claim"] = per_grid["median_hours"].to_numpy(dtype=float)
    geoms = _multi(grids.geometry.to_numpy())
    return LayerData("claims", _CLAIM_SCHEMA, split(frame, geoms, ctx.chunk_rows), len(frame),
                     "MultiPolygon")


_BULLETIN_SCHEMA = [
    ("month", "str"), ("level", "str"), ("level_name", "str"), ("rank", "int"),
    ("code", "str"), ("name", "str"), ("parent_code", "str"), ("population", "int"),
    ("requests", "int"), ("sample", "int"), ("small_sample", "bool"), ("score", "float"),
    ("rank_prev", "int"), ("rank_change", "int"), ("best_indicator", "str"),
    ("best_indicator_name", "str"), ("worst_indicator", "str"), ("worst_indicator_name", "str"),
] + [(n, "float") for n in bulletin.INDICATORS] + [
    (f"{n}_score", "float") for n in bulletin.INDICATORS] + [
    (c, "int") for c in bulletin.ESCALATIONS]


def _bulletin_month(ctx: Context, month: str | None) -> pd.Period:
    if month is not None:
        text = str(month).strip()
        if not re.fullmatch(r"\d{4}-\d{2}", text) or not 1 <= int(text[5:]) <= 12:
            raise ValueError(f"bad month {month!r}: expected YYYY-MM, e.g. 2026-10")
        return pd.Period(text, freq="M")
    if ctx.since is not None:
        return clock.local_month(ctx.since)
    return clock.local_month(ctx.now) - 1


def bulletin_layer(ctx: Context, *, month: str | None, level: str | None
                   ) -> tuple[LayerData, datetime, datetime]:
    """Build the bulletin layer and return it with its month's bounds (naive UTC).

    Raises
    ------
    ValueError
        A bad ``month`` or ``level``, or an area that is a grid.

    """
    if level is not None and level not in bulletin.BULLETIN_LEVELS:
        raise ValueError(f"level must be one of {', '.join(bulletin.BULLETIN_LEVELS)}, "
                         f"not {level!r}")
    if ctx.area.level == "grid":
        raise ValueError(f"the bulletin ranks admin units; {ctx.area.code!r} is a grid: give "
                         "its community, township or county code")
    period, since, until = bulletin.month_window(_bulletin_month(ctx, month))
    ctx.report(0.02, f"计算{period.year}年{period.month}月通报")
    levels = [level] if level else list(bulletin.BULLETIN_LEVELS)
    ranked = bulletin.monthly_bulletin(ctx.engine, month=period, levels=levels, now=ctx.now)
    tables = []
    for lv, table in ranked.rankings.items():
        table = table.copy()
        table.insert(0, "level", lv)
        tables.append(table)
    frame = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    frame["month"] = str(period)
    frame["level_name"] = frame["level"].map(bulletin.BULLETIN_LEVELS)
    for side in ("best", "worst"):
        frame[f"{side}_indicator_name"] = frame[f"{side}_indicator"].map(
            {n: zh for n, (zh, _) in bulletin.INDICATORS.items()})
    if ctx.area.code is not None:
        frame = frame[_units_within(frame["code"], ctx.area.code, ctx.hierarchy)]
    frame = frame.reset_index(drop=True)
    geoms = _multi(_unit_geometries(ctx, frame))
    data = LayerData("bulletin", _BULLETIN_SCHEMA, split(frame, geoms, ctx.chunk_rows),
                     len(frame), "MultiPolygon", csv_geometry=False)
    return data, since, until


def _units_within(codes: pd.Series, area: str, hierarchy: heat.UnitHierarchy) -> np.ndarray:
    """Say which units are ``area`` or lie under it, following parent codes."""
    parents = hierarchy.units["parent_code"]
    parent = parents[~parents.index.duplicated()].dropna().to_dict()

    def within(code: str) -> bool:
        for _ in range(8):  # a malformed parent loop must not hang
            if code == area:
                return True
            up = parent.get(code)
            if up is None:
                return False
            code = up
        return False

    return np.array([within(c) for c in codes], dtype=bool)


def _unit_geometries(ctx: Context, frame: pd.DataFrame) -> list:
    """Each unit's stored outline, else the union of its grids (None with neither)."""
    if not len(frame):
        return []
    stored = store_requests.read_admin_units(ctx.engine)
    outline = dict(zip(stored["code"], stored.geometry, strict=True))
    geoms = [outline.get(code) for code in frame["code"]]
    lacking = [i for i, g in enumerate(geoms) if g is None or g.is_empty]
    if lacking:
        grids = store_requests.read_grids(ctx.engine)[["code", "geometry"]].set_index("code")
        of = ctx.hierarchy.grids
        for i in lacking:
            lv, code = frame.at[i, "level"], frame.at[i, "code"]
            members = of.index[(of[lv] == code).to_numpy()]
            parts = np.asarray(grids.geometry.reindex(members).dropna(), dtype=object)
            geoms[i] = shapely.union_all(parts) if len(parts) else None
    return geoms


BUILDERS: dict[str, Callable[[Context], LayerData]] = {
    "grids": _grids_layer,
    "requests": _requests_layer,
    "stations": _stations_layer,
    "coverage": _coverage_layer,
    "coverage_areas": _coverage_areas_layer,
    "hotspots": _hotspots_layer,
    "scan_clusters": _scan_layer,
    "claims": _claims_layer,
}

