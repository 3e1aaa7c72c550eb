"""Export layers for planners: GeoJSON (RFC 7946), GeoPackage and CSV.

One implementation behind ``gridmap export`` and the 数据导出 page. :func:`export_layer`
writes one layer, for an area and a time window, to a path or a file-like object;
:func:`export_layers` lists the layers, their Chinese and English names and their formats.

Layers
------
=============== ==================== ========== =================================================
layer           name                 geometry   one row per
=============== ==================== ========== =================================================
grids           网格                 polygon    grid: codes and names of the grid and its
                                                community, township and county, population and
                                                the window's figures (:func:`geo.heat.grid_kpis`)
requests        诉求                 point      request reported in the window
stations        警务站点             point      police station, post or room, with the grid it
                                                stands in and its effective coverage radius
coverage        警务覆盖（按网格）   polygon    grid: covered share and population, nearest
                                                station, the window's requests covered
                                                (:func:`geo.coverage.station_coverage`)
coverage_areas  警务覆盖范围         polygon    station: its coverage disc
                                                (:func:`geo.coverage.coverage_areas`)
hotspots        矛盾纠纷热点         polygon    grid: Gi* z, p and class of the window's
                                                disputes (:func:`geo.hotspots.dispute_hotspots`)
bulletin        月度通报             polygon    county, township and community: the month's
                                                governance index, rank and indicators
                                                (:func:`geo.bulletin.monthly_bulletin`)
=============== ==================== ========== =================================================

Every layer can be written in every format. The bulletin is a ranking of admin units, so
its GeoJSON and GeoPackage carry each unit's polygon (the stored outline, else the union of
its grids) and its CSV is the plain ranking table, without geometry. All three levels go
into one layer with a ``level`` column (filter on it in QGIS for a choropleth of one level),
unless ``level`` picks one.

Formats
-------
GeoJSON
    RFC 7946: one FeatureCollection in WGS84 lon/lat with no ``crs`` member; polygon exterior
    rings counterclockwise and holes clockwise; coordinates rounded to 6 decimals (about
    0.1 m); UTF-8 with Chinese written as is. Missing values are ``null`` (never ``NaN``,
    which is not JSON). Features are written one per line, chunk by chunk, as they are read.
GeoPackage
    One layer per kind, named after it (``grids``, ``requests`` …), EPSG:4326, field names
    in English snake_case. Writing into an existing .gpkg adds that layer, or replaces a
    layer of the same name, and keeps the others. Coordinates keep full precision.
CSV
    UTF-8 with a byte-order mark, so Excel shows the Chinese; RFC 4180 quoting, CRLF line
    ends. Point layers carry ``lon``/``lat`` columns. Polygon layers end with a ``wkt``
    column (6 decimals, rings oriented as in GeoJSON) that QGIS reads with Layer → Add
    Delimited Text → Well known text; Excel cuts a cell at 32,767 characters, so very
    detailed polygons belong in a GeoPackage. The bulletin's CSV has no geometry.

    Codes are written as plain digits, with nothing added, so QGIS and pandas read them
    unchanged. Excel shows a 12- or 15-digit code in scientific notation when it opens the
    file directly: import it with Data → From Text/CSV and set the code columns to Text.
    A text cell that Excel would run as a formula (one starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return) gets a leading apostrophe, as OWASP advises against
    CSV injection. GeoJSON and GeoPackage carry every text unchanged.

Values
------
Rates are fractions in [0, 1], as in :mod:`geo.heat`. Times are ISO 8601 in Asia/Shanghai
time with their offset (``2026-11-01T10:00:00+08:00``) in GeoJSON and CSV; GeoPackage
datetime fields hold UTC, as the GeoPackage standard requires (QGIS shows their zone).
Vocabulary codes (category, severity …) are accompanied by their Chinese names in
``<field>_name`` columns.

Personal data
-------------
Nothing personal goes out unless ``personal=True``, which DESIGN §8 reserves for admins:

* requests: ``reporter_name``, ``reporter_phone``;
* grids: ``head_name``, ``head_phone`` (the grid head's name and mobile number identify a
  person too, though both are often posted on the grid's notice board).

Descriptions and addresses are residents' own words. They are exported as data: escaped by
the JSON encoder, quoted by the CSV writer, stored as text in the GeoPackage; nothing here
interprets them (see the CSV note on formulas).

Area and window
---------------
``area`` is a grid code or an admin unit code of any level (community 12 digits, township 9,
county 6, city); see :func:`resolve_area`. Grid layers keep the area's grids, requests the
ones assigned to them, stations the ones standing in them. Coverage and hot spots are
computed over the whole city and then cut to the area, so a grid's figures do not depend
on the area chosen (every station covers wherever its disc reaches; Gi* needs the grid's
neighbours, inside the area or not). Without an area, requests outside every grid are
exported too. The bulletin keeps the area's unit and the units under it.

The window ``[since, until)`` is naive UTC on ``reported_at``. No ``since``: from the first
request; no ``until``: up to now (the requests layer: with no upper bound).
:func:`local_days_window` turns Asia/Shanghai calendar days into such a window. Stations
and coverage areas ignore the window. The bulletin covers one calendar month: ``month``,
else the month holding ``since``, else the last complete month.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from geo import bulletin, coverage, heat, hotspots, store, vocab
from geo.access import AccessDenied, Scope
from geo.grids import GridIndex

__all__ = [
    "CHUNK_ROWS",
    "FORMATS",
    "LAYERS",
    "PERSONAL_FIELDS",
    "Area",
    "ExportResult",
    "FormatInfo",
    "LayerInfo",
    "default_filename",
    "export_layer",
    "export_layers",
    "local_days_window",
    "resolve_area",
]

Progress = Callable[[float, str], None]

#: Rows read and written per chunk: bounds memory and paces progress reports.
CHUNK_ROWS = 50_000
#: Decimals of GeoJSON and WKT coordinates (1e-6° is about 0.1 m).
DECIMALS = 6


@dataclass(frozen=True)
class FormatInfo:
    """One output format.

    Attributes
    ----------
    key : str
        ``geojson``, ``gpkg`` or ``csv``.
    name : str
        What users call it.
    extension : str
        File name extension, with the dot.
    media_type : str
        MIME type, e.g. for a download button.

    """

    key: str
    name: str
    extension: str
    media_type: str


FORMATS: dict[str, FormatInfo] = {
    "geojson": FormatInfo("geojson", "GeoJSON", ".geojson", "application/geo+json"),
    "gpkg": FormatInfo("gpkg", "GeoPackage", ".gpkg", "application/geopackage+sqlite3"),
    "csv": FormatInfo("csv", "CSV", ".csv", "text/csv"),
}


@dataclass(frozen=True)
class LayerInfo:
    """One exportable layer.

    Attributes
    ----------
    key : str
        Identifier, also the GeoPackage layer name.
    name_zh, name_en : str
        Display names.
    geometry : {"polygon", "point"}
        Geometry of its features.
    formats : tuple of str
        Keys of :data:`FORMATS` it can be written in.
    window : {"reported", "month", None}
        What ``since``/``until`` select: requests by report time, a bulletin month, or
        nothing.
    personal_fields : tuple of str
        Fields written only with ``personal=True``.

    """

    key: str
    name_zh: str
    name_en: str
    geometry: str
    formats: tuple[str, ...]
    window: str | None
    personal_fields: tuple[str, ...] = ()


_ALL = tuple(FORMATS)

#: Fields exported only on an admin's explicit request (DESIGN §8).
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "grids": ("head_name", "head_phone"),
    "requests": ("reporter_name", "reporter_phone"),
}

LAYERS: dict[str, LayerInfo] = {info.key: info for info in (
    LayerInfo("grids", "网格", "Grids", "polygon", _ALL, "reported", PERSONAL_FIELDS["grids"]),
    LayerInfo("requests", "诉求", "Requests", "point", _ALL, "reported",
              PERSONAL_FIELDS["requests"]),
    LayerInfo("stations", "警务站点", "Police stations", "point", _ALL, None),
    LayerInfo("coverage", "警务覆盖（按网格）", "Police coverage per grid", "polygon", _ALL,
              "reported"),
    LayerInfo("coverage_areas", "警务覆盖范围", "Station coverage areas", "polygon", _ALL, None),
    LayerInfo("hotspots", "矛盾纠纷热点", "Dispute hotspots", "polygon", _ALL, "reported"),
    LayerInfo("bulletin", "月度通报", "Monthly bulletin", "polygon", _ALL, "month"),
)}


def export_layers() -> list[LayerInfo]:
    """Return the exportable layers in display order (see the module docstring)."""
    return list(LAYERS.values())


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_layer` wrote.

    Attributes
    ----------
    rows : int
        Features (or CSV rows) written.
    path : str or None
        The file written; None for a file-like object.
    format, layer : str
        Keys of :data:`FORMATS` and :data:`LAYERS`.
    seconds : float
        Wall time of the whole export.
    area : str or None
        The area code, None for everything.
    since, until : datetime or None
        The window used (naive UTC); for the bulletin, its month's bounds.
    columns : tuple of str
        The attribute fields, in order (without the geometry).

    """

    rows: int
    path: str | None
    format: str
    layer: str
    seconds: float
    area: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    columns: tuple[str, ...] = field(default=())


