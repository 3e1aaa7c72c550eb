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
scan_clusters   矛盾纠纷聚集区       polygon    cluster: the Poisson scan's circles of grids,
                （扫描统计）                    relative risk, Monte Carlo p
                                                (:meth:`geo.hotspots.HotspotDefinition.scan`)
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
    layer of the same name, and keeps the others. Coordinates keep full precision. A new
    file is GeoPackage 1.2 (``user_version`` 10200), which GDAL reads in full from 2.2 on
    (GDAL 3.6 in QGIS LTR warns about the 1.4 it writes by default). Each field has its
    Chinese name (:data:`FIELD_ALIASES`) in ``gpkg_data_columns``, the standard's schema
    extension, which GDAL reads as the field's alternative name and QGIS as its alias.
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
Rates are fractions in [0, 1], as in :mod:`geo.heat`, written with 3 decimals; areas in km²
have 4, distances in metres 1 (:func:`geo.export.writers.decimals`). Polygon layers carry
``geometry_repaired``: True where the stored outline was invalid (a self-intersecting ring)
and is written repaired by ``shapely.make_valid``, keeping its polygonal parts; the result
counts them (``repaired``). Times are ISO 8601 in Asia/Shanghai
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
request; no ``until``: up to now (the requests layer: with no upper bound). Hot spots
follow the one definition of :data:`geo.hotspots.DEFAULT` (the hotspots page's): with no
``since`` the window is its 90 days up to ``until``, or up to the next full hour as on the
page; each feature records the definition and window (``weights`` such as ``queen+800m``,
``window_since``, ``window_until``, ``window_days``) and :attr:`ExportResult.definition`
says it in words.
:func:`local_days_window` turns Asia/Shanghai calendar days into such a window. Stations
and coverage areas ignore the window. The bulletin covers one calendar month: ``month``,
else the month holding ``since``, else the last complete month.
"""

from __future__ import annotations

import math
import os
import time
from datetime import date, datetime, timedelta
from typing import IO

import pandas as pd
from sqlalchemy.engine import Engine

from geo import clock, heat, hotspots
from geo.access import AccessDenied, Scope
from geo.export.catalogue import (
    CHUNK_ROWS,
    FIELD_ALIASES,
    FORMATS,
    LAYERS,
    PERSONAL_FIELDS,
    Area,
    ExportResult,
    FormatInfo,
    LayerInfo,
    Progress,
    Reporter,
    check_format,
    export_layers,
    field_alias,
)
from geo.export.layers import BUILDERS, GI_CLASSES, Context, bulletin_layer
from geo.export.writers import DECIMALS, TEXT_BATCH_ROWS, WRITERS, Target, prepare

__all__ = [
    "CHUNK_ROWS",
    "DECIMALS",
    "FIELD_ALIASES",
    "FORMATS",
    "GI_CLASSES",
    "LAYERS",
    "PERSONAL_FIELDS",
    "TEXT_BATCH_ROWS",
    "Area",
    "ExportResult",
    "FormatInfo",
    "LayerInfo",
    "Progress",
    "default_filename",
    "export_layer",
    "export_layers",
    "field_alias",
    "local_days_window",
    "resolve_area",
]


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
    since = clock.local_day_start(first_day) if first_day is not None else None
    until = (clock.local_day_start(last_day) + timedelta(days=1) if last_day is not None
             else None)
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
        first = clock.local_date(since).strftime("%Y%m%d") if since is not None else ""
        last = (clock.local_date(until - timedelta(microseconds=1)).strftime("%Y%m%d")
                if until is not None else "")
        parts.append(f"{first}-{last}")
    return "_".join(parts) + FORMATS[check_format(LAYERS[layer], fmt)].extension


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
        hotspots, claims or bulletin.
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
    _check_access(scope, personal=personal)
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    info = LAYERS[layer]
    fmt = check_format(info, fmt)
    since, until = _check_window(since, until)
    now = clock.or_now(now)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    if layer != "bulletin" and (month is not None or level is not None):
        raise ValueError("month and level apply to the bulletin layer only")
    report = Reporter(progress, info)
    target = Target(path_or_buffer, fmt)
    try:
        report(0.0, "读取数据")
        where, hierarchy = _scoped_area(engine, area, scope)
        definition = None
        if layer in ("hotspots", "scan_clusters") and since is None:
            # The hotspots page's window: the definition's days up to ``until`` (or now).
            since, until = hotspots.DEFAULT.window(now=now, until=until)
        elif layer in ("hotspots", "scan_clusters") and until is None:
            until = hotspots.DEFAULT.window_end(now)
        ctx = Context(engine=engine, area=where, hierarchy=hierarchy, since=since,
                      until=until, now=now, personal=personal, chunk_rows=chunk_rows,
                      report=report)
        if layer == "bulletin":
            data, since, until = bulletin_layer(ctx, month=month, level=level)
        elif layer in ("hotspots", "scan_clusters"):
            data = BUILDERS[layer](ctx)
            since, until = ctx.since, ctx.until
            definition = (hotspots.DEFAULT.describe() if layer == "hotspots"
                          else hotspots.DEFAULT.describe_scan())
        else:
            data = BUILDERS[layer](ctx)
        data = prepare(data, fmt=fmt)
        rows = WRITERS[fmt](data, target, report)
        target.commit()
    except BaseException:
        target.abort()
        raise
    report(1.0, f"完成：{rows:,} 行")
    return ExportResult(rows=rows, path=target.name, format=fmt, layer=layer,
                        seconds=time.perf_counter() - start, area=where.code, since=since,
                        until=until, columns=tuple(c for c, _ in data.schema),
                        definition=definition, repaired=data.repaired)


# --------------------------------------------------------------------------- validation


def _scoped_area(engine: Engine, area: str | None, scope: Scope | None
                 ) -> tuple[Area, heat.UnitHierarchy]:
    """Resolve ``area`` within ``scope``.

    Returns the area, its grids cut to the scope's, and the hierarchy the scope sees.

    Raises
    ------
    ValueError
        No grid or admin unit has this code.
    geo.access.AccessDenied
        The area lies outside ``scope``.

    """
    full = heat.unit_hierarchy(engine)
    if area is not None and str(area).strip():
        heat.check_area(full, str(area).strip(), scope)
    hierarchy = heat.within(full, scope)
    where = resolve_area(engine, area, hierarchy=full)
    if scope is not None and not scope.everywhere:
        inside = hierarchy.grids.index
        where = where._replace(grids=inside if where.grids is None
                               else where.grids.intersection(inside))
    return where, hierarchy


def _check_access(scope: Scope | None, *, personal: bool) -> None:
    if scope is None:
        return
    if not scope.may_export:
        raise AccessDenied(f"role {scope.role} may not export")
    if personal and scope.personal != "all":
        raise AccessDenied("only an admin may export personal fields")


def _check_window(since: datetime | None, until: datetime | None
                  ) -> tuple[datetime | None, datetime | None]:
    def convert(value: datetime | None, name: str) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            raise TypeError(f"{name} must be a datetime (naive UTC), not a date; use "
                            "local_days_window() for calendar days")
        return clock.to_naive_utc(value)

    since, until = convert(since, "since"), convert(until, "until")
    if since is not None and until is not None and not since < until:
        raise ValueError(f"empty or reversed window: since {since} is not before until {until}")
    return since, until


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)

