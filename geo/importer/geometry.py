"""Coordinates and polygons: which CRS a file uses, conversion to WGS84, the China check.

Points come from a vector file's geometry, else lon/lat columns, else a WKT column; grid
polygons from the geometry or a WKT column. Everything is converted to WGS84 once, here, in
one vectorised call, and checked against China's bounds after conversion; invalid polygons
are repaired where :func:`geo.grids.as_multipolygon` can.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import coords
from geo.grids import as_multipolygon
from geo.importer.reasons import Reason
from geo.importer.report import ImportFileError
from geo.importer.rows import Rows, object_values

# Taken as WGS84 as they are (CGCS2000 differs by centimetres): nothing to convert.
_GEOGRAPHIC = ("wgs84", "cgcs2000")
#: More vertices than this in one grid is a warning: a surveyed grid has hundreds, and a
#: polygon of a million (a raster traced point by point) slows every map and export.
MAX_VERTICES = 100_000


def resolve_crs(frame: pd.DataFrame, crs: str | None = None) -> str:
    """Decide which CRS the coordinates of ``frame`` are in.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        As returned by :func:`read_table`.
    crs : str, optional
        The user's choice (``--crs``); it always wins when given.

    Returns
    -------
    str
        A name for :func:`geo.coords.to_wgs84`: the explicit ``crs``, else the file's
        declared CRS when it is not EPSG:4326/EPSG:4490, else ``"wgs84"``. Normalised with
        :func:`geo.coords.normalise_crs_name`.

    Raises
    ------
    ImportFileError
        ``crs`` is not a coordinate system pyproj or :mod:`geo.coords` knows.

    """
    if crs is not None:
        try:
            return coords.normalise_crs_name(crs)
        except ValueError as exc:
            raise ImportFileError(str(exc)) from None
    declared = frame.crs if isinstance(frame, gpd.GeoDataFrame) else None
    if declared is None:
        return "wgs84"
    epsg = declared.to_epsg()
    if epsg is not None:
        return coords.normalise_crs_name(f"EPSG:{epsg}")
    return declared.to_wkt()


def crs_label(crs: str) -> str:
    """Return the name recorded in ``source_crs`` (a String(32) column)."""
    if len(crs) <= 32:
        return crs
    from pyproj import CRS

    return CRS.from_user_input(crs).name[:32]


def _to_wgs84(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    if crs in _GEOGRAPHIC:
        return x, y
    lon, lat = coords.to_wgs84(x, y, crs=crs)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_points(rows: Rows, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat of each row's point (NaN where rejected)."""
    cols = rows.cols
    n = rows.n
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    field_of = np.full(n, "lon/lat", dtype=object)
    need = np.ones(n, dtype=bool)
    geom = cols.geometry
    if geom is not None:
        has = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
        single = has & (shapely.get_type_id(geom) == 4) & (shapely.get_num_geometries(geom) == 1)
        geom = np.where(single, shapely.get_geometry(geom, 0), geom)
        is_point = has & (shapely.get_type_id(geom) == 0)
        x[is_point] = shapely.get_x(geom[is_point])
        y[is_point] = shapely.get_y(geom[is_point])
        _flag_not_finite(rows, is_point, x, y, "geometry")
        field_of[has] = "geometry"
        rows.flag(has & ~is_point, "geometry", lambda i: [g.geom_type for g in geom[i]],
                  lambda i: [Reason("expected_point", found=g.geom_type) for g in geom[i]])
        need = ~has
    if need.any() and cols.has("lon") and cols.has("lat"):
        for col, out in (("lon", x), ("lat", y)):
            s = rows.text(col)
            assert s is not None  # cols.has(col)
            present = s.notna().to_numpy()
            rows.flag(need & ~present, col, None, Reason("required"))
            num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            rows.flag(need & present & ~np.isfinite(num), col, s, Reason("not_number"))
            out[need] = num[need]
    elif need.any() and cols.has("wkt"):
        s = rows.text("wkt")
        assert s is not None  # cols.has("wkt")
        parsed = shapely.from_wkt(object_values(s), on_invalid="ignore")
        present = s.notna().to_numpy()
        ok = need & ~shapely.is_missing(parsed) & ~shapely.is_empty(parsed)
        rows.flag(need & ~present, "wkt", None, Reason("required"))
        rows.flag(need & present & shapely.is_missing(parsed), "wkt", s, Reason("bad_wkt"))
        point = ok & (shapely.get_type_id(parsed) == 0)
        rows.flag(ok & ~point, "wkt", s, Reason("expected_point_wkt"))
        x[point] = shapely.get_x(parsed[point])
        y[point] = shapely.get_y(parsed[point])
        _flag_not_finite(rows, point, x, y, "wkt", s)
        field_of[need] = "wkt"
    elif need.any():
        rows.flag(need, "geometry", None, Reason("empty_geometry"))
    return _convert_points(rows, x, y, crs, field_of)


def _flag_not_finite(rows: Rows, point: np.ndarray, x: np.ndarray, y: np.ndarray, col: str,
                     text: pd.Series | None = None) -> None:
    bad = point & ~(np.isfinite(x) & np.isfinite(y))
    values = text if text is not None else (lambda i: [f"{x[j]}, {y[j]}" for j in i])
    rows.flag(bad, col, values, Reason("coordinate_not_finite"))