class Area(NamedTuple):
    """An export area resolved against the stored grids and admin units.

    Attributes
    ----------
    code : str or None
        The code given; None for everything.
    level : str
        ``"all"``, ``"grid"`` or the admin level of the unit.
    name : str or None
        The grid's or unit's name.
    grids : pandas.Index or None
        Codes of the grids in the area; None when nothing is left out (no area, or the
        only city), so requests outside every grid still count.

    """

    code: str | None
    level: str
    name: str | None
    grids: pd.Index | None


# --------------------------------------------------------------------------- public helpers


def local_days_window(first_day: date | None, last_day: date | None
                      ) -> tuple[datetime | None, datetime | None]:
    """Return the naive UTC window covering Asia/Shanghai calendar days, both included.

    Parameters
    ----------
    first_day, last_day : datetime.date or None
        The first and the last local day of the window; None leaves that end open.

    Returns
    -------
    tuple of (datetime or None, datetime or None)
        ``since`` = local midnight starting ``first_day``, ``until`` = local midnight ending
        ``last_day``, both in naive UTC.

    Raises
    ------
    ValueError
        ``last_day`` is before ``first_day``.

    """
    if first_day is not None and last_day is not None and last_day < first_day:
        raise ValueError(f"the window's last day {last_day} is before its first day "
                         f"{first_day}")

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day) - heat.LOCAL_UTC_OFFSET

    since = midnight(first_day) if first_day is not None else None
    until = midnight(last_day) + timedelta(days=1) if last_day is not None else None
    return since, until


