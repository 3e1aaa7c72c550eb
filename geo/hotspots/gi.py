"""Getis-Ord Gi* per grid with FDR-corrected classes, and clusters of hot grids.

:func:`dispute_hotspots` is the entry point; :func:`gi_star` runs Gi* on one value per grid
(esda's ``G_Local`` gives the z-scores) with the p-value chosen as the module docstring of
:mod:`geo.hotspots` explains; :func:`gi_bins` turns z and p into ArcGIS-style classes.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.fft as sfft
import shapely
from scipy import sparse, stats

from geo.hotspots.disputes import disputes_per_grid
from geo.hotspots.weights import GridWeights, IslandPolicy, weights_for

if TYPE_CHECKING:
    from libpysal.graph import Graph
    from libpysal.weights import W

__all__ = ["CONFIDENCE_LEVELS", "PValue", "dispute_hotspots", "eb_rates", "gi_bins", "gi_star",
           "hotspot_clusters"]

PValue = Literal["exact", "normal", "permutation"]

#: (gi_bin level, FDR alpha): 3 = 99%, 2 = 95%, 1 = 90% confidence.
CONFIDENCE_LEVELS = ((3, 0.01), (2, 0.05), (1, 0.10))
# Quantisation steps for the exact tail of non-integer or large values: the convolution
# length is k_max × _LEVELS, a few tens of thousands at most.
_LEVELS = 1000
# Above this many distinct values the pool is not corrected for grid i itself (an O(1/n)
# effect), which would cost one convolution per distinct value.
_SELF_EXCLUSION_MAX_DISTINCT = 256


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


def dispute_hotspots(
    grids: gpd.GeoDataFrame, disputes: pd.Series | pd.DataFrame, *,
    since: datetime | None = None, until: datetime | None = None,
    measure: Literal["count", "rate", "eb_rate"] = "count", per: float = 1000.0,
    denominator: pd.Series | None = None,
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
    measure : {"count", "rate", "eb_rate"}
        Analyse counts, disputes per ``per`` residents, or those rates smoothed by
        Empirical Bayes (esda), which pulls a small grid's rate toward the city's so that
        three disputes among forty residents do not make a hot spot on their own. Counts
        make a dense district hot for being dense; rates ask whether it has more than its
        residents explain. Rates are undefined for grids without residents, which are
        then left out (``excluded``).
    per : float
        Residents per rate unit (1,000: disputes per 1,000 residents).
    denominator : pandas.Series, optional
        Per grid code, what a rate divides by instead of ``population_col`` (for example
        all requests in the window: the share of requests that are disputes).
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
    if measure not in ("count", "rate", "eb_rate"):
        raise ValueError(f"measure must be 'count', 'rate' or 'eb_rate', not {measure!r}")
    w = weights_for(grids, weights, code_col=code_col, islands=islands, island_k=island_k)
    codes = pd.Index(grids[code_col].astype(str))
    if not codes.isin(w.codes).all() or len(codes) != len(w.codes):
        raise ValueError("weights do not match the grids' codes")
    counts = disputes_per_grid(disputes, codes, since=since, until=until)
    out = pd.DataFrame({"code": codes, "disputes": counts.to_numpy()}, index=codes)
    if measure in ("rate", "eb_rate"):
        pop = (denominator.reindex(codes).to_numpy(dtype=float) if denominator is not None
               else pd.to_numeric(grids[population_col], errors="coerce").to_numpy(dtype=float))
        out["population"] = pop
        with np.errstate(divide="ignore", invalid="ignore"):
            out["rate"] = np.where(pop > 0, out["disputes"] / pop * per, np.nan)
        if measure == "eb_rate":
            out["rate"] = eb_rates(out["disputes"].to_numpy(dtype=float), pop) * per
        out["value"] = out["rate"]
    else:
        out["value"] = out["disputes"].astype(np.float64)
    result = gi_star(out["value"], w, p_value=p_value, permutations=permutations,
                     seed=seed, fdr=fdr).reindex(codes)
    out = out.join(result)
    out["island"] = codes.isin(w.islands)
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=grids.geometry.values,
                            crs=grids.crs)


def eb_rates(cases: npt.NDArray[np.float64], base: npt.NDArray[np.float64]
             ) -> npt.NDArray[np.float64]:
    """Empirical-Bayes smoothed rates (esda), NaN where the base is 0 or missing."""
    from esda.smoothing import Empirical_Bayes

    ok = np.isfinite(base) & (base > 0)
    out = np.full(len(cases), np.nan)
    if ok.sum() > 1 and cases[ok].sum() > 0:
        smoothed = Empirical_Bayes(cases[ok].reshape(-1, 1), base[ok].reshape(-1, 1)).r
        out[ok] = np.clip(np.asarray(smoothed, dtype=float).ravel(), 0.0, None)
    elif ok.any():
        out[ok] = 0.0
    return out


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