def _convert_points(rows: Rows, x: np.ndarray, y: np.ndarray, crs: str,
                    field_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.full(rows.n, np.nan)
    lat = np.full(rows.n, np.nan)
    ok = np.isfinite(x) & np.isfinite(y)
    lon[ok], lat[ok] = _to_wgs84(x[ok], y[ok], crs)
    outside = ok & ~np.asarray(coords.in_china(lon, lat), dtype=bool)

    def reasons(idx: np.ndarray) -> list[Reason]:
        if crs not in _GEOGRAPHIC:
            return [Reason("outside_china_converted", crs=crs)] * len(idx)
        swapped = np.asarray(coords.in_china(lat[idx], lon[idx]), dtype=bool)
        return [Reason("outside_china_swapped" if s else "outside_china") for s in swapped]

    def values(idx: np.ndarray) -> list[str]:
        return [f"{x[i]:g}, {y[i]:g}" for i in idx]

    for label in np.unique(field_of[outside]) if outside.any() else ():
        rows.flag(outside & (field_of == label), str(label), values, reasons)
    lon[~ok | outside] = np.nan
    lat[~ok | outside] = np.nan
    return lon, lat


def wgs84_polygons(rows: Rows, crs: str, *, optional: bool = False) -> np.ndarray:
    """WGS84 MultiPolygons for each row (None where rejected, or blank and ``optional``)."""
    cols = rows.cols
    n = rows.n
    if cols.geometry is None and not cols.has("wkt"):  # an admin unit file without outlines
        return np.full(n, None, dtype=object)
    if cols.geometry is not None:
        geom = cols.geometry.copy()
        label = "geometry"
        missing = shapely.is_missing(geom) | shapely.is_empty(geom)
        if not optional:
            rows.flag(missing, label, None, Reason("empty_geometry"))
    else:
        label = "wkt"
        s = rows.text("wkt")
        assert s is not None  # cols.has("wkt")
        present = s.notna().to_numpy() if optional else rows.required("wkt", s)
        geom = shapely.from_wkt(object_values(s), on_invalid="ignore")
        rows.flag(present & shapely.is_missing(geom), label, s, Reason("bad_wkt"))
        empty = present & ~shapely.is_missing(geom) & shapely.is_empty(geom)
        rows.flag(empty, label, s, Reason("empty_geometry"))
        missing = ~present | shapely.is_missing(geom) | shapely.is_empty(geom)
    types = shapely.get_type_id(geom)
    polygonal = ~missing & np.isin(types, (3, 6))  # Polygon, MultiPolygon
    rows.flag(~missing & ~polygonal, label, lambda i: [g.wkt for g in geom[i]],
              lambda i: [Reason("expected_polygon", found=g.geom_type) for g in geom[i]])
    out = np.full(n, None, dtype=object)
    if not polygonal.any():
        return out
    work = geom[polygonal]
    idx = np.flatnonzero(polygonal)

    def wkt(i: np.ndarray) -> list[str]:
        return [shapely.to_wkt(geom[j], rounding_precision=6) for j in i]

    # NaN or infinite vertices first: GEOS and the datum shifts cannot take them, and they
    # are not "outside China" either.
    xy, owner = shapely.get_coordinates(work, return_index=True)
    finite = np.ones(len(work), dtype=bool)
    finite[np.unique(owner[~np.isfinite(xy).all(axis=1)])] = False
    del xy, owner
    rows.flag(_at(n, idx[~finite]), label, wkt, Reason("coordinate_not_finite"))
    vertices = shapely.get_num_coordinates(work)
    rows.flag(_at(n, idx[vertices > MAX_VERTICES]), label,
              lambda i: [shapely.to_wkt(geom[j], rounding_precision=6)[:60] for j in i],
              [Reason("polygon_many_vertices", n=int(v), limit=MAX_VERTICES)
               for v in _spread(n, idx, vertices)], severity="warning")
    if crs not in _GEOGRAPHIC and finite.any():
        def to_wgs(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(_to_wgs84(xy[:, 0], xy[:, 1], crs))

        # Every vertex of every polygon in one vectorised call.
        work = work.copy()
        work[finite] = shapely.transform(work[finite], to_wgs)
    bounds = shapely.bounds(work)
    inside = finite & np.isfinite(bounds).all(axis=1)
    inside &= coords.in_china(bounds[:, 0], bounds[:, 1]) & coords.in_china(
        bounds[:, 2], bounds[:, 3])
    bad = _at(n, idx[finite & ~inside])
    rows.flag(bad, label, lambda i: [f"bounds {shapely.bounds(g).round(4).tolist()}"
                                     for g in geom[i]],
              Reason("polygon_outside_china") if crs in _GEOGRAPHIC
              else Reason("polygon_outside_china_converted", crs=crs))
    valid = shapely.is_valid(work)
    repaired_ok = np.zeros(n, dtype=bool)
    unrepairable = np.zeros(n, dtype=bool)
    why = np.full(n, None, dtype=object)
    for j in np.flatnonzero(inside):
        fixed = as_multipolygon(work[j])
        if fixed is None:
            unrepairable[idx[j]] = True
        else:
            out[idx[j]] = fixed
            repaired_ok[idx[j]] = not valid[j]
        if not valid[j]:
            why[idx[j]] = shapely.is_valid_reason(work[j])
    rows.flag(repaired_ok, label, wkt,
              [Reason("polygon_repaired", detail=w) for w in why], severity="warning")
    rows.flag(unrepairable, label, wkt,
              [Reason("polygon_unrepairable", detail=w) for w in why])
    return out


def _at(n: int, positions: np.ndarray) -> np.ndarray:
    """Return a mask of ``n`` rows, true at ``positions``."""
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask


def _spread(n: int, positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return per-row values of ``n`` rows: ``values`` at ``positions``, 0 elsewhere."""
    out = np.zeros(n, dtype=np.int64)
    out[positions] = values
    return out
