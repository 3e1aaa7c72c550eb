"""Dispute hotspots: Getis-Ord Gi* with FDR, a smoothed density surface, emerging trends.

Three views of where disputes (矛盾纠纷) gather, all pure functions on GeoDataFrames and
DataFrames (no SQL: the caller reads dispute rows or per-grid counts through
:mod:`geo.store`):

* :func:`dispute_hotspots` -- Getis-Ord Gi* per grid (PySAL ``esda.G_Local`` with
  ``star=True``) on dispute counts or rates per 1,000 residents, and ArcGIS-style
  ``gi_bin`` classes (+3 … -3: hot or cold at 99/95/90% confidence, 0 = not significant)
  after Benjamini-Hochberg False Discovery Rate correction.
* :func:`dispute_density` -- a Gaussian kernel density surface of dispute points on a
  regular cell grid in a metric CRS, so a map can show it without sending raw points.
* :func:`emerging_hotspots` -- weekly Gi* per grid plus a Mann-Kendall trend test, giving
  ArcGIS Emerging Hot Spot Analysis classes (new, consecutive, intensifying, persistent,
  diminishing, sporadic, oscillating, historical hot or cold spots).

Neighbours
----------
Grids are neighbours when they share a boundary point (Queen contiguity, libpysal
``Graph.build_contiguity``; vertex-based, like ``libpysal.weights.Queen``). A grid that
touches no other grid (an "island": an enclave cut off by a river, a lake-shore grid, a
data error) is by default attached to its ``island_k`` nearest grids by centroid distance
in a metric CRS, both ways so the weights stay symmetric. With ``islands="exclude"``
islands are left out of the analysis instead: they get no z-score, ``gi_bin`` 0 and
``excluded`` True. ``distance_m`` adds a distance band to contiguity: small urban grids
have only about five contiguous neighbours, and on the demo Queen weights find 3 of the 4
planted dispute clusters, Queen plus an 800 m band all 4 (with still no false hot spot on
uniform random data). :func:`grid_weights` builds the weights once per grid set; pass the
result as ``weights=`` to reuse it across windows and weeks.

Gi* is computed on binary weights with the grid itself included (``transform="B"``). For
contiguity, row-standardising does not change Gi* (every weight of a row is scaled by the
same factor, which cancels in the z-score), but esda's analytic variance assumes binary
weights: with ``transform="R"`` its ``Zs`` come out shrunk towards 0 (checked: about half
the Ord-Getis value on a 5×5 lattice). The binary z-score is exactly the Ord & Getis (1995)
Gi* z-score that ArcGIS reports as ``GiZScore``.

Which p-value
-------------
Disputes are sparse: the Yiyang demo has 926 in 8 months over 6,017 grids, so most grids
count 0 in any window. That breaks both p-values esda offers:

* the normal p-value from the z-score (ArcGIS's choice) assumes the neighbourhood sum is
  roughly normal. For sparse counts it is strongly right-skewed, and the p-values are far
  too small: 926 disputes placed uniformly at random over the demo's grids give about 75
  "significant" grids after FDR (100 disputes: about 530);
* esda's permutation ``p_sim`` is "directed" (folded to the nearer tail). With many tied
  zeros a grid whose whole neighbourhood is 0 gets ``p_sim`` = 0.001 towards *low*: on the
  demo it marks 4,400 grids as significant. Even with the tails counted properly, 999
  permutations cannot give a two-sided p below 0.002; under FDR over 6,000 grids that
  needs more than 1,200 discoveries before anything reaches 99% confidence.

The default ``p_value="exact"`` therefore computes the conditional-randomisation p-value
(the permutation test esda approximates, as if with infinitely many permutations) without
sampling: holding grid i's own value fixed, the sum over its k neighbours is compared with the sum
of k values drawn at random from the other grids' values, whose distribution is the k-fold
convolution of their value histogram (by FFT). Draws are taken with replacement, which for
thousands of grids equals drawing without replacement to within 1/n and is slightly
conservative on tiny grid sets. Non-integer values (rates) and counts above 1,000 are
quantised to 1,000 steps of the largest value for the tail computation only. The p-value
is two-sided (twice the tail on the side of the z-score, capped at 1), as ArcGIS's Gi*
p-values are. Uniform random disputes then give no significant grid after FDR (checked at
30 to 60,000 disputes). ``p_value="normal"`` (ArcGIS parity, for dense data) and
``p_value="permutation"`` (esda's conditional permutations with a fixed ``seed``, both
tails counted, ties included) are there for comparison.

False Discovery Rate
--------------------
As ArcGIS's Gi_Bin with FDR: for each confidence level (90, 95, 99%) the Benjamini-Hochberg
threshold at alpha = 0.10, 0.05, 0.01 is computed over the analysed grids with
``esda.fdr``, and a grid gets the highest level whose threshold its p-value meets, signed
by its z-score.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.fft as sfft
import shapely
from pyproj import Transformer
from scipy import ndimage, sparse, stats
from scipy.spatial import cKDTree

from geo import coords

if TYPE_CHECKING:
    from libpysal.graph import Graph
    from libpysal.weights import W

__all__ = [
    "DensitySurface",
    "GridWeights",
    "classify_emerging",
    "density_bandwidth",
    "dispute_density",
    "dispute_hotspots",
    "disputes_per_grid",
    "emerging_hotspots",
    "gi_bins",
    "gi_star",
    "grid_weights",
    "hotspot_clusters",
    "mann_kendall",
    "weekly_gi_star",
]

PValue = Literal["exact", "normal", "permutation"]
IslandPolicy = Literal["nearest", "exclude"]

#: (gi_bin level, FDR alpha): 3 = 99%, 2 = 95%, 1 = 90% confidence.
CONFIDENCE_LEVELS = ((3, 0.01), (2, 0.05), (1, 0.10))
#: Emerging-trend pattern names, hot or cold (see :func:`classify_emerging`).
PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing",
            "sporadic", "oscillating", "historical")
NO_PATTERN = "no_pattern"
# Quantisation steps for the exact tail of non-integer or large values: the convolution
# length is k_max × _LEVELS, a few tens of thousands at most.
_LEVELS = 1000
# Above this many distinct values the pool is not corrected for grid i itself (an O(1/n)
# effect), which would cost one convolution per distinct value.
_SELF_EXCLUSION_MAX_DISTINCT = 256


# --------------------------------------------------------------------------- weights


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
        xy = shapely.get_coordinates(_to_metric_crs(geoms).centroid.values)
        tree = cKDTree(xy)
        band = tree.sparse_distance_matrix(tree, distance_m, output_type="coo_matrix")
        a = a + sparse.csr_matrix((np.ones(band.nnz), (band.row, band.col)), shape=a.shape)
        a.setdiag(0)
        a.eliminate_zeros()
        a.data[:] = 1.0
    island_idx = np.flatnonzero(np.diff(a.indptr) == 0)
    if islands == "nearest" and len(island_idx) and len(codes) > 1:
        if xy is None:
            xy = shapely.get_coordinates(_to_metric_crs(geoms).centroid.values)
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


def _to_metric_crs(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    wgs = geoms.to_crs(4326) if geoms.crs is not None else geoms.set_crs(4326)
    lon0, lat0 = _centre(wgs)
    return wgs.to_crs(coords.metric_crs(lon0, lat0))


def _centre(wgs: gpd.GeoSeries) -> tuple[float, float]:
    b = wgs.total_bounds
    return (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0


# --------------------------------------------------------------------------- inputs


def _select_disputes(disputes: pd.DataFrame, *, since: datetime | None,
                     until: datetime | None, category: str | None) -> pd.DataFrame:
    """Keep dispute rows reported in [since, until)."""
    keep = np.ones(len(disputes), dtype=bool)
    if category is not None and "category" in disputes.columns:
        keep &= (disputes["category"] == category).to_numpy()
    if since is not None or until is not None:
        if "reported_at" not in disputes.columns:
            raise ValueError("since/until need a 'reported_at' column")
        t = pd.to_datetime(disputes["reported_at"])
        if since is not None:
            keep &= (t >= pd.Timestamp(since)).to_numpy()
        if until is not None:
            keep &= (t < pd.Timestamp(until)).to_numpy()
    return disputes[keep]


def disputes_per_grid(disputes: pd.Series | pd.DataFrame, codes: Iterable[str], *,
                      since: datetime | None = None, until: datetime | None = None,
                      category: str | None = "dispute") -> pd.Series:
    """Count disputes per grid, 0 for grids with none.

    Parameters
    ----------
    disputes : pandas.Series or pandas.DataFrame
        One of: a Series of counts indexed by grid code; a per-grid count frame with
        ``grid_code`` and a ``disputes`` (or ``count``) column, as
        :func:`geo.store.request_counts_per_grid` returns; or request rows with
        ``grid_code`` (and ``category`` / ``reported_at`` for the filters below).
    codes : iterable of str
        The grid codes to report, in order.
    since, until : datetime, optional
        Only rows reported in [since, until) (request rows only).
    category : str or None
        Only rows of this category when the rows have a ``category`` column.

    Returns
    -------
    pandas.Series
        int64 counts indexed by grid code, named ``disputes``. Counts for codes not in
        ``codes`` (or with no grid) are dropped.

    """
    index = pd.Index(list(codes), dtype=object)
    if isinstance(disputes, pd.Series):
        counts = disputes
    elif "grid_code" not in disputes.columns:
        raise ValueError("disputes needs a 'grid_code' column or a Series by grid code")
    elif {"disputes", "count"} & set(disputes.columns):
        if since is not None or until is not None:
            raise ValueError("since/until apply to request rows, not to per-grid counts")
        col = "disputes" if "disputes" in disputes.columns else "count"
        counts = disputes.groupby("grid_code")[col].sum()
    else:
        rows = _select_disputes(disputes, since=since, until=until, category=category)
        counts = rows["grid_code"].value_counts()
    counts = pd.to_numeric(counts, errors="raise").fillna(0)
    counts.index = counts.index.astype(str)
    out = counts.reindex(index, fill_value=0)
    if (out < 0).any():
        raise ValueError("dispute counts must not be negative")
    return out.astype(np.int64).rename("disputes")


# --------------------------------------------------------------------------- Gi*


def _exact_tails(values: npt.NDArray[np.float64], adjacency: sparse.csr_matrix
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return P(S >= s_i) and P(S <= s_i) for each grid's neighbour sum s_i.

    S is the sum of k_i values drawn (with replacement) from the other grids' values, the
    conditional-randomisation null of Gi* with grid i's own value held fixed.
    """
    n = len(values)
    vmax = float(values.max()) if n else 0.0
    integral = np.all(values == np.round(values))
    if integral and vmax <= _LEVELS:
        q = np.round(values).astype(np.int64)
    else:  # rates or very large counts: quantise for the tail computation only
        q = np.round(values / vmax * _LEVELS).astype(np.int64)
    card = np.diff(adjacency.indptr)
    s = np.rint(adjacency @ q.astype(np.float64)).astype(np.int64)
    p_hi = np.ones(n)
    p_lo = np.ones(n)
    ks = np.unique(card[card > 0])
    if len(ks) == 0 or n < 2:
        return p_hi, p_lo
    hist = np.bincount(q).astype(np.float64)
    length = sfft.next_fast_len(int(ks.max()) * (len(hist) - 1) + 1, real=True)
    distinct = np.unique(q)
    per_value = len(distinct) <= _SELF_EXCLUSION_MAX_DISTINCT
    for v in distinct if per_value else [None]:
        pool = hist.copy()
        if v is not None:
            pool[v] -= 1.0  # the others' values: grid i's own is held fixed
        pool /= pool.sum()
        spectrum = sfft.rfft(pool, length)
        pmf = sfft.irfft(spectrum[None, :] ** ks[:, None], length, axis=1)
        np.clip(pmf, 0.0, None, out=pmf)  # FFT round-off leaves tiny negatives
        cdf = np.minimum(np.cumsum(pmf, axis=1), 1.0)
        sf = np.minimum(np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1], 1.0)
        rows = (q == v) if v is not None else np.ones(n, dtype=bool)
        for j, k in enumerate(ks):
            r = rows & (card == k)
            p_hi[r] = sf[j, s[r]]
            p_lo[r] = cdf[j, s[r]]
    return p_hi, p_lo


