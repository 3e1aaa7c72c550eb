"""A smoothed density surface of dispute points on a regular metric grid.

:func:`dispute_density` bins the points and convolves them with a Gaussian kernel;
:func:`density_bandwidth` picks a bandwidth that suits the map's extent;
:meth:`DensitySurface.to_cells` gives the cells a map shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import ndimage

from geo import coords
from geo.hotspots.disputes import select_disputes
from geo.hotspots.weights import to_metric_crs

__all__ = ["DensitySurface", "density_bandwidth", "dispute_density"]


@dataclass(frozen=True)
class DensitySurface:
    """A kernel density raster of disputes in a metric CRS.

    Attributes
    ----------
    values : numpy.ndarray
        2-D float array of disputes per km², row 0 at the north edge (image order).
    bounds : tuple of float
        (minx, miny, maxx, maxy) of the raster's outer edges, in metres in ``crs``.
    crs : str
        The metric CRS (a UTM zone, e.g. ``"EPSG:32649"``).
    cell_m : float
        Cell size in metres.
    bandwidth_m : float
        Standard deviation of the Gaussian kernel in metres.
    points : int
        Number of dispute points smoothed.

    """

    values: npt.NDArray[np.float64]
    bounds: tuple[float, float, float, float]
    crs: str
    cell_m: float
    bandwidth_m: float
    points: int

    def to_cells(self, *, min_share: float = 0.05, coarsen: int = 1,
                 max_cells: int | None = 10_000) -> gpd.GeoDataFrame:
        """Return cells at or above ``min_share`` of the peak density as polygons.

        Parameters
        ----------
        min_share : float
            Keep cells whose density is at least this share of the maximum (0 keeps every
            non-zero cell); a map needs only the visible part of the surface.
        coarsen : int
            Merge blocks of ``coarsen`` × ``coarsen`` cells (their mean) first, to send
            fewer polygons.
        max_cells : int or None
            If more cells than this pass, double ``coarsen`` until they fit (DESIGN §9: at
            most 10,000 polygons reach the browser at once). None: no limit.

        Returns
        -------
        geopandas.GeoDataFrame
            ``density`` (disputes per km²) and square cell polygons in EPSG:4326.

        """
        while True:
            values, cell = self._coarsened(coarsen)
            peak = values.max() if values.size else 0.0
            keep = (values >= min_share * peak) & (values > 0)
            if max_cells is None or keep.sum() <= max_cells or min(values.shape) <= 1:
                break
            coarsen *= 2
        if peak <= 0:
            return gpd.GeoDataFrame({"density": np.array([], dtype=float)},
                                    geometry=gpd.GeoSeries([], crs=4326), crs=4326)
        r, c = np.nonzero(keep)
        x0 = self.bounds[0] + c * cell
        y1 = self.bounds[3] - r * cell
        boxes = shapely.box(x0, y1 - cell, x0 + cell, y1)
        cells = gpd.GeoSeries(boxes, crs=self.crs).to_crs(4326)
        return gpd.GeoDataFrame({"density": values[r, c]}, geometry=cells.values, crs=4326)

    def _coarsened(self, factor: int) -> tuple[npt.NDArray[np.float64], float]:
        """Block means over ``factor`` × ``factor`` cells (edge rows/columns dropped)."""
        if factor <= 1:
            return self.values, self.cell_m
        rows = self.values.shape[0] // factor * factor
        cols = self.values.shape[1] // factor * factor
        blocks = self.values[:rows, :cols].reshape(rows // factor, factor, cols // factor,
                                                   factor)
        return blocks.mean(axis=(1, 3)), self.cell_m * factor


def _lonlat(points: pd.DataFrame | gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(points, gpd.GeoDataFrame):
        wgs = points.geometry.to_crs(4326) if points.crs is not None else points.geometry
        return wgs.x.to_numpy(dtype=float), wgs.y.to_numpy(dtype=float)
    return (points["lon"].to_numpy(dtype=float), points["lat"].to_numpy(dtype=float))


def dispute_density(
    disputes: pd.DataFrame | gpd.GeoDataFrame, *, bandwidth_m: float = 500.0,
    cell_m: float | None = None, extent: gpd.GeoDataFrame | None = None,
    since: datetime | None = None, until: datetime | None = None,
    category: str | None = "dispute", max_cells: int = 4_000_000,
) -> DensitySurface:
    """Smooth dispute points into a kernel density surface on a regular metric grid.

    Points are binned into cells (a 2-D histogram) and the histogram is convolved with a
    Gaussian kernel of standard deviation ``bandwidth_m`` (``scipy.ndimage.gaussian_filter``,
    truncated at 4 standard deviations). Binning moves each point by at most half a cell,
    negligible while cells are several times smaller than the bandwidth. About 95% of each
    dispute's weight lies within 2 × ``bandwidth_m`` of it. Each dispute contributes a unit
    of mass, so the density integrates to the number of disputes (those near the edge
    keep theirs: the raster is padded by 4 bandwidths).

    Parameters
    ----------
    disputes : pandas.DataFrame or geopandas.GeoDataFrame
        Dispute points: ``lon``/``lat`` columns in WGS84, or point geometries.
    bandwidth_m : float
        Kernel standard deviation in metres.
    cell_m : float, optional
        Cell size in metres; default a quarter of the bandwidth, enlarged if the raster
        would exceed ``max_cells``.
    extent : geopandas.GeoDataFrame, optional
        Area the raster must cover (e.g. the grids), so that empty areas show as 0;
        default the points' bounding box. Either way padded by 4 bandwidths.
    since, until : datetime, optional
        Only rows reported in [since, until) (needs ``reported_at``).
    category : str or None
        Only rows of this category when there is a ``category`` column.
    max_cells : int
        Upper bound on the number of raster cells when ``cell_m`` is not given.

    Returns
    -------
    DensitySurface
        Density in disputes per km²; its ``to_cells()`` gives EPSG:4326 cell polygons.

    """
    if bandwidth_m <= 0:
        raise ValueError("bandwidth_m must be positive")
    rows = select_disputes(disputes, since=since, until=until, category=category)
    lon, lat = _lonlat(rows)
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    if extent is not None:
        wgs = extent.geometry.to_crs(4326) if extent.crs is not None else extent.geometry
        ext_bounds = wgs.total_bounds
    elif len(lon):
        ext_bounds = np.array([lon.min(), lat.min(), lon.max(), lat.max()])
    else:
        raise ValueError("no dispute points and no extent: nothing to grid")
    lon0, lat0 = (ext_bounds[0] + ext_bounds[2]) / 2, (ext_bounds[1] + ext_bounds[3]) / 2
    crs = coords.metric_crs(lon0, lat0)
    to_metric = Transformer.from_crs(4326, crs, always_xy=True)
    # The extent's corners and edge midpoints: a UTM box around a lon/lat box.
    bx = np.array([ext_bounds[0], ext_bounds[2], ext_bounds[0], ext_bounds[2], lon0, lon0,
                   ext_bounds[0], ext_bounds[2]])
    by = np.array([ext_bounds[1], ext_bounds[1], ext_bounds[3], ext_bounds[3], ext_bounds[1],
                   ext_bounds[3], lat0, lat0])
    ex, ey = to_metric.transform(bx, by)
    x, y = to_metric.transform(lon, lat)
    pad = 4.0 * bandwidth_m
    xs, ys = np.concatenate([ex, x]), np.concatenate([ey, y])
    minx, maxx = xs.min() - pad, xs.max() + pad
    miny, maxy = ys.min() - pad, ys.max() + pad
    if cell_m is None:
        cell_m = bandwidth_m / 4.0
        area_cells = (maxx - minx) * (maxy - miny) / cell_m**2
        if area_cells > max_cells:
            cell_m *= float(np.sqrt(area_cells / max_cells))
    # Snap the origin to whole cells so that rasters of one city line up across windows.
    minx, miny = np.floor(minx / cell_m) * cell_m, np.floor(miny / cell_m) * cell_m
    ncols = int(np.ceil((maxx - minx) / cell_m))
    nrows = int(np.ceil((maxy - miny) / cell_m))
    maxx, maxy = minx + ncols * cell_m, miny + nrows * cell_m
    col = np.clip(((x - minx) // cell_m).astype(np.int64), 0, ncols - 1)
    row = np.clip(((maxy - y) // cell_m).astype(np.int64), 0, nrows - 1)
    counts = np.zeros((nrows, ncols), dtype=np.float64)
    np.add.at(counts, (row, col), 1.0)
    smooth = ndimage.gaussian_filter(counts, sigma=bandwidth_m / cell_m, mode="constant",
                                     truncate=4.0)
    density = smooth / (cell_m * cell_m / 1e6)
    return DensitySurface(values=density, bounds=(minx, miny, maxx, maxy), crs=crs,
                          cell_m=float(cell_m), bandwidth_m=float(bandwidth_m),
                          points=int(len(x)))


def density_bandwidth(extent: gpd.GeoDataFrame | gpd.GeoSeries, *, divisions: float = 100.0,
                      min_m: float = 250.0, max_m: float = 2000.0, step_m: float = 50.0
                      ) -> float:
    """Choose a kernel bandwidth that suits a map of ``extent``.

    A surface meant to be seen whole needs a bandwidth that grows with what is on screen:
    500 m picks out single streets in a district but leaves a city-wide map with specks.
    The bandwidth is the diagonal of the extent's bounding box (in metres, in the metric
    CRS of its centre) divided by ``divisions``, rounded to ``step_m`` and clamped to
    [``min_m``, ``max_m``].

    Parameters
    ----------
    extent : geopandas.GeoDataFrame or geopandas.GeoSeries
        What the map shows (e.g. the grids of the chosen area); any CRS, none = WGS84.
    divisions : float
        How many bandwidths fit along the diagonal.
    min_m, max_m : float
        Bounds of the result in metres.
    step_m : float
        Rounding step in metres.

    Returns
    -------
    float
        Metres; ``min_m`` for an empty extent.

    """
    if divisions <= 0 or step_m <= 0 or min_m <= 0 or max_m < min_m:
        raise ValueError("divisions, step_m and min_m must be positive and max_m >= min_m")
    geoms = extent.geometry if isinstance(extent, gpd.GeoDataFrame) else extent
    # Boolean indexing keeps a GeoSeries (the stubs say Series).
    shown = cast(gpd.GeoSeries, geoms[geoms.notna() & ~geoms.is_empty])
    if len(shown) == 0:
        return float(min_m)
    minx, miny, maxx, maxy = to_metric_crs(gpd.GeoSeries(shown.values, crs=shown.crs)
                                           ).total_bounds
    diagonal = float(np.hypot(maxx - minx, maxy - miny))
    raw = round(diagonal / divisions / step_m) * step_m
    return float(min(max(raw, min_m), max_m))