def resolve_area(engine: Engine, area: str | None, *,
                 hierarchy: heat.UnitHierarchy | None = None) -> Area:
    """Resolve an area code to the grids it holds.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to look the code up.
    area : str or None
        A grid code (15 digits) or an admin unit code: community (12 digits), township (9),
        county (6) or city. Units missing from ``admin_unit`` are still known by the code
        prefixes of the grids (see :func:`geo.heat.unit_hierarchy`). None or blank: all.
    hierarchy : geo.heat.UnitHierarchy, optional
        Reuse an already read hierarchy.

    Returns
    -------
    Area

    Raises
    ------
    ValueError
        No grid or admin unit has this code.

    """
    if area is None or not str(area).strip():
        return Area(None, "all", None, None)
    code = str(area).strip()
    grids, units = hierarchy or heat.unit_hierarchy(engine)
    if code in grids.index:
        return Area(code, "grid", _text(grids.at[code, "name"]), pd.Index([code]))
    if code not in units.index:
        raise ValueError(f"unknown area {code!r}: no grid or admin unit (city, county, "
                         "township or community) has this code")
    level = str(units.at[code, "level"])
    if level not in heat.PREFIX_LENGTH:
        raise ValueError(f"admin unit {code!r} has an unknown level {level!r}")
    name = _text(units.at[code, "name"])
    if level == "city" and int((units["level"] == "city").sum()) == 1:
        return Area(code, level, name, None)
    return Area(code, level, name, pd.Index(grids.index[(grids[level] == code).to_numpy()]))


def default_filename(layer: str, fmt: str, *, area: str | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     month: str | None = None) -> str:
    """Return a descriptive file name, e.g. ``gridmap_grids_430903_20261101-20261130.gpkg``.

    Days are Asia/Shanghai days, the last one included, as in :func:`local_days_window`.
    """
    parts = ["gridmap", layer]
    if area:
        parts.append(str(area).strip())
    if month:
        parts.append(str(month).replace("-", ""))
    elif since is not None or until is not None:
        first = _local_day(since).strftime("%Y%m%d") if since is not None else ""
        last = (_local_day(until - timedelta(microseconds=1)).strftime("%Y%m%d")
                if until is not None else "")
        parts.append(f"{first}-{last}")
    return "_".join(parts) + FORMATS[_check_format(LAYERS[layer], fmt)].extension


# --------------------------------------------------------------------------- entry point


def export_layer(
    engine: Engine, *, layer: str, fmt: str, path_or_buffer: str | os.PathLike | IO,
    area: str | None = None, since: datetime | None = None, until: datetime | None = None,
    personal: bool = False, progress: Progress | None = None, month: str | None = None,
    level: str | None = None, now: datetime | None = None, chunk_rows: int = CHUNK_ROWS,
    scope: Scope | None = None,
) -> ExportResult:
    """Write one layer for an area and a window as GeoJSON, GeoPackage or CSV.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    layer : str
        A key of :data:`LAYERS`: grids, requests, stations, coverage, coverage_areas,
        hotspots or bulletin.
    fmt : {"geojson", "gpkg", "csv"}
        Output format (see the module docstring).
    path_or_buffer : str, os.PathLike or file-like
        A file path, or a binary (or, for GeoJSON and CSV, text) file-like object such as
        ``io.BytesIO``. A path is written to a temporary file beside it and renamed when
        complete, so a failed export leaves any earlier file intact. An existing GeoPackage
        (a path, or a BytesIO holding one) keeps its other layers.
    area : str, optional
        A grid or admin unit code (see :func:`resolve_area`); default everything.
    since, until : datetime, optional
        The window ``[since, until)`` on report time, naive UTC (aware values are
        converted); see :func:`local_days_window` for calendar days.
    personal : bool
        Include :data:`PERSONAL_FIELDS` (admins only, DESIGN §8).
    progress : callable, optional
        ``progress(fraction, message)``, called as the layer is computed and as each chunk
        is written.
    month : str, optional
        The bulletin's Asia/Shanghai month, ``"YYYY-MM"``; only for ``layer="bulletin"``.
    level : {"county", "township", "community"}, optional
        Only this level of the bulletin; default all three.
    now : datetime, optional
        The current moment (naive UTC), for figures of a window that ends in the future;
        default the clock.
    chunk_rows : int
        Rows per chunk read and written.
    scope : geo.access.Scope, optional
        Who exports: a role that may not export, ``personal`` for anyone but an admin, or
        an area outside the scope is refused, and only grids inside it are written.
        None: the command line's unrestricted export.

    Returns
    -------
    ExportResult

    Raises
    ------
    ValueError
        An unknown layer or format, an unknown area, an empty or reversed window, or an
        option that does not apply to the layer.
    TypeError
        ``since`` or ``until`` is a date rather than a datetime.
    OSError
        The path cannot be written (checked before anything is computed).
    geo.access.AccessDenied
        The scope may not export, may not see personal fields, or does not cover ``area``.

    """
    start = time.perf_counter()
    if scope is not None:
        if not scope.may_export:
            raise AccessDenied(f"role {scope.role} may not export")
        if personal and scope.personal != "all":
            raise AccessDenied("only an admin may export personal fields")
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    info = LAYERS[layer]
    fmt = _check_format(info, fmt)
    since, until = _check_window(since, until)
    now = (heat.to_naive_utc(now) if now is not None
           else pd.Timestamp.now("UTC").tz_localize(None).to_pydatetime())
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    if layer != "bulletin" and (month is not None or level is not None):
        raise ValueError("month and level apply to the bulletin layer only")
    report = _Reporter(progress, info)
    target = _Target(path_or_buffer, fmt)
    try:
        report(0.0, "读取数据")
        full = heat.unit_hierarchy(engine)
        if area is not None and str(area).strip():
            heat.check_area(full, str(area).strip(), scope)
        hierarchy = heat.within(full, scope)
        where = resolve_area(engine, area, hierarchy=full)
        if scope is not None and not scope.everywhere:
            inside = hierarchy.grids.index
            where = where._replace(grids=inside if where.grids is None
                                   else where.grids.intersection(inside))
        ctx = _Context(engine=engine, area=where, hierarchy=hierarchy, since=since,
                       until=until, now=now, personal=personal, chunk_rows=chunk_rows,
                       report=report)
        if layer == "bulletin":
            data, since, until = _bulletin_layer(ctx, month=month, level=level)
        else:
            data = _BUILDERS[layer](ctx)
        rows = _WRITERS[fmt](data, target, report)
        target.commit()
    except BaseException:
        target.abort()
        raise
    report(1.0, f"完成：{rows:,} 行")
    return ExportResult(rows=rows, path=target.name, format=fmt, layer=layer,
                        seconds=time.perf_counter() - start, area=where.code, since=since,
                        until=until, columns=tuple(c for c, _ in data.schema))