#: Simulated sums held in memory at once by :func:`_permutation_tails` (float64 values).
_PERMUTATION_CHUNK = 4_000_000


def _permutation_tails(values: npt.NDArray[np.float64], adjacency: sparse.csr_matrix, *,
                       permutations: int, seed: int
                       ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Both one-sided pseudo p-values of each grid's neighbour sum, ties counted each side.

    Conditional randomisation as esda's ``crand`` does it: each permutation draws, once for
    all grids, ``k_max`` distinct positions among the n − 1 *other* grids; grid i's k
    neighbours become the values at the first k positions, with positions at or after i
    shifted by one so that i itself is never drawn. esda builds that array of the others
    by copying all n values for each grid, which is quadratic in the grid count (4.4 s of
    a province's 11 s); here the shift is applied to the positions instead, in chunks.
    Gi*'s denominator (the sum of every value) is the same in every permutation, so
    comparing neighbour sums compares the Gi* statistics.
    """
    n = len(values)
    card = np.diff(adjacency.indptr)
    observed = adjacency @ values
    p_hi = np.ones(n)
    p_lo = np.ones(n)
    k_max = int(card.max()) if n else 0
    if n < 2 or k_max == 0:
        return p_hi, p_lo
    rng = np.random.default_rng(seed)
    k_draw = min(k_max, n - 1)
    draws = np.stack([rng.choice(n - 1, size=k_draw, replace=False)
                      for _ in range(permutations)])
    for k in np.unique(card[card > 0]):
        first = draws[:, :min(int(k), k_draw)]
        rows = np.flatnonzero(card == k)
        step = max(1, _PERMUTATION_CHUNK // (permutations * first.shape[1]))
        for start in range(0, len(rows), step):
            i = rows[start:start + step]
            pos = first[None, :, :] + (first[None, :, :] >= i[:, None, None])
            sims = values[pos].sum(axis=2)
            obs = observed[i][:, None]
            tol = 1e-9 * np.maximum(np.abs(obs), 1.0)  # sums added in another order
            p_hi[i] = ((sims >= obs - tol).sum(axis=1) + 1.0) / (permutations + 1.0)
            p_lo[i] = ((sims <= obs + tol).sum(axis=1) + 1.0) / (permutations + 1.0)
    return p_hi, p_lo


def gi_bins(z: npt.ArrayLike, p: npt.ArrayLike, *, fdr: bool = True) -> npt.NDArray[np.int8]:
    """Classify Gi* results as ArcGIS's Gi_Bin: +3/+2/+1 hot, -1/-2/-3 cold, 0 neither.

    Parameters
    ----------
    z : array_like
        Gi* z-scores; their sign says hot (+) or cold (-).
    p : array_like
        Two-sided p-values; NaN for grids not analysed (they get 0 and are not counted
        as tests).
    fdr : bool
        Apply Benjamini-Hochberg FDR correction (``esda.fdr``) separately at alpha 0.10,
        0.05 and 0.01; otherwise compare p with those alphas directly.

    Returns
    -------
    numpy.ndarray of int8

    """
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    out = np.zeros(len(p), dtype=np.int8)
    tested = np.isfinite(p) & np.isfinite(z)
    if not tested.any():
        return out
    import esda  # deferred: importing esda takes about 2 s (it pulls in scikit-learn)

    pt = p[tested]
    level = np.zeros(len(pt), dtype=np.int8)
    # Strictest first: BH rejections at a smaller alpha are a subset of those at a larger.
    for value, alpha in CONFIDENCE_LEVELS:
        threshold = esda.fdr(pt, alpha) if fdr else alpha
        level[(pt <= threshold) & (level == 0)] = value
    out[tested] = level * np.sign(z[tested]).astype(np.int8)
    return out


def gi_star(values: pd.Series, weights: GridWeights, *, p_value: PValue = "exact",
            permutations: int = 999, seed: int = 12345, fdr: bool = True) -> pd.DataFrame:
    """Compute Getis-Ord Gi* for one value per grid.

    Parameters
    ----------
    values : pandas.Series
        Non-negative value per grid code (a count or a rate); NaN leaves a grid out.
        Must cover ``weights.codes``.
    weights : GridWeights
        Neighbours from :func:`grid_weights`.
    p_value : {"exact", "normal", "permutation"}
        Which two-sided p-value classifies the grids (see the module docstring).
    permutations : int
        Conditional permutations for ``p_value="permutation"``.
    seed : int
        Seed of esda's permutations, so results are reproducible.
    fdr : bool
        Correct for the False Discovery Rate (Benjamini-Hochberg).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``weights.codes``: ``gi_z`` (Ord-Getis z-score), ``gi_p`` (two-sided
        p-value), ``gi_bin`` (int8, +3 … -3), ``neighbours`` (count, island links
        included) and ``excluded`` (not analysed: an excluded island or a missing value).

    """
    if p_value not in ("exact", "normal", "permutation"):
        raise ValueError(f"p_value must be 'exact', 'normal' or 'permutation', not {p_value!r}")
    y_all = values.reindex(weights.codes).to_numpy(dtype=np.float64)
    if np.any(y_all < 0):
        raise ValueError("Gi* values must not be negative")
    include = np.isfinite(y_all) & ~weights.excluded
    n = len(y_all)
    z = np.full(n, np.nan)
    p = np.full(n, np.nan)
    y = y_all[include]
    if include.all():
        star, adjacency = weights.star, weights.adjacency
    else:
        star = weights.star.subgraph(weights.codes[include].to_numpy())
        adjacency = weights.adjacency[include][:, include]
    if len(y) and np.ptp(y) == 0:  # all equal (e.g. no dispute at all): nothing stands out
        z[include], p[include] = 0.0, 1.0
    elif len(y):
        import esda

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # esda's 'alternative' notice
            # The analytic z-scores only: the permutations are drawn below, in linear time.
            local = esda.G_Local(y, star, transform="B", star=True, permutations=0,
                                 n_jobs=1)
        zi = np.asarray(local.Zs, dtype=np.float64)
        if p_value == "normal":
            pi = 2.0 * stats.norm.sf(np.abs(zi))
        else:
            p_hi, p_lo = (_exact_tails(y, adjacency) if p_value == "exact"
                          else _permutation_tails(y, adjacency, permutations=permutations,
                                                  seed=seed))
            pi = np.where(zi > 0, p_hi, np.where(zi < 0, p_lo, 0.5))
            pi = np.minimum(1.0, 2.0 * pi)
        z[include], p[include] = zi, pi
    return pd.DataFrame({
        "gi_z": z,
        "gi_p": p,
        "gi_bin": gi_bins(z, p, fdr=fdr),
        "neighbours": weights.cardinalities,
        "excluded": ~include,
    }, index=weights.codes)


def _weights_for(grids: gpd.GeoDataFrame, weights: GridWeights | Graph | W | None, *,
                 code_col: str, islands: IslandPolicy, island_k: int) -> GridWeights:
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


def dispute_hotspots(
    grids: gpd.GeoDataFrame, disputes: pd.Series | pd.DataFrame, *,
    since: datetime | None = None, until: datetime | None = None,
    measure: Literal["count", "rate"] = "count", per: float = 1000.0,
    weights: GridWeights | Graph | W | None = None, p_value: PValue = "exact",
    permutations: int = 999, seed: int = 12345, fdr: bool = True,
    islands: IslandPolicy = "nearest", island_k: int = 1,
    code_col: str = "code", population_col: str = "population",
) -> gpd.GeoDataFrame:
    """Find dispute hot and cold spots per grid with Getis-Ord Gi* and FDR.

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Grid polygons (any CRS; returned as given) with ``code_col`` and, for rates,
        ``population_col``.
    disputes : pandas.Series or pandas.DataFrame
        Dispute counts per grid or dispute rows; see :func:`disputes_per_grid`.
    since, until : datetime, optional
        The window [since, until) when ``disputes`` holds request rows.
    measure : {"count", "rate"}
        Analyse counts, or disputes per ``per`` residents. Rates are undefined for grids
        without residents, which are then left out (``excluded``). Rates of small grids
        swing widely; counts are the steadier default.
    per : float
        Residents per rate unit (1,000: disputes per 1,000 residents).
    weights : GridWeights, libpysal.graph.Graph or libpysal.weights.W, optional
        Prebuilt weights (:func:`grid_weights`) to reuse; a bare Graph or W (ids = grid
        codes) is taken as binary neighbours, its isolates left out. Default: Queen
        contiguity built here.
    p_value : {"exact", "normal", "permutation"}
        Which two-sided p-value classifies the grids; see the module docstring.
    permutations : int
        Number of conditional permutations for ``p_value="permutation"``.
    seed : int
        Seed for the permutations, so repeated runs agree.
    fdr : bool
        Correct for the False Discovery Rate (Benjamini-Hochberg), as ArcGIS's option.
    islands : {"nearest", "exclude"}
        Island policy when the weights are built here; see :func:`grid_weights`.
    island_k : int
        Nearest grids an island is linked to under ``islands="nearest"``.
    code_col, population_col : str
        Column names in ``grids``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per grid in ``grids`` order: ``code``, ``disputes``, ``population`` and
        ``rate`` (for rates), ``value`` (what was analysed), ``gi_z``, ``gi_p``,
        ``gi_bin`` (+3 hot 99% … -3 cold 99%, 0 not significant), ``neighbours``,
        ``island`` (touches no other grid), ``excluded`` and the grid geometry.

    """
    if measure not in ("count", "rate"):
        raise ValueError(f"measure must be 'count' or 'rate', not {measure!r}")
    w = _weights_for(grids, weights, code_col=code_col, islands=islands, island_k=island_k)
    codes = pd.Index(grids[code_col].astype(str))
    if not codes.isin(w.codes).all() or len(codes) != len(w.codes):
        raise ValueError("weights do not match the grids' codes")
    counts = disputes_per_grid(disputes, codes, since=since, until=until)
    out = pd.DataFrame({"code": codes, "disputes": counts.to_numpy()}, index=codes)
    if measure == "rate":
        pop = pd.to_numeric(grids[population_col], errors="coerce").to_numpy(dtype=float)
        out["population"] = pop
        with np.errstate(divide="ignore", invalid="ignore"):
            out["rate"] = np.where(pop > 0, out["disputes"] / pop * per, np.nan)
        out["value"] = out["rate"]
    else:
        out["value"] = out["disputes"].astype(np.float64)
    result = gi_star(out["value"], w, p_value=p_value, permutations=permutations,
                     seed=seed, fdr=fdr).reindex(codes)
    out = out.join(result)
    out["island"] = codes.isin(w.islands)
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=grids.geometry.values,
                            crs=grids.crs)


def hotspot_clusters(result: gpd.GeoDataFrame, weights: GridWeights, *, min_bin: int = 1,
                     code_col: str = "code") -> gpd.GeoDataFrame:
    """Group hot-spot grids that are neighbours into clusters (片区), largest first.

    On a city-wide map a hot spot of a dozen small urban grids is a few pixels; one marker
    per cluster shows where to look. Two hot grids belong to one cluster when they are
    neighbours under ``weights`` (the weights the Gi* used), or are linked through other
    hot grids.

    Parameters
    ----------
    result : geopandas.GeoDataFrame
        The output of :func:`dispute_hotspots` (``code_col``, ``disputes``, ``gi_bin``,
        ``gi_z`` and geometry).
    weights : GridWeights
        The neighbours the Gi* ran on.
    min_bin : int
        Smallest ``gi_bin`` that counts as hot (1: 90% confidence).
    code_col : str
        Column holding the grid code.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cluster on a 1-based ``cluster`` index, ordered by disputes then grids
        (descending): ``grids`` (count), ``codes`` (tuple of grid codes), ``disputes``,
        ``max_bin``, ``max_z``, ``top_code`` (the grid with the largest z), ``lon``/``lat``
        (the top grid's representative point) and that point as geometry, EPSG:4326.

    """
    if min_bin < 1 or min_bin > 3:
        raise ValueError("min_bin must be 1, 2 or 3")
    columns = ["grids", "codes", "disputes", "max_bin", "max_z", "top_code", "lon", "lat"]
    codes = pd.Index(result[code_col].astype(str))
    hot = (result["gi_bin"].to_numpy() >= min_bin)
    if not hot.any():
        empty = pd.DataFrame({c: [] for c in columns},
                             index=pd.RangeIndex(1, 1, name="cluster"))
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    pos = weights.codes.get_indexer(codes[hot])
    if (pos < 0).any():
        raise ValueError("result holds grid codes the weights do not know")
    sub = weights.adjacency[pos][:, pos]
    from scipy.sparse.csgraph import connected_components
    _, label = connected_components(sub, directed=False)
    rows = pd.DataFrame({
        "code": codes[hot], "label": label,
        "disputes": result["disputes"].to_numpy()[hot],
        "gi_bin": result["gi_bin"].to_numpy()[hot],
        "gi_z": result["gi_z"].to_numpy(dtype=float)[hot],
    })
    wgs = result.geometry.to_crs(4326) if result.crs is not None else result.geometry
    points = shapely.point_on_surface(np.asarray(wgs.values)[hot])
    rows["lon"], rows["lat"] = shapely.get_x(points), shapely.get_y(points)
    top = rows.sort_values(["gi_z", "code"], ascending=[False, True]).groupby("label").head(1)
    top = top.set_index("label")
    groups = rows.groupby("label")
    out = pd.DataFrame({
        "grids": groups.size(),
        "codes": groups["code"].apply(lambda c: tuple(sorted(c))),
        "disputes": groups["disputes"].sum().astype(np.int64),
        "max_bin": groups["gi_bin"].max().astype(np.int8),
        "max_z": groups["gi_z"].max(),
        "top_code": top["code"], "lon": top["lon"], "lat": top["lat"],
    })
    out = out.sort_values(["disputes", "grids", "top_code"], ascending=[False, False, True])
    out.index = pd.RangeIndex(1, len(out) + 1, name="cluster")
    return gpd.GeoDataFrame(out[columns], geometry=gpd.points_from_xy(out["lon"], out["lat"]),
                            crs=4326)


# --------------------------------------------------------------------------- density


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
    rows = _select_disputes(disputes, since=since, until=until, category=category)
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
    geoms = geoms[geoms.notna() & ~geoms.is_empty]
    if len(geoms) == 0:
        return float(min_m)
    minx, miny, maxx, maxy = _to_metric_crs(gpd.GeoSeries(geoms.values, crs=geoms.crs)
                                            ).total_bounds
    diagonal = float(np.hypot(maxx - minx, maxy - miny))
    raw = round(diagonal / divisions / step_m) * step_m
    return float(min(max(raw, min_m), max_m))


# --------------------------------------------------------------------------- trends


def mann_kendall(series: npt.ArrayLike) -> tuple[npt.NDArray[np.float64],
                                                 npt.NDArray[np.float64]]:
    """Mann-Kendall trend test on each row of a 2-D array (time along axis 1).

    S = Σ_{i<j} sign(x_j - x_i), Var(S) = [n(n-1)(2n+5) - Σ t(t-1)(2t+5)] / 18 over
    groups of tied values, Z = S / sqrt(Var(S)) (no continuity correction, so the
    p-value equals ``scipy.stats.kendalltau(range(n), x, method="asymptotic")``).

    Parameters
    ----------
    series : array_like
        Shape (grids, time steps).

    Returns
    -------
    tau, p : numpy.ndarray
        Kendall's tau-b between time and value, and its two-sided p-value (1 where the
        series is constant).

    """
    x = np.atleast_2d(np.asarray(series, dtype=np.float64))
    n = x.shape[1]
    diff = np.sign(x[:, None, :] - x[:, :, None])  # [g, i, j] = sign(x_j - x_i)
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    s = diff[:, upper].sum(axis=1)
    tied = (x[:, :, None] == x[:, None, :]).sum(axis=2)  # size of each value's tie group
    ties = ((tied - 1) * (2 * tied + 5)).sum(axis=1)  # = Σ_groups t(t-1)(2t+5)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    pairs = n * (n - 1) / 2.0
    # Pairs tied in value, for tau-b: Σ_groups t(t-1)/2 = Σ_elements (t-1)/2.
    tied_pairs = ((tied - 1) / 2.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, s / np.sqrt(var), 0.0)
        tau = np.where(pairs > tied_pairs, s / np.sqrt(pairs * (pairs - tied_pairs)), 0.0)
    p = np.where(var > 0, 2.0 * stats.norm.sf(np.abs(z)), 1.0)
    return tau, p


def classify_emerging(z: npt.ArrayLike, bins: npt.ArrayLike, *, trend_alpha: float = 0.05
                      ) -> pd.DataFrame:
    """Classify each grid's weekly Gi* series as ArcGIS Emerging Hot Spot Analysis does.

    A week counts as a hot (cold) spot when its ``bins`` entry is positive (negative), i.e.
    significant after FDR at the confidence chosen for the weekly maps. With T weeks, the
    last one final, H the hot weeks and "≥ 90%" meaning at least 0.9 × T of them, the hot
    patterns are, first match wins:

    new
        hot in the final week and in no earlier week.
    consecutive
        a single run of at least 2 hot weeks ending in the final week, no hot week before
        the run, and fewer than 90% of weeks hot.
    historical
        hot in ≥ 90% of weeks but not in the final week.
    intensifying
        hot in ≥ 90% of weeks including the final one, and the Mann-Kendall trend of the
        z-scores is up (tau > 0, p < ``trend_alpha``).
    diminishing
        as intensifying, with the trend down (tau < 0, p < ``trend_alpha``).
    persistent
        hot in ≥ 90% of weeks including the final one, no significant trend.
    oscillating
        hot in the final week, fewer than 90% of weeks hot, and a cold week before.
    sporadic
        hot in the final week, fewer than 90% of weeks hot, on and off (not new or
        consecutive), and never cold.

    Cold patterns mirror these with cold weeks; an intensifying cold spot's z-scores trend
    down, a diminishing one's up. Hot patterns are tried before cold ones (a grid hot in
    the final week cannot be a cold pattern anyway, except historical). Anything else is
    ``no_pattern``. ArcGIS's own tool uses a space-time neighbourhood (the previous
    week's bins too); :func:`weekly_gi_star` approximates it with a trailing window of
    ``window_weeks`` weeks.

    Parameters
    ----------
    z : array_like
        Gi* z-scores, shape (grids, weeks), oldest week first.
    bins : array_like
        Matching ``gi_bin`` values (+3 … -3, 0 not significant).
    trend_alpha : float
        Significance level of the Mann-Kendall test.

    Returns
    -------
    pandas.DataFrame
        ``pattern`` (one of :data:`PATTERNS` or ``no_pattern``), ``spot`` ("hot", "cold"
        or "" for no pattern), ``hot_weeks``, ``cold_weeks``, ``trend_tau``, ``trend_p``.

    """
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    b = np.atleast_2d(np.asarray(bins))
    if z.shape != b.shape:
        raise ValueError("z and bins must have the same shape (grids, weeks)")
    n_grids, t = z.shape
    tau, p_trend = mann_kendall(np.nan_to_num(z))
    pattern = np.full(n_grids, NO_PATTERN, dtype=object)
    spot = np.full(n_grids, "", dtype=object)
    up = (tau > 0) & (p_trend < trend_alpha)
    down = (tau < 0) & (p_trend < trend_alpha)
    for kind, sig, other, strengthens, weakens in (("cold", b < 0, b > 0, down, up),
                                                     ("hot", b > 0, b < 0, up, down)):
        count = sig.sum(axis=1)
        final = sig[:, -1]
        mostly = count >= 0.9 * t
        # Length of the run of significant weeks that ends in the final week.
        run = np.where(final, t - _last_false(sig) - 1, 0)
        new = final & (count == 1)
        consecutive = final & (run >= 2) & (count == run) & ~mostly
        historical = mostly & ~final
        intensifying = mostly & final & strengthens
        diminishing = mostly & final & weakens
        persistent = mostly & final & ~strengthens & ~weakens
        oscillating = final & ~mostly & other.any(axis=1) & ~new & ~consecutive
        sporadic = final & ~mostly & ~other.any(axis=1) & ~new & ~consecutive
        rules = (("new", new), ("consecutive", consecutive), ("historical", historical),
                 ("intensifying", intensifying), ("diminishing", diminishing),
                 ("persistent", persistent), ("oscillating", oscillating),
                 ("sporadic", sporadic))
        # Later rules overwrite earlier ones: apply in reverse so the first match wins;
        # hot is applied after cold so a hot pattern wins over a cold one.
        for name, mask in reversed(rules):
            pattern[mask] = name
            spot[mask] = kind
    hot = (b > 0).sum(axis=1)
    cold = (b < 0).sum(axis=1)
    return pd.DataFrame({"pattern": pattern, "spot": spot, "hot_weeks": hot,
                         "cold_weeks": cold, "trend_tau": tau, "trend_p": p_trend})


def _last_false(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Index of the last False in each row (-1 if none)."""
    t = mask.shape[1]
    idx = np.where(~mask, np.arange(t)[None, :], -1)
    return idx.max(axis=1)


def weekly_gi_star(
    grids: gpd.GeoDataFrame, disputes: pd.DataFrame, *, until: datetime, weeks: int = 12,
    weights: GridWeights | Graph | W | None = None, p_value: PValue = "exact",
    permutations: int = 999, seed: int = 12345, alpha: float = 0.05, window_weeks: int = 2,
    category: str | None = "dispute", islands: IslandPolicy = "nearest",
    island_k: int = 1, code_col: str = "code",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Compute Gi* per grid for each of the last ``weeks`` weeks before ``until``.

    Week t (0 = oldest) covers [until - (weeks - t) × 7 days, until - (weeks - t - 1) ×
    7 days). Weights are built once and reused for every week.

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Grid polygons with ``code_col``.
    disputes : pandas.DataFrame
        Dispute rows with ``grid_code`` and ``reported_at`` (naive UTC).
    until : datetime
        End (exclusive) of the last week.
    weeks : int
        Number of weeks.
    weights, p_value, permutations, seed, islands, island_k, code_col
        As for :func:`dispute_hotspots`.
    alpha : float
        FDR level at which a week counts as a hot or cold spot: 0.10, 0.05 or 0.01
        (ArcGIS-style confidence 90, 95 or 99%).
    window_weeks : int
        Each week's Gi* runs on the disputes of that week and the ``window_weeks - 1``
        weeks before it. 1 is a purely weekly map; the default 2 is like ArcGIS's default
        neighbourhood time step of 1, and steadies sparse weekly counts (on the demo it
        is what lets a cluster of the last 6 weeks show as one unbroken run).
    category : str or None
        Only rows of this category when there is a ``category`` column.

    Returns
    -------
    counts, z, bins : pandas.DataFrame
        Index grid code, one column per week (its start, naive UTC): disputes, Gi*
        z-scores and ``gi_bin`` values thresholded at ``alpha`` (+1 hot, -1 cold, 0).

    """
    levels = {a: v for v, a in CONFIDENCE_LEVELS}
    if alpha not in levels:
        raise ValueError("alpha must be 0.10, 0.05 or 0.01")
    w = _weights_for(grids, weights, code_col=code_col, islands=islands, island_k=island_k)
    codes = pd.Index(grids[code_col].astype(str))
    rows = _select_disputes(disputes, since=None, until=None, category=category)
    if weeks < 1 or window_weeks < 1:
        raise ValueError("weeks and window_weeks must be at least 1")
    end = pd.Timestamp(until)
    starts = [end - timedelta(days=7 * (weeks - t)) for t in range(weeks)]
    first = starts[0] - timedelta(days=7 * (window_weeks - 1))
    t_rep = pd.to_datetime(rows["reported_at"])
    week = np.floor((t_rep - first) / pd.Timedelta(days=7)).to_numpy()
    span = weeks + window_weeks - 1
    in_range = (week >= 0) & (week < span)
    table = pd.crosstab(rows["grid_code"].astype(str).to_numpy()[in_range],
                        week[in_range].astype(np.int64))
    table = table.reindex(index=codes, columns=range(span), fill_value=0).to_numpy()
    counts = pd.DataFrame(table[:, window_weeks - 1:], index=codes, columns=starts)
    windowed = np.cumsum(table, axis=1)
    windowed[:, window_weeks:] = windowed[:, window_weeks:] - windowed[:, :-window_weeks]
    windowed = windowed[:, window_weeks - 1:]
    z = pd.DataFrame(np.nan, index=codes, columns=starts)
    bins = pd.DataFrame(0, index=codes, columns=starts, dtype=np.int8)
    for t, start in enumerate(starts):
        res = gi_star(pd.Series(windowed[:, t], index=codes, dtype=np.float64), w,
                      p_value=p_value, permutations=permutations, seed=seed).reindex(codes)
        z[start] = res["gi_z"]
        bins[start] = np.where(np.abs(res["gi_bin"]) >= levels[alpha],
                               np.sign(res["gi_bin"]), 0).astype(np.int8)
    return counts, z, bins


def emerging_hotspots(
    grids: gpd.GeoDataFrame, disputes: pd.DataFrame, *, until: datetime, weeks: int = 12,
    weights: GridWeights | Graph | W | None = None, p_value: PValue = "exact",
    permutations: int = 999, seed: int = 12345, alpha: float = 0.05,
    trend_alpha: float = 0.05, window_weeks: int = 2, category: str | None = "dispute",
    islands: IslandPolicy = "nearest", island_k: int = 1, code_col: str = "code",
) -> gpd.GeoDataFrame:
    """Classify each grid's dispute trend over the last ``weeks`` weeks (emerging hot spots).

    Weekly Gi* (:func:`weekly_gi_star`) and a Mann-Kendall test on each grid's weekly
    z-scores, classified by :func:`classify_emerging` (whose docstring gives the exact
    rules).

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Grid polygons with ``code_col``.
    disputes : pandas.DataFrame
        Dispute rows with ``grid_code`` and ``reported_at`` (naive UTC).
    until : datetime
        End (exclusive) of the last week.
    weeks : int
        Number of weekly steps (12: about a quarter).
    weights, p_value, permutations, seed, islands, island_k, code_col
        As for :func:`dispute_hotspots`.
    alpha : float
        FDR level of a significant weekly hot or cold spot (0.10, 0.05 or 0.01).
    trend_alpha : float
        Significance level of the Mann-Kendall trend.
    window_weeks : int
        Weeks of disputes behind each weekly Gi*; see :func:`weekly_gi_star`.
    category : str or None
        Only rows of this category when there is a ``category`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        Per grid in ``grids`` order: ``code``, ``pattern``, ``spot``, ``hot_weeks``,
        ``cold_weeks``, ``trend_tau``, ``trend_p``, ``disputes`` (in the whole period),
        ``last_z`` (the final week's z-score) and the geometry.

    """
    w = _weights_for(grids, weights, code_col=code_col, islands=islands, island_k=island_k)
    counts, z, bins = weekly_gi_star(
        grids, disputes, until=until, weeks=weeks, weights=w, p_value=p_value,
        permutations=permutations, seed=seed, alpha=alpha, window_weeks=window_weeks,
        category=category, code_col=code_col)
    classes = classify_emerging(z.to_numpy(), bins.to_numpy(), trend_alpha=trend_alpha)
    classes.insert(0, "code", counts.index.to_numpy())
    classes["disputes"] = counts.sum(axis=1).to_numpy()
    classes["last_z"] = z.iloc[:, -1].to_numpy()
    return gpd.GeoDataFrame(classes, geometry=grids.geometry.values, crs=grids.crs)
