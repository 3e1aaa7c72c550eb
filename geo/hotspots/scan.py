"""Kulldorff's circular Poisson scan statistic over grid centroids (issue 16).

Gi* asks of each grid whether it and its few neighbours hold more disputes than the rest of
the city; a cluster spread thinly over many rural grids never passes that test grid by grid,
and the correction over 6,000 tests makes it harder. The scan statistic asks once: which
circle of grids holds the most surprising excess, compared with what its population (or
any expected count) predicts? Each candidate circle is a centroid and its nearest
neighbours, grown until the circle holds ``max_share`` of the expected total. The
likelihood ratio of the best circle is compared with the best circle of each of
``replicates`` Monte Carlo datasets drawn under the null hypothesis (cases spread in
proportion to the expected counts), which corrects for all the circles at once, as SaTScan
does. Secondary clusters are the next best circles that share no grid with one already
reported.

No maintained Python package does this (SaTScan is a closed desktop program), so it is
written here, vectorised: the neighbours of each centroid are sorted once (a k-d tree), and
each circle's cases and expected count are cumulative sums along that order, for the data
and for each replicate. ``tests/test_hotspots_scan.py`` checks it against a brute-force loop
over every circle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

__all__ = ["ScanCluster", "ScanResult", "poisson_scan"]


@dataclass(frozen=True)
class ScanCluster:
    """One cluster of the scan: a circle of grids with more cases than expected.

    Attributes
    ----------
    centre : int
        Position of the circle's centre grid.
    members : numpy.ndarray
        Positions of the grids in the circle (the centre first), nearest first.
    radius_m : float
        Distance from the centre to the farthest member's centroid.
    cases, expected : float
        Cases in the circle and the number its expected counts predict.
    relative_risk : float
        Risk inside over risk outside: (cases / expected) / ((C - cases) / (C - expected)).
    llr : float
        The log-likelihood ratio of the circle.
    p_value : float
        Monte Carlo p-value: the share of replicates (and the data) whose best circle
        scores at least ``llr``.

    """

    centre: int
    members: npt.NDArray[np.int64]
    radius_m: float
    cases: float
    expected: float
    relative_risk: float
    llr: float
    p_value: float


@dataclass(frozen=True)
class ScanResult:
    """The scan's clusters (most likely first) and the replicates' best scores."""

    clusters: tuple[ScanCluster, ...]
    replicate_max: npt.NDArray[np.float64]

    def membership(self, n: int, *, alpha: float = 0.05) -> npt.NDArray[np.int64]:
        """Return, per grid, the 1-based number of its cluster with p ≤ ``alpha`` (0: none)."""
        out = np.zeros(n, dtype=np.int64)
        for number, cluster in enumerate(self.clusters, start=1):
            if cluster.p_value <= alpha:
                out[cluster.members] = number
        return out


def _llr(c: npt.NDArray[np.float64], e: npt.NDArray[np.float64], total: float
         ) -> npt.NDArray[np.float64]:
    """Kulldorff's Poisson log-likelihood ratio, 0 where the circle holds no excess."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(c > 0, c * np.log(c / e), 0.0)
        rest_c, rest_e = total - c, total - e
        outside = np.where(rest_c > 0, rest_c * np.log(rest_c / rest_e), 0.0)
        out = inside + outside
    return np.where((c > e) & (e > 0), out, 0.0)