# --------------------------------------------------------------------------- validation


def _check_format(info: LayerInfo, fmt: str) -> str:
    key = str(fmt).strip().lower().lstrip(".")
    key = {"json": "geojson", "geopackage": "gpkg"}.get(key, key)
    if key not in info.formats:
        raise ValueError(f"layer {info.key!r} cannot be exported as {fmt!r}; "
                         f"choose {', '.join(info.formats)}")
    return key


def _check_window(since, until) -> tuple[datetime | None, datetime | None]:
    def convert(value, name):
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            raise TypeError(f"{name} must be a datetime (naive UTC), not a date; use "
                            "local_days_window() for calendar days")
        return heat.to_naive_utc(value)

    since, until = convert(since, "since"), convert(until, "until")
    if since is not None and until is not None and not since < until:
        raise ValueError(f"empty or reversed window: since {since} is not before until {until}")
    return since, until


# --------------------------------------------------------------------------- layer data


@dataclass
class _Context:
    engine: Engine
    area: Area
    hierarchy: heat.UnitHierarchy
    since: datetime | None
    until: datetime | None
    now: datetime
    personal: bool
    chunk_rows: int
    report: _Reporter


@dataclass
class _LayerData:
    """A layer ready to write: its schema and its rows, chunk by chunk.

    ``schema`` lists (field, kind) with kind one of str, int, float, bool, datetime
    (naive UTC). ``chunks`` yields (attributes, geometries) with geometries in EPSG:4326
    (an object array, None where missing). ``total`` is the expected row count, for
    progress. ``geometry_type`` is the GeoPackage layer's; ``csv_geometry`` says whether
    the CSV gets a ``wkt`` column (not for points, which have lon/lat, nor the bulletin).
    """

    key: str
    schema: list[tuple[str, str]]
    chunks: Iterable[tuple[pd.DataFrame, np.ndarray]]
    total: int
    geometry_type: str
    csv_geometry: bool = True


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

_VOCABS = {
    "source": vocab.SOURCES, "category": vocab.CATEGORIES, "severity": vocab.SEVERITIES,
    "route": vocab.ROUTES, "status": vocab.STATUSES, "satisfaction": vocab.SATISFACTION,
}


def _vocab_names(codes: pd.Series, table: dict) -> pd.Series:
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


def _in_clause_ok(codes: pd.Index | None) -> bool:
    # SQLite allows 32,766 bound parameters; beyond a few thousand codes an IN list costs
    # more than reading the rows and filtering them here.
    return codes is not None and len(codes) <= 5000


def _area_grids(ctx: _Context) -> gpd.GeoDataFrame:
    """Read the area's grids, all columns, ordered by code."""
    codes = ctx.area.grids
    grids = store.read_grids(ctx.engine, codes=list(codes) if _in_clause_ok(codes) else None,
                             personal=ctx.personal)
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


