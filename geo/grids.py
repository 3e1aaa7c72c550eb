"""Grid polygons: repair, codes, numbering and point → grid assignment."""

from __future__ import annotations

import re
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from shapely import MultiPolygon, Polygon

GRID_CODE = re.compile(r"^\d{15}$")
COMMUNITY_CODE = re.compile(r"^\d{12}$")


def as_multipolygon(geom) -> MultiPolygon | None:
    """Return the polygonal part of ``geom`` as a MultiPolygon, or None if it has none.

    Invalid input is repaired with ``make_valid`` first. Lines and points that a repair may
    leave behind (a bow-tie's crossing point, a spike) are dropped because a grid is an area.
    """
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts: list[Polygon] = []
    for part in shapely.get_parts(geom):
        if isinstance(part, Polygon):
            parts.append(part)
        elif isinstance(part, MultiPolygon):
            parts.extend(part.geoms)
        elif part.geom_type == "GeometryCollection":
            sub = as_multipolygon(part)
            if sub is not None:
                parts.extend(sub.geoms)
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    return MultiPolygon(parts) if parts else None


def grid_code_problem(code: object, community_code: object | None = None) -> str | None:
    """Say what is wrong with a grid code, or return None when it is well formed.

    A grid code is the 12-digit community code (统计用区划代码) followed by a 3-digit
    sequence, e.g. ``430903003001`` + ``004``.
    """
    text = "" if code is None else str(code).strip()
    if not GRID_CODE.match(text):
        return "grid code must be 15 digits: 12-digit community code + 3-digit sequence"
    if text.endswith("000"):
        return "grid sequence 000 is not used; grids are numbered from 001"
    if community_code is not None and str(community_code).strip() and not text.startswith(
        str(community_code).strip()
    ):
        return f"grid code does not start with its community code {community_code}"
    return None


def reading_order(x: np.ndarray, y: np.ndarray, *, row_height: float) -> np.ndarray:
    """Return the indices that sort points west→east within rows, rows north→south.

    Rows are bands ``row_height`` tall counted from the northernmost point, so points at
    nearly the same latitude are read left to right like a line of text.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) == 0:
        return np.array([], dtype=int)
    band = np.floor((y.max() - y) / max(row_height, 1e-12)).astype(int)
    return np.lexsort((x, band))


class GridIndex:
    """A spatial index of grid polygons for vectorised point → grid assignment.

    Build it once per set of grids, then call :meth:`assign` for any number of points.
    The query runs in shapely's STRtree (GEOS, in C); a point on a boundary shared by two
    grids goes to the grid with the lower code, so the answer is deterministic.
    """

    def __init__(self, grids: gpd.GeoDataFrame, *, code_column: str = "code") -> None:
        ordered = grids.sort_values(code_column)
        self.codes = ordered[code_column].to_numpy(dtype=object)
        geoms = np.asarray(ordered.geometry.values, dtype=object)
        shapely.prepare(geoms)
        self.tree = shapely.STRtree(geoms)

    def __len__(self) -> int:
        return len(self.codes)

    def assign(self, lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray
               ) -> np.ndarray:
        """Return the grid code for each point, None where the point is in no grid.

        Parameters
        ----------
        lon, lat : array-like of float
            WGS84 coordinates, same length.

        Returns
        -------
        numpy.ndarray of object

        """
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        out = np.full(len(lon), None, dtype=object)
        if len(lon) == 0 or len(self.codes) == 0:
            return out
        points = shapely.points(lon, lat)
        point_idx, grid_idx = self.tree.query(points, predicate="intersects")
        out[point_idx] = self.codes[grid_idx]
        # A point on an edge shared by two grids matches both: give it the lower code. Only
        # those few points are sorted, so the common case stays one vectorised pass.
        shared = np.bincount(point_idx, minlength=len(lon)) > 1
        if shared.any():
            mask = shared[point_idx]
            p, g = point_idx[mask], grid_idx[mask]
            order = np.lexsort((g, p))
            p, g = p[order], g[order]
            first = np.unique(p, return_index=True)[1]
            out[p[first]] = self.codes[g[first]]
        return out


def assign_points(grids: gpd.GeoDataFrame, lon, lat) -> np.ndarray:
    """Assign points to grids in one call; see :class:`GridIndex` to reuse the index."""
    return GridIndex(grids).assign(lon, lat)


def metric_area_km2(geoms: gpd.GeoSeries, *, crs: str | None = None) -> np.ndarray:
    """Return polygon areas in km², computed in a metric CRS (the data's UTM zone)."""
    from geo.coords import metric_crs

    if crs is None:
        c = geoms.union_all().centroid if len(geoms) else shapely.Point(112.3, 28.5)
        crs = metric_crs(c.x, c.y)
    return geoms.to_crs(crs).area.to_numpy() / 1e6
