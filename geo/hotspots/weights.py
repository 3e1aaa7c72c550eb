"""Neighbour weights over a grid set: contiguity, a distance band and links for islands.

The rules (Queen or Rook contiguity, the optional distance band, what happens to grids that
touch no other grid) are described in :mod:`geo.hotspots`. :func:`grid_weights` builds the
weights once per grid set; :func:`weights_for` accepts them, a libpysal Graph or W, or
nothing (Queen contiguity built on the spot).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from geo import coords

if TYPE_CHECKING:
    from libpysal.graph import Graph
    from libpysal.weights import W

__all__ = ["GridWeights", "IslandPolicy", "grid_weights", "to_metric_crs", "weights_for"]

IslandPolicy = Literal["nearest", "exclude"]


@dataclass(frozen=True, eq=False)
class GridWeights:
    """Binary neighbour weights over a grid set, built once and reused.

    Attributes
    ----------
    codes : pandas.Index
        Grid codes in the order of the weights.
    graph : libpysal.graph.Graph
        Binary neighbours (contiguity, any distance band, island links), no self-weights.
    islands : tuple of str
        Codes of grids with no neighbour by contiguity (or the distance band, if any),
        before any island links.
    policy : {"nearest", "exclude"}
        How islands were handled (see :func:`grid_weights`).

    """

    codes: pd.Index
    graph: Graph
    islands: tuple[str, ...]
    policy: IslandPolicy

    @cached_property
    def star(self) -> Graph:
        """The same neighbours with each grid its own neighbour (weight 1), for Gi*."""
        return self.graph.assign_self_weight(1)

    @cached_property
    def adjacency(self) -> sparse.csr_matrix:
        """Binary neighbour matrix without the diagonal, rows and columns in ``codes`` order."""
        a = sparse.csr_matrix(self.graph.sparse, dtype=np.float64)
        a.setdiag(0)
        a.eliminate_zeros()
        a.data[:] = 1.0
        return a

    @cached_property
    def cardinalities(self) -> npt.NDArray[np.int64]:
        """Number of neighbours of each grid (island links included)."""
        return np.diff(self.adjacency.indptr).astype(np.int64)

    @property
    def excluded(self) -> npt.NDArray[np.bool_]:
        """True for grids left out of the analysis (islands under ``policy="exclude"``)."""
        if self.policy == "exclude":
            return self.codes.isin(self.islands)
        return np.zeros(len(self.codes), dtype=bool)


def grid_weights(grids: gpd.GeoDataFrame, *, code_col: str = "code", rook: bool = False,
                 distance_m: float | None = None, islands: IslandPolicy = "nearest",
                 island_k: int = 1) -> GridWeights:
    """Build contiguity weights for ``grids``, handling grids with no neighbour.

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Grid polygons with a unique code column.
    code_col : str
        Column holding the grid code.
    rook : bool
        Neighbours must share an edge (Rook) rather than any boundary point (Queen).
    distance_m : float, optional
        Also make grids neighbours when their centroids lie within this many metres
        (a distance band added to contiguity). Small urban grids have few contiguous
        neighbours; a band of about 800 m gives them enough to see a cluster spread over
        dozens of grids, while large rural grids keep their contiguous neighbours.
    islands : {"nearest", "exclude"}
        "nearest" links each grid that touches no other grid to its ``island_k`` nearest
        grids by centroid distance (in a metric CRS), both ways. "exclude" keeps islands
        without neighbours; :func:`dispute_hotspots` then leaves them out.
    island_k : int
        Number of nearest grids an island is linked to.

    Returns
    -------
    GridWeights

    """
    if islands not in ("nearest", "exclude"):
        raise ValueError(f"islands must be 'nearest' or 'exclude', not {islands!r}")
    if island_k < 1:
        raise ValueError("island_k must be at least 1")
    # Deferred, like esda: libpysal takes about a second to import.
    from libpysal.graph import Graph
    codes = pd.Index(grids[code_col].astype(str), name=code_col)
    if not codes.is_unique:
        raise ValueError(f"grid codes in {code_col!r} are not unique")
    geoms = gpd.GeoSeries(grids.geometry.values, index=codes, crs=grids.crs)
    contiguity = Graph.build_contiguity(geoms, rook=rook)
    a = sparse.csr_matrix(contiguity.sparse, dtype=np.float64)
    a.setdiag(0)
    a.eliminate_zeros()
    xy = None
    if distance_m is not None:
        xy = shapely.get_coordinates(to_metric_crs(geoms).centroid.values)
        tree = cKDTree(xy)
        band = tree.sparse_distance_matrix(tree, distance_m, output_type="coo_matrix")
        a = a + sparse.csr_matrix((np.ones(band.nnz), (band.row, band.col)), shape=a.shape)
        a.setdiag(0)
        a.eliminate_zeros()
        a.data[:] = 1.0
    island_idx = np.flatnonzero(np.diff(a.indptr) == 0)
    if islands == "nearest" and len(island_idx) and len(codes) > 1:
        if xy is None:
            xy = shapely.get_coordinates(to_metric_crs(geoms).centroid.values)
        k = min(island_k, len(codes) - 1)
        _, nearest = cKDTree(xy).query(xy[island_idx], k=k + 1)
        nearest = np.atleast_2d(nearest)
        # Column 0 is the island itself unless another centroid coincides with it.
        rows, cols = [], []
        for i, row in zip(island_idx, nearest, strict=True):
            others = [j for j in row if j != i][:k]
            rows += [i] * len(others) + others
            cols += others + [i] * len(others)
        links = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=a.shape)
        a = a + links
        a.data[:] = 1.0
    graph = Graph.from_sparse(a.tocsr(), ids=codes.to_numpy())
    return GridWeights(codes=codes, graph=graph,
                       islands=tuple(codes[island_idx]), policy=islands)


def knn_weights(grids: gpd.GeoDataFrame, *, k: int = 8, code_col: str = "code") -> GridWeights:
    """Build adaptive neighbours: each grid's ``k`` nearest grids by centroid distance.

    A fixed band is wide in town and narrow in the countryside, where grids are kilometres
    across; k nearest gives a small urban grid and a large rural one the same number of
    neighbours, whatever their size. No grid is an island.
    """
    from libpysal.graph import Graph

    if k < 1:
        raise ValueError("k must be at least 1")
    codes = pd.Index(grids[code_col].astype(str), name=code_col)
    if not codes.is_unique:
        raise ValueError(f"grid codes in {code_col!r} are not unique")
    geoms = gpd.GeoSeries(grids.geometry.values, index=codes, crs=grids.crs)
    xy = shapely.get_coordinates(to_metric_crs(geoms).centroid.values)
    k = min(k, len(codes) - 1)
    _, nearest = cKDTree(xy).query(xy, k=k + 1)
    nearest = np.atleast_2d(nearest)
    rows = np.repeat(np.arange(len(codes)), k)
    # Column 0 is the grid itself (unless centroids coincide: then drop whichever is self).
    cols = np.array([[j for j in row if j != i][:k] for i, row in enumerate(nearest)]).ravel()
    a = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(codes), len(codes)))
    graph = Graph.from_sparse(a, ids=codes.to_numpy())
    return GridWeights(codes=codes, graph=graph, islands=(), policy="nearest")


def to_metric_crs(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Project ``geoms`` (no CRS: WGS84) to the metric CRS of their bounding box's centre."""
    wgs = geoms.to_crs(4326) if geoms.crs is not None else geoms.set_crs(4326)
    lon0, lat0 = _centre(wgs)
    return wgs.to_crs(coords.metric_crs(lon0, lat0))


def _centre(wgs: gpd.GeoSeries) -> tuple[float, float]:
    b = wgs.total_bounds
    return (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0


def weights_for(grids: gpd.GeoDataFrame, weights: GridWeights | Graph | W | None, *,
                 code_col: str, islands: IslandPolicy, island_k: int) -> GridWeights:
    """Return ``weights`` as :class:`GridWeights`, building Queen contiguity when None.

    A bare libpysal Graph or W (ids = grid codes) is taken as binary neighbours, its
    isolates left out (``policy="exclude"``).
    """
    if weights is None:
        return grid_weights(grids, code_col=code_col, islands=islands, island_k=island_k)
    from libpysal.graph import Graph
    from libpysal.weights import W
    if isinstance(weights, W):
        weights = Graph.from_W(weights)
    if isinstance(weights, Graph):
        codes = pd.Index(np.asarray(weights.unique_ids).astype(str), name=code_col)
        card = np.asarray(weights.cardinalities.reindex(weights.unique_ids))
        return GridWeights(codes=codes, graph=weights,
                           islands=tuple(codes[card == 0]), policy="exclude")
    return weights