def _split(frame: pd.DataFrame, geoms: np.ndarray, rows: int
           ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    for begin in range(0, len(frame), rows):
        yield frame.iloc[begin:begin + rows], geoms[begin:begin + rows]


def _grids_layer(ctx: _Context) -> _LayerData:
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
    return _LayerData("grids", schema, _split(frame, geoms, ctx.chunk_rows), len(frame),
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
]

#: Bounds standing in for an open window end when planning chunks by day.
_EARLIEST, _LATEST = datetime(1900, 1, 1), datetime(2200, 1, 1)


def _request_where(ctx: _Context) -> dict[str, object]:
    return heat.area_filter(ctx.engine, ctx.area.code) if ctx.area.code else {}


def _plan_request_chunks(ctx: _Context) -> tuple[list[tuple[datetime | None, datetime | None]],
                                                 int]:
    """Cut the window into time slices of about ``chunk_rows`` requests, at local days.

    The slices partition ``[since, until)`` exactly (each ends where the next begins), so
    every request is read once, in report order, whatever its time.
    """
    days = store.request_counts_per_local_period(
        ctx.engine, since=ctx.since or _EARLIEST, until=ctx.until or _LATEST, freq="D",
        **_request_where(ctx))
    starts = [(pd.Timestamp(p) - heat.LOCAL_UTC_OFFSET).to_pydatetime() for p in days["period"]]
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


def _read_requests(ctx: _Context, *, since, until, columns: list[str]) -> pd.DataFrame:
    codes = ctx.area.grids
    frame = store.read_requests(ctx.engine, since=since, until=until, columns=columns,
                                grid_codes=list(codes) if _in_clause_ok(codes) else None)
    if codes is not None and not _in_clause_ok(codes):
        frame = frame[frame["grid_code"].isin(codes)]
    return frame


def _requests_layer(ctx: _Context) -> _LayerData:
    personal = list(PERSONAL_FIELDS["requests"]) if ctx.personal else []
    schema = _REQUEST_SCHEMA + [(c, "str") for c in personal]
    derived = {f"{col}_name" for col in _VOCABS}
    stored = [c for c, _ in schema if c not in derived]
    ctx.report(0.02, "统计诉求")
    bounds, total = _plan_request_chunks(ctx)

    def chunks() -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        for since, until in bounds:
            frame = _read_requests(ctx, since=since, until=until, columns=stored)
            for col, table in _VOCABS.items():
                frame[f"{col}_name"] = _vocab_names(frame[col], table)
            lon = frame["lon"].to_numpy(dtype=float)
            lat = frame["lat"].to_numpy(dtype=float)
            yield from _split(frame.reset_index(drop=True),
                              shapely.points(lon, lat).astype(object), ctx.chunk_rows)

    return _LayerData("requests", schema, chunks(), total, "Point", csv_geometry=False)


_STATION_SCHEMA = [
    ("code", "str"), ("name", "str"), ("kind", "str"), ("kind_name", "str"),
    ("lon", "float"), ("lat", "float"), ("grid_code", "str"), ("officers", "int"),
    ("radius_override_m", "float"), ("coverage_radius_m", "float"), ("address", "str"),
    ("source_crs", "str"),
]


def _stations_in_area(ctx: _Context) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """All stations (with ``grid_code``) and those standing in the area's grids."""
    stations = store.read_stations(ctx.engine)
    if len(stations):
        index = GridIndex(store.read_grids(ctx.engine))
        stations["grid_code"] = index.assign(stations["lon"], stations["lat"])
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


def _stations_layer(ctx: _Context) -> _LayerData:
    _, inside = _stations_in_area(ctx)
    frame = _station_frame(inside, _station_radii(inside))
    geoms = inside.geometry.to_numpy()
    return _LayerData("stations", _STATION_SCHEMA, _split(frame, geoms, ctx.chunk_rows),
                      len(frame), "Point", csv_geometry=False)


def _coverage_areas_layer(ctx: _Context) -> _LayerData:
    _, inside = _stations_in_area(ctx)
    if len(inside):
        discs = coverage.coverage_areas(inside)
        radii, geoms = discs["radius_m"].to_numpy(dtype=float), _multi(discs.geometry)
    else:
        radii, geoms = np.empty(0), np.empty(0, dtype=object)
    frame = _station_frame(inside, radii)
    return _LayerData("coverage_areas", _STATION_SCHEMA, _split(frame, geoms, ctx.chunk_rows),
                      len(frame), "MultiPolygon")


_COVERAGE_SCHEMA = _ADMIN_SCHEMA + [
    ("area_km2", "float"), ("covered_km2", "float"), ("covered_share", "float"),
    ("covered_population", "float"), ("uncovered_population", "float"),
    ("uncovered", "bool"), ("nearest_station_code", "str"), ("nearest_station_name", "str"),
    ("nearest_station_kind", "str"), ("nearest_station_m", "float"),
    ("requests", "int"), ("covered_requests", "float"), ("uncovered_requests", "float"),
]


def _coverage_layer(ctx: _Context) -> _LayerData:
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
    return _LayerData("coverage", _COVERAGE_SCHEMA, _split(frame, geoms, ctx.chunk_rows),
                      len(frame), "MultiPolygon")


_HOTSPOT_SCHEMA = _ADMIN_SCHEMA + [
    ("disputes", "int"), ("gi_z", "float"), ("gi_p", "float"), ("gi_bin", "int"),
    ("gi_class", "str"), ("gi_class_name", "str"), ("neighbours", "int"),
    ("island", "bool"), ("excluded", "bool"),
]

#: Gi* bins as class codes and Chinese names.
GI_CLASSES = {
    3: ("hot_99", "热点（99%置信度）"), 2: ("hot_95", "热点（95%置信度）"),
    1: ("hot_90", "热点（90%置信度）"), 0: ("not_significant", "不显著"),
    -1: ("cold_90", "冷点（90%置信度）"), -2: ("cold_95", "冷点（95%置信度）"),
    -3: ("cold_99", "冷点（99%置信度）"),
}


def _hotspots_layer(ctx: _Context) -> _LayerData:
    ctx.report(0.02, "计算矛盾纠纷热点")
    grids = store.read_grids(ctx.engine)
    counts = store.request_counts_per_grid(ctx.engine, since=ctx.since,
                                           until=ctx.until or ctx.now)
    if len(grids):
        spots = hotspots.dispute_hotspots(grids[["code", "population", "geometry"]],
                                          counts[["grid_code", "disputes"]])
    else:
        spots = gpd.GeoDataFrame({"code": pd.Series(dtype=object)},
                                 geometry=gpd.GeoSeries([], crs=store.SRID))
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
    geoms = _multi(spots.geometry.to_numpy())
    return _LayerData("hotspots", _HOTSPOT_SCHEMA, _split(frame, geoms, ctx.chunk_rows),
                      len(frame), "MultiPolygon")


_BULLETIN_SCHEMA = [
    ("month", "str"), ("level", "str"), ("level_name", "str"), ("rank", "int"),
    ("code", "str"), ("name", "str"), ("parent_code", "str"), ("population", "int"),
    ("requests", "int"), ("score", "float"), ("rank_prev", "int"), ("rank_change", "int"),
    ("best_indicator", "str"), ("best_indicator_name", "str"),
    ("worst_indicator", "str"), ("worst_indicator_name", "str"),
] + [(n, "float") for n in bulletin.INDICATORS] + [
    (f"{n}_score", "float") for n in bulletin.INDICATORS]


def _bulletin_month(ctx: _Context, month: str | None) -> pd.Period:
    if month is not None:
        text = str(month).strip()
        if not re.fullmatch(r"\d{4}-\d{2}", text) or not 1 <= int(text[5:]) <= 12:
            raise ValueError(f"bad month {month!r}: expected YYYY-MM, e.g. 2026-10")
        return pd.Period(text, freq="M")
    if ctx.since is not None:
        return pd.Period(_local_day(ctx.since), freq="M")
    return pd.Period(_local_day(ctx.now), freq="M") - 1


def _bulletin_layer(ctx: _Context, *, month: str | None, level: str | None
                    ) -> tuple[_LayerData, datetime, datetime]:
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
    data = _LayerData("bulletin", _BULLETIN_SCHEMA, _split(frame, geoms, ctx.chunk_rows),
                      len(frame), "MultiPolygon", csv_geometry=False)
    return data, since, until


def _units_within(codes: pd.Series, area: str, hierarchy: heat.UnitHierarchy) -> np.ndarray:
    """Say which units are ``area`` or lie under it, following parent codes."""
    parent = hierarchy.units["parent_code"]
    parent = parent[~parent.index.duplicated()].dropna().to_dict()

    def within(code: str) -> bool:
        for _ in range(8):  # a malformed parent loop must not hang
            if code == area:
                return True
            code = parent.get(code)
            if code is None:
                return False
        return False

    return np.array([within(c) for c in codes], dtype=bool)


def _unit_geometries(ctx: _Context, frame: pd.DataFrame) -> list:
    """Each unit's stored outline, else the union of its grids (None with neither)."""
    if not len(frame):
        return []
    stored = store.read_admin_units(ctx.engine)
    outline = dict(zip(stored["code"], stored.geometry, strict=True))
    geoms = [outline.get(code) for code in frame["code"]]
    lacking = [i for i, g in enumerate(geoms) if g is None or g.is_empty]
    if lacking:
        grids = store.read_grids(ctx.engine)[["code", "geometry"]].set_index("code")
        of = ctx.hierarchy.grids
        for i in lacking:
            lv, code = frame.at[i, "level"], frame.at[i, "code"]
            members = of.index[(of[lv] == code).to_numpy()]
            parts = grids.geometry.reindex(members).dropna().to_numpy()
            geoms[i] = shapely.union_all(parts) if len(parts) else None
    return geoms


_BUILDERS: dict[str, Callable[[_Context], _LayerData]] = {
    "grids": _grids_layer,
    "requests": _requests_layer,
    "stations": _stations_layer,
    "coverage": _coverage_layer,
    "coverage_areas": _coverage_areas_layer,
    "hotspots": _hotspots_layer,
}


# --------------------------------------------------------------------------- values


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def _local_day(moment: datetime) -> date:
    return (pd.Timestamp(moment) + heat.LOCAL_UTC_OFFSET).date()


def _conform(frame: pd.DataFrame, schema: list[tuple[str, str]]) -> pd.DataFrame:
    """Give every field its declared type, so all chunks agree (an all-null chunk too)."""
    out = {}
    for name, kind in schema:
        s = (frame[name] if name in frame.columns
             else pd.Series(None, index=frame.index, dtype=object))
        if kind == "str":
            s = s.astype(object).where(s.notna(), None)
            s = s.map(lambda v: v if v is None or isinstance(v, str) else str(v))
        elif kind == "int":
            s = pd.to_numeric(s, errors="coerce").round().astype("Int64")
        elif kind == "float":
            s = pd.to_numeric(s, errors="coerce").astype("float64")
        elif kind == "bool":
            s = s.astype(object).where(s.notna(), None).astype("boolean")
        elif kind == "datetime":
            s = pd.to_datetime(s)
            if s.dt.tz is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        out[name] = s.reset_index(drop=True)
    # Positional from here on: the geometries of a chunk are a plain array.
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _local_iso(s: pd.Series) -> pd.Series:
    """Naive UTC datetimes as Asia/Shanghai ISO 8601 text with the offset."""
    text = (s + heat.LOCAL_UTC_OFFSET).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return text.astype(object).where(s.notna(), None)


def _as_text_values(frame: pd.DataFrame, schema: list[tuple[str, str]]) -> pd.DataFrame:
    out = frame.copy()
    for name, kind in schema:
        if kind == "datetime":
            out[name] = _local_iso(frame[name])
    return out


def _plain(values: list) -> list:
    """Python values for JSON: NA and NaN become None."""
    return [None if v is pd.NA or v is None or (isinstance(v, float) and v != v) else v
            for v in values]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _orient(geoms: np.ndarray) -> np.ndarray:
    """Exterior rings counterclockwise, holes clockwise (RFC 7946 §3.1.6)."""
    if hasattr(shapely, "orient_polygons"):  # shapely >= 2.1
        return shapely.orient_polygons(geoms, exterior_cw=False)
    from shapely.geometry.polygon import orient

    def one(g):
        if g is None or g.is_empty:
            return g
        if g.geom_type == "Polygon":
            return orient(g, 1.0)
        if g.geom_type == "MultiPolygon":
            return shapely.MultiPolygon([orient(p, 1.0) for p in g.geoms])
        return g

    return np.array([one(g) for g in geoms], dtype=object)


def _rounded(geoms: np.ndarray) -> np.ndarray:
    """Coordinates rounded to :data:`DECIMALS`, in 2D, then rings oriented.

    Rounding goes first so that the orientation is that of the coordinates written.
    """
    geoms = shapely.transform(np.asarray(geoms, dtype=object),
                              lambda xy: np.round(xy, DECIMALS))
    return _orient(geoms)


def _rings(polygon) -> list:
    return [shapely.get_coordinates(ring).tolist()
            for ring in (polygon.exterior, *polygon.interiors)]


def _round_nested(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_round_nested(v) for v in value]
    if isinstance(value, float):
        return round(value, DECIMALS)
    return value


def _geojson_geometry(geom) -> dict | None:
    """Return the GeoJSON geometry object of a rounded, oriented shapely geometry."""
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if kind == "Point":
        return {"type": "Point", "coordinates": [geom.x, geom.y]}
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": _rings(geom)}
    if kind == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [_rings(p) for p in geom.geoms]}
    # No layer writes other types; kept general all the same.
    return _geojson_mapping(shapely.geometry.mapping(geom))


