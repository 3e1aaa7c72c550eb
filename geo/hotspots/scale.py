"""The distance band chosen from the data: incremental spatial autocorrelation (issue 16).

A fixed 800 m band is wide in town and narrow in the countryside. ArcGIS's Incremental
Spatial Autocorrelation instead runs global Moran's I over a series of growing distance
bands and takes the first band at which its z-score peaks: the scale at which the values
cluster most distinctly. Here each band is added to the grids' contiguity, as in the
page's definition (:func:`geo.hotspots.grid_weights`), so no grid is left without a
neighbour at the short bands. Moran's I and its z-score come from esda; the weights of the
bands do not depend on the values, so they are built once per grid set
(:func:`band_series`) and reused for every window or draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.hotspots.weights import GridWeights, grid_weights, to_metric_crs

__all__ = ["BandSeries", "band_series", "first_peak", "incremental_autocorrelation"]


@dataclass(frozen=True, eq=False)
class BandSeries:
    """Contiguity plus each of a series of distance bands, built once per grid set.

    Attributes
    ----------
    distances : tuple of float
        The bands in metres, increasing.
    weights : tuple of GridWeights
        Contiguity plus each band, for Gi* once a band is chosen.

    """

    distances: tuple[float, ...]
    weights: tuple[GridWeights, ...]

    @cached_property
    def moran_weights(self) -> tuple:
        """The bands as libpysal W, row-standardised, for esda's Moran (converted once)."""
        return tuple(_row_standardised(w) for w in self.weights)

    def weights_at(self, distance_m: float) -> GridWeights:
        """Return the weights of the band ``distance_m`` (one of :attr:`distances`)."""
        return self.weights[self.distances.index(distance_m)]


def _row_standardised(weights: GridWeights):
    w = weights.graph.to_W()
    w.transform = "r"
    return w


def band_series(grids: gpd.GeoDataFrame, *, distances: list[float] | None = None,
                steps: int = 10, code_col: str = "code") -> BandSeries:
    """Build contiguity plus each distance band of ``grids``.

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Grid polygons with a unique code column.
    distances : list of float, optional
        The bands in metres. By default ``steps`` bands, starting at and growing by the
        median distance from a grid's centroid to its nearest grid's (ArcGIS starts at the
        distance that gives every feature a neighbour; contiguity does that here, and the
        median keeps the first steps at the scale of town grids).
    steps : int
        Number of bands when ``distances`` is not given.
    code_col : str
        Column holding the grid code.

    Returns
    -------
    BandSeries

    """
    if distances is None:
        if steps < 2:
            raise ValueError("steps must be at least 2")
        xy = shapely.get_coordinates(to_metric_crs(grids.geometry).centroid.values)
        nearest = np.asarray(cKDTree(xy).query(xy, k=2)[0])[:, 1]
        step = float(np.median(nearest))
        distances = [round(step * i) for i in range(1, steps + 1)]
    bands = tuple(float(d) for d in distances)
    if not bands or any(d <= 0 for d in bands) or list(bands) != sorted(set(bands)):
        raise ValueError(f"distances must be positive and increasing, not {list(distances)}")
    return BandSeries(bands, tuple(grid_weights(grids, code_col=code_col, distance_m=d)
                                   for d in bands))


def incremental_autocorrelation(values: pd.Series | np.ndarray, series: BandSeries
                                ) -> pd.DataFrame:
    """Global Moran's I of ``values`` at each band of ``series``.

    Missing values (a rate where nobody lives) take the mean, which adds no
    autocorrelation either way.

    Returns
    -------
    pandas.DataFrame
        One row per band: ``distance_m``, ``moran_i``, ``z`` and ``p`` (normal
        approximation, two-sided), in the order of the bands.

    """
    from esda import Moran

    y = np.asarray(values, dtype=float)
    if len(y) != len(series.weights[0].codes):
        raise ValueError("values and the bands' grids differ in number")
    finite = np.isfinite(y)
    y = np.where(finite, y, y[finite].mean() if finite.any() else 0.0)
    rows = []
    for distance, w in zip(series.distances, series.moran_weights, strict=True):
        if np.ptp(y) == 0:  # all equal: Moran's I is undefined
            rows.append((distance, np.nan, np.nan, np.nan))
            continue
        moran = Moran(y, w, transformation="r", permutations=0)
        rows.append((distance, float(moran.I), float(moran.z_norm), float(moran.p_norm)))
    return pd.DataFrame(rows, columns=["distance_m", "moran_i", "z", "p"])


def first_peak(table: pd.DataFrame, *, alpha: float = 0.05) -> float | None:
    """Return the band of the first peak of Moran's z among significant bands.

    A peak is a band whose z is above the band before and not below the one after (the
    first band counts when z falls after it, the last when z still rises there). None when
    no band is significant at ``alpha``.
    """
    z = table["z"].to_numpy(dtype=float)
    ok = np.isfinite(z) & (table["p"].to_numpy(dtype=float) <= alpha)
    for i in range(len(z)):
        rising = i == 0 or z[i] > z[i - 1]
        falling = i == len(z) - 1 or z[i] >= z[i + 1]
        if ok[i] and rising and falling:
            return float(table["distance_m"].iloc[i])
    # Only where significant bands alternate with others: the largest significant z.
    if not ok.any():
        return None
    return float(table["distance_m"].iloc[int(np.argmax(np.where(ok, z, -np.inf)))])