def poisson_scan(cases: npt.ArrayLike, expected: npt.ArrayLike, xy: npt.ArrayLike, *,
                 max_share: float = 0.05, max_grids: int = 128, replicates: int = 999,
                 max_clusters: int = 10, seed: int = 12345) -> ScanResult:
    """Run a circular Poisson scan; return the non-overlapping clusters, best first.

    Parameters
    ----------
    cases : array_like
        Observed count per grid (non-negative).
    expected : array_like
        What each grid would hold without any cluster, in any unit (population, all
        requests): it is scaled to the total of ``cases``. Grids with 0 are never inside a
        circle's excess on their own, but can be members.
    xy : array_like
        Grid centroids in metres, shape (n, 2).
    max_share : float
        The largest circle holds at most this share of the expected total (SaTScan's
        "maximum spatial cluster size", 50 % by default there; a governance map looks for
        local clusters).
    max_grids : int
        And at most this many grids, which bounds the work: n × ``max_grids`` circles.
    replicates : int
        Monte Carlo datasets under the null hypothesis (999 gives p-values to 0.001).
    max_clusters : int
        Clusters reported (the most likely and the secondary ones), whatever their p-value.
    seed : int
        Seed of the replicates, so a page and its export agree.

    Returns
    -------
    ScanResult

    """
    c = np.asarray(cases, dtype=np.float64)
    e_raw = np.asarray(expected, dtype=np.float64)
    xy = np.asarray(xy, dtype=np.float64)
    n = len(c)
    if e_raw.shape != (n,) or xy.shape != (n, 2):
        raise ValueError("cases, expected and xy must describe the same grids")
    if np.any(c < 0) or np.any(e_raw < 0) or not np.isfinite(e_raw).all():
        raise ValueError("cases and expected counts must be finite and not negative")
    if not 0 < max_share <= 0.5:
        raise ValueError(f"max_share must be in (0, 0.5], not {max_share}")
    total = float(c.sum())
    if n == 0 or total == 0 or e_raw.sum() == 0:
        return ScanResult((), np.zeros(replicates))
    e = e_raw * (total / e_raw.sum())
    k = min(max_grids, n)
    dist, order = cKDTree(xy).query(xy, k=k)
    dist, order = np.atleast_2d(dist).reshape(n, k), np.atleast_2d(order).reshape(n, k)
    cum_e = np.cumsum(e[order], axis=1)
    # A circle may grow while it holds at most max_share of the expected total; the centre
    # alone is always a circle.
    allowed = cum_e <= max_share * total
    allowed[:, 0] = True

    scores = _llr(np.cumsum(c[order], axis=1), cum_e, total)
    scores[~allowed] = 0.0
    # The replicates need only their best score: single precision, and logs only where a
    # circle holds an excess (about half of them), halve the time at city scale.
    order32 = order.astype(np.int32)
    cum_e32 = np.where(allowed, cum_e, np.inf).astype(np.float32)
    rng = np.random.default_rng(seed)
    share = e / total
    replicate_max = np.empty(replicates)
    for r in range(replicates):
        sim = rng.multinomial(int(round(total)), share).astype(np.float32)
        cum = np.cumsum(sim[order32], axis=1)
        excess = cum > cum_e32
        replicate_max[r] = (_llr(cum[excess].astype(np.float64),
                                 cum_e32[excess].astype(np.float64), total).max()
                            if excess.any() else 0.0)
    # The best circle of each centre, then the best circles that share no grid.
    width = scores.argmax(axis=1)
    top = scores[np.arange(n), width]
    clusters: list[ScanCluster] = []
    taken = np.zeros(n, dtype=bool)
    for centre in np.argsort(-top, kind="stable"):
        if len(clusters) >= max_clusters or top[centre] <= 0:
            break
        members = order[centre, :width[centre] + 1]
        if taken[members].any():
            continue
        taken[members] = True
        inside_c, inside_e = float(c[members].sum()), float(e[members].sum())
        rest = (total - inside_c) / (total - inside_e) if total > inside_e else np.inf
        clusters.append(ScanCluster(
            centre=int(centre), members=members.astype(np.int64),
            radius_m=float(dist[centre, width[centre]]), cases=inside_c, expected=inside_e,
            relative_risk=(inside_c / inside_e) / rest if rest > 0 else np.inf,
            llr=float(top[centre]),
            p_value=float((1 + np.sum(replicate_max >= top[centre] - 1e-9))
                          / (replicates + 1))))
    return ScanResult(tuple(clusters), replicate_max)


def cluster_table(result: ScanResult, codes: pd.Index | list[str]) -> pd.DataFrame:
    """Return the clusters as a table: centre code, grids, radius, cases, RR, LLR, p."""
    codes = pd.Index(codes)
    return pd.DataFrame([{
        "cluster": number, "centre": codes[cl.centre], "grids": len(cl.members),
        "radius_m": round(cl.radius_m), "cases": cl.cases, "expected": round(cl.expected, 2),
        "relative_risk": round(cl.relative_risk, 2), "llr": round(cl.llr, 3),
        "p_value": cl.p_value,
    } for number, cl in enumerate(result.clusters, start=1)])
