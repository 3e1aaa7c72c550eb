"""Emerging hot spots: weekly Gi* per grid, a Mann-Kendall trend, ArcGIS's pattern classes.

:func:`emerging_hotspots` is the entry point; :func:`weekly_gi_star` computes the weekly
maps, :func:`mann_kendall` the trend and :func:`classify_emerging` the classes (its
docstring gives the exact rules).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from geo.hotspots.disputes import select_disputes
from geo.hotspots.gi import CONFIDENCE_LEVELS, PValue, gi_star
from geo.hotspots.weights import GridWeights, IslandPolicy, weights_for

if TYPE_CHECKING:
    from libpysal.graph import Graph
    from libpysal.weights import W

__all__ = ["NO_PATTERN", "PATTERNS", "classify_emerging", "emerging_hotspots", "mann_kendall",
           "weekly_gi_star"]

#: Emerging-trend pattern names, hot or cold (see :func:`classify_emerging`).
PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing",
            "sporadic", "oscillating", "historical")
NO_PATTERN = "no_pattern"


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
    w = weights_for(grids, weights, code_col=code_col, islands=islands, island_k=island_k)
    codes = pd.Index(grids[code_col].astype(str))
    rows = select_disputes(disputes, since=None, until=None, category=category)
    if weeks < 1 or window_weeks < 1:
        raise ValueError("weeks and window_weeks must be at least 1")
    end = pd.Timestamp(until)
    starts = [end - timedelta(days=7 * (weeks - t)) for t in range(weeks)]
    first = starts[0] - timedelta(days=7 * (window_weeks - 1))
    t_rep = pd.to_datetime(rows["reported_at"])
    week = np.floor(((t_rep - first) / pd.Timedelta(days=7)).to_numpy(dtype=float))
    span = weeks + window_weeks - 1
    in_range = (week >= 0) & (week < span)
    crossed = pd.crosstab(rows["grid_code"].astype(str).to_numpy()[in_range],
                          week[in_range].astype(np.int64))
    table = crossed.reindex(index=codes, columns=range(span), fill_value=0).to_numpy()
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
    w = weights_for(grids, weights, code_col=code_col, islands=islands, island_k=island_k)
    counts, z, bins = weekly_gi_star(
        grids, disputes, until=until, weeks=weeks, weights=w, p_value=p_value,
        permutations=permutations, seed=seed, alpha=alpha, window_weeks=window_weeks,
        category=category, code_col=code_col)
    classes = classify_emerging(z.to_numpy(), bins.to_numpy(), trend_alpha=trend_alpha)
    classes.insert(0, "code", counts.index.to_numpy())
    classes["disputes"] = counts.sum(axis=1).to_numpy()
    classes["last_z"] = z.iloc[:, -1].to_numpy()
    return gpd.GeoDataFrame(classes, geometry=grids.geometry.values, crs=grids.crs)