def _geojson_mapping(mapped: dict) -> dict:
    if "geometries" in mapped:
        return {"type": mapped["type"],
                "geometries": [_geojson_mapping(g) for g in mapped["geometries"]]}
    return {"type": mapped["type"], "coordinates": _round_nested(mapped["coordinates"])}


# --------------------------------------------------------------------------- progress


class _Reporter:
    """Forward progress to the caller's callback, fraction clamped to [0, 1]."""

    #: Share of the bar for reading and computing before the first row is written.
    COMPUTE = 0.05

    def __init__(self, callback: Progress | None, info: LayerInfo) -> None:
        self.callback = callback
        self.label = info.name_zh

    def __call__(self, fraction: float, message: str) -> None:
        if self.callback is not None:
            self.callback(min(max(float(fraction), 0.0), 1.0), f"{self.label}：{message}")

    def written(self, rows: int, total: int) -> None:
        share = rows / total if total else 1.0
        self(self.COMPUTE + (1 - self.COMPUTE) * min(share, 1.0),
             f"已写入 {rows:,}/{max(total, rows):,} 行")


# --------------------------------------------------------------------------- targets


class _Target:
    """Where the export goes: a path (via a temporary file renamed at the end) or a buffer."""

    def __init__(self, path_or_buffer: str | os.PathLike | IO, fmt: str) -> None:
        self.fmt = fmt
        self.buffer: IO | None = None
        self.path: Path | None = None
        self.name: str | None = None
        self.tmp: Path | None = None
        self._stream: IO | None = None
        if isinstance(path_or_buffer, str | os.PathLike):
            self.path = Path(path_or_buffer)
            self.name = str(self.path)
            if self.path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "Is a directory", str(self.path))
            suffix = ".part.gpkg" if fmt == "gpkg" else ".part"
            self.tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}{suffix}")
            # Open now: an unwritable path fails before anything is computed. The error names
            # the path asked for, not the temporary file.
            try:
                with open(self.tmp, "wb"):
                    pass
            except OSError as exc:
                raise type(exc)(exc.errno, exc.strerror, str(self.path)) from None
            if fmt == "gpkg":
                self.tmp.unlink()
                if self.path.exists():
                    try:
                        shutil.copyfile(self.path, self.tmp)
                    except BaseException:
                        self.tmp.unlink(missing_ok=True)
                        raise
        elif hasattr(path_or_buffer, "write"):
            self.buffer = path_or_buffer
            if fmt == "gpkg":
                if isinstance(path_or_buffer, io.TextIOBase):
                    raise ValueError("a GeoPackage is binary: pass a path or a binary buffer")
                handle, name = tempfile.mkstemp(suffix=".gpkg")
                os.close(handle)
                self.tmp = Path(name)
                held = path_or_buffer.getvalue() if hasattr(path_or_buffer, "getvalue") else b""
                if held[:16] == b"SQLite format 3\x00":
                    self.tmp.write_bytes(held)
                else:
                    self.tmp.unlink()
        else:
            raise TypeError("path_or_buffer must be a path or a writable file-like object")

    def write(self, text: str) -> None:
        """Write text (GeoJSON, CSV): UTF-8 to files and binary buffers."""
        if self._stream is None:
            if self.buffer is not None:
                self._stream = self.buffer
            else:
                self._stream = open(self.tmp, "wb")  # noqa: SIM115 closed in commit/abort
        if isinstance(self._stream, io.TextIOBase):
            self._stream.write(text)
        else:
            self._stream.write(text.encode("utf-8"))

    def commit(self) -> None:
        """Finish: close and rename the file, or copy a GeoPackage into the buffer."""
        if self._stream is not None and self._stream is not self.buffer:
            self._stream.close()
        self._stream = None
        if self.path is not None:
            os.replace(self.tmp, self.path)
        elif self.fmt == "gpkg":
            data = self.tmp.read_bytes()
            self.tmp.unlink()
            if hasattr(self.buffer, "truncate") and hasattr(self.buffer, "seek"):
                self.buffer.seek(0)
                self.buffer.truncate()
            self.buffer.write(data)

    def abort(self) -> None:
        """Remove the temporary file; leave the target as it was."""
        if self._stream is not None and self._stream is not self.buffer:
            self._stream.close()
        self._stream = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)

    def gpkg_path(self) -> str:
        return str(self.tmp)


