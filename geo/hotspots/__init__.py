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

Definition
----------
:data:`DEFAULT` (a :class:`HotspotDefinition`) is the one definition every view uses: the
hotspots page, ``gridmap export hotspots`` and the Export page. It holds the neighbours
(Queen plus an 800 m band), the window (90 days ending at the next full hour), the p-value
and the FDR correction; an export records it in each feature (``weights``,
``window_since``, ``window_until``, ``window_days``).

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

from geo.hotspots.definition import DEFAULT, HotspotDefinition
from geo.hotspots.density import DensitySurface, density_bandwidth, dispute_density
from geo.hotspots.disputes import disputes_per_grid
from geo.hotspots.gi import (
    CONFIDENCE_LEVELS,
    PValue,
    dispute_hotspots,
    gi_bins,
    gi_star,
    hotspot_clusters,
)
from geo.hotspots.trends import (
    NO_PATTERN,
    PATTERNS,
    classify_emerging,
    emerging_hotspots,
    mann_kendall,
    weekly_gi_star,
)
from geo.hotspots.weights import GridWeights, IslandPolicy, grid_weights

__all__ = [
    "CONFIDENCE_LEVELS",
    "DEFAULT",
    "NO_PATTERN",
    "PATTERNS",
    "DensitySurface",
    "GridWeights",
    "HotspotDefinition",
    "IslandPolicy",
    "PValue",
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