# --------------------------------------------------------------------------- writers


#: Rows formatted as text at a time: a feature's JSON text takes a few kB of memory, so a
#: whole 50,000-row chunk at once would hold hundreds of MB.
TEXT_BATCH_ROWS = 5_000


def _batches(chunks: Iterable[tuple[pd.DataFrame, np.ndarray]]
             ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    for attrs, geoms in chunks:
        yield from _split(attrs, np.asarray(geoms, dtype=object), TEXT_BATCH_ROWS)


def _write_geojson(data: _LayerData, target: _Target, report: _Reporter) -> int:
    target.write(f'{{"type":"FeatureCollection","name":{json.dumps(data.key)},"features":[')
    names = [name for name, _ in data.schema]
    rows = 0
    for attrs, geoms in _batches(data.chunks):
        frame = _as_text_values(_conform(attrs, data.schema), data.schema)
        columns = [_plain(frame[name].tolist()) for name in names]
        shapes = [_geojson_geometry(g) for g in _rounded(geoms)]
        features = []
        for i, shape in enumerate(shapes):
            props = {name: col[i] for name, col in zip(names, columns, strict=True)}
            features.append(json.dumps(
                {"type": "Feature", "geometry": shape, "properties": props},
                ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                default=_json_default))
        if features:
            target.write(("\n" if rows == 0 else ",\n") + ",\n".join(features))
        rows += len(features)
        report.written(rows, data.total)
    target.write("\n]}\n")
    return rows


#: First characters that make Excel treat a cell as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write_csv(data: _LayerData, target: _Target, report: _Reporter) -> int:
    wkt = data.csv_geometry
    target.write("\ufeff")  # the byte-order mark Excel needs to read UTF-8
    rows = 0
    first = True
    for attrs, geoms in _batches(data.chunks):
        frame = _as_text_values(_conform(attrs, data.schema), data.schema)
        for name, kind in data.schema:
            if kind == "str":
                frame[name] = frame[name].map(_defuse)
        if wkt:
            frame["wkt"] = shapely.to_wkt(_rounded(geoms), rounding_precision=DECIMALS,
                                          trim=True)
        buf = io.StringIO()
        frame.to_csv(buf, header=first, index=False, lineterminator="\r\n")
        target.write(buf.getvalue())
        first = False
        rows += len(frame)
        report.written(rows, data.total)
    if first:  # no rows: still a header, so the file opens with its columns
        header = [name for name, _ in data.schema] + (["wkt"] if wkt else [])
        buf = io.StringIO()
        pd.DataFrame(columns=header).to_csv(buf, index=False, lineterminator="\r\n")
        target.write(buf.getvalue())
    return rows


def _write_gpkg(data: _LayerData, target: _Target, report: _Reporter) -> int:
    path = target.gpkg_path()
    rows = 0
    first = True

    def write(attrs: pd.DataFrame, geoms: np.ndarray, mode: str) -> None:
        frame = _conform(attrs, data.schema)
        for name, kind in data.schema:
            if kind == "datetime":  # GeoPackage datetimes are UTC
                frame[name] = frame[name].dt.tz_localize("UTC")
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(
            _orient(np.asarray(geoms, dtype=object)), index=frame.index, crs=store.SRID))
        # mode "w" on an existing GeoPackage replaces this layer only and keeps the others.
        gdf.to_file(path, layer=data.key, driver="GPKG", engine="pyogrio", mode=mode,
                    geometry_type=data.geometry_type, index=False)

    for attrs, geoms in data.chunks:
        write(attrs, geoms, "w" if first else "a")
        first = False
        rows += len(attrs)
        report.written(rows, data.total)
    if first:
        write(pd.DataFrame(), np.empty(0, dtype=object), "w")
    return rows


_WRITERS: dict[str, Callable[[_LayerData, _Target, _Reporter], int]] = {
    "geojson": _write_geojson,
    "gpkg": _write_gpkg,
    "csv": _write_csv,
}
