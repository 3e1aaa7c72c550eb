"""Detection power of the hot-spot methods on planted dispute clusters (issue 16).

    python -m bench.hotspot_power [--draws 20] [--replicates 199] [--demo data/gridmap.db]

Background disputes are Poisson in proportion to each grid's residents (the demo city's
6,017 grids and 3.85 M residents), 6,000 in the window. On top, one cluster per scenario is
planted at a fixed place, with its relative risk, and a new random draw each time:

* **urban**: 3× within 600 m of the densest grid packing;
* **rural**: 4× within 4 km of a sparse, large-grid place;
* **diffuse**: 2.4× within 2 km of a mid-density place;
* **strip**: 3× in a 400 m × 6 km band (a road) running east from the urban centre;
* **background**: nothing planted (the false-alarm runs).

The core grids are those whose centroid lies in the planted shape. For each method and draw
the harness reports the recall of core grids flagged at 95 % and 99 %, the hot grids more
than 2 km from any core grid (false hot grids), and on background-only draws whether any
grid was flagged. Medians and ranges over the draws go to stdout as Markdown.

Methods: Gi* on counts (Queen + 800 m, exact p, FDR: the Gi* view of the page), the earlier
export (Queen only), population-adjusted Gi* (Empirical-Bayes rates per resident, with 8
nearest grids or the page's neighbours), and the circular Poisson scan (expected from
population, up to 5 % of it, p ≤ 0.05 / 0.01), which the page shows by default, and Gi* on
Empirical-Bayes rates over Queen plus the band incremental spatial autocorrelation picks in
each draw (:mod:`geo.hotspots.scale`).
``tests/test_hotspot_power.py`` runs the same harness on a small lattice.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.hotspots import scan as hotspot_scan
from geo.hotspots.definition import DEFAULT, HotspotDefinition
from geo.hotspots.gi import eb_rates
from geo.hotspots.scale import BandSeries, band_series, first_peak, incremental_autocorrelation
from geo.hotspots.weights import GridWeights, to_metric_crs
from geo.store import engine as store_engine
from geo.store import requests as store_requests

#: Background disputes in the window: about one per grid (the demo's 90 days hold 504, too
#: few for any method to see a planted excess of the sizes below).
BACKGROUND = 6000
SCENARIOS = ("urban", "rural", "diffuse", "strip", "background")


def places(xy: np.ndarray, area: np.ndarray) -> dict[str, np.ndarray]:
    """The core grids (positions) of each scenario, fixed for all draws."""
    tree = cKDTree(xy)
    packing = np.array([len(n) for n in tree.query_ball_point(xy, 1000)])
    urban = xy[packing.argmax()]
    # Sparse: 6–10 grids within 4 km (large ones), at least 15 km from the urban centre.
    far = np.hypot(*(xy - urban).T) > 15000
    sparse = np.array([len(n) for n in tree.query_ball_point(xy, 4000)])
    candidates = np.flatnonzero(far & (sparse >= 6) & (sparse <= 10))
    rural = xy[candidates[np.argmax(area[candidates])]]
    mid = np.flatnonzero((packing > np.percentile(packing, 40))
                         & (packing < np.percentile(packing, 60)) & far)
    diffuse = xy[mid[len(mid) // 2]]
    d = {name: np.hypot(*(xy - c).T) for name, c in
         (("urban", urban), ("rural", rural), ("diffuse", diffuse))}
    strip = ((xy[:, 0] >= urban[0]) & (xy[:, 0] <= urban[0] + 6000)
             & (np.abs(xy[:, 1] - urban[1]) <= 200))
    return {"urban": np.flatnonzero(d["urban"] <= 600),
            "rural": np.flatnonzero(d["rural"] <= 4000),
            "diffuse": np.flatnonzero(d["diffuse"] <= 2000),
            "strip": np.flatnonzero(strip),
            "background": np.zeros(0, dtype=np.int64)}


RISK = {"urban": 3.0, "rural": 4.0, "diffuse": 2.4, "strip": 3.0, "background": 1.0}

#: A method: per-grid dispute counts (index: code) -> per-grid class, 2 at 95 %, 3 at 99 %.
Method = Callable[[pd.Series], np.ndarray]


@dataclass(frozen=True)
class Score:
    """What one method found in one draw.

    Attributes
    ----------
    recall95, recall99 : float
        Share of the core grids flagged at 95 % and 99 % (NaN without core grids).
    false_hot : int
        Grids flagged at 95 % more than ``far_m`` from any core grid.
    any_hot : bool
        Whether any grid was flagged at 95 %.

    """

    recall95: float
    recall99: float
    false_hot: int
    any_hot: bool


def gi_method(definition: HotspotDefinition, grids: gpd.GeoDataFrame, *,
              weights: GridWeights | None = None) -> Method:
    """Gi* of ``definition`` on ``grids`` (weights built once) as a :data:`Method`."""
    built = weights if weights is not None else definition.weights(grids)

    def run(counts: pd.Series) -> np.ndarray:
        return definition.hotspots(grids, counts, weights=built)["gi_bin"].to_numpy()
    return run


def isa_method(grids: gpd.GeoDataFrame, series: BandSeries, *, measure: str = "eb_rate",
               chosen: list[float] | None = None) -> Method:
    """Gi* over contiguity plus the band that incremental spatial autocorrelation picks.

    The band is chosen anew for each draw, from the values Gi* tests (counts, or
    Empirical-Bayes rates per resident); without a significant band, the shortest. Each
    draw's band is appended to ``chosen`` when given.
    """
    # Normal p-values: the exact ones convolve each neighbour count's distribution, which
    # at bands of several km (a thousand neighbours in town) does not fit in memory.
    definition = HotspotDefinition(measure=measure, p_value="normal")
    population = pd.to_numeric(grids["population"], errors="coerce").to_numpy(dtype=float)

    def run(counts: pd.Series) -> np.ndarray:
        cases = counts.to_numpy(dtype=float)
        values = eb_rates(cases, population) if measure == "eb_rate" else cases
        band = first_peak(incremental_autocorrelation(values, series))
        band = band if band is not None else series.distances[0]
        if chosen is not None:
            chosen.append(band)
        weights = series.weights_at(band)
        return definition.hotspots(grids, counts, weights=weights)["gi_bin"].to_numpy()
    return run


def scan_method(population: np.ndarray, xy: np.ndarray, *, replicates: int,
                max_share: float = DEFAULT.scan_share) -> Method:
    """The circular Poisson scan, expected from ``population``, as a :data:`Method`.

    A grid is flagged at 95 % when it belongs to a cluster at p ≤ 0.05, at 99 % at 0.01.
    """
    def run(counts: pd.Series) -> np.ndarray:
        result = hotspot_scan.poisson_scan(counts.to_numpy(), population, xy,
                                           max_share=max_share, replicates=replicates)
        out = np.zeros(len(counts), dtype=np.int8)
        out[result.membership(len(counts), alpha=0.05) > 0] = 2
        out[result.membership(len(counts), alpha=0.01) > 0] = 3
        return out
    return run


def run_scenario(methods: dict[str, Method], *, codes: pd.Index, population: np.ndarray,
                 xy: np.ndarray, core: np.ndarray, risk: float, background: int, draws: int,
                 rng: np.random.Generator, far_m: float = 2000.0) -> dict[str, list[Score]]:
    """Plant ``risk`` × the background on the ``core`` grids ``draws`` times; score each method.

    Background disputes are Poisson in proportion to ``population``, ``background`` of them
    on average; every method sees the same draws.
    """
    lam = population / population.sum() * background
    lam[core] *= risk
    near = (cKDTree(xy[core]).query(xy)[0] <= far_m if len(core)
            else np.zeros(len(codes), dtype=bool))
    found: dict[str, list[Score]] = {name: [] for name in methods}
    for _ in range(draws):
        counts = pd.Series(rng.poisson(lam), index=codes)
        for name, method in methods.items():
            bins = method(counts)
            hot95, hot99 = bins >= 2, bins >= 3
            found[name].append(Score(
                recall95=float(hot95[core].mean()) if len(core) else np.nan,
                recall99=float(hot99[core].mean()) if len(core) else np.nan,
                false_hot=int((hot95 & ~near).sum()), any_hot=bool(hot95.any())))
    return found


def main(argv: list[str] | None = None) -> None:
    """Run every method on every scenario; print the Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--background-draws", type=int, default=None,
                        help="draws of the background-only runs (default: --draws)")
    parser.add_argument("--replicates", type=int, default=199,
                        help="Monte Carlo replicates of the scan (999 on the page)")
    parser.add_argument("--demo", type=Path, default=Path("data/gridmap.db"))
    args = parser.parse_args(argv)
    grids = store_requests.read_grids(store_engine.make_engine(f"sqlite:///{args.demo}",
                                                               upgrade=False))
    codes = pd.Index(grids["code"].astype(str))
    metric = to_metric_crs(grids.geometry)
    xy = shapely.get_coordinates(metric.centroid.values)
    pop = grids["population"].fillna(0).to_numpy(dtype=float)
    core = places(xy, metric.area.to_numpy())
    page_w = DEFAULT.weights(grids)
    queen = HotspotDefinition(distance_m=None)
    adjusted = HotspotDefinition(distance_m=None, neighbours="knn", k=8, measure="eb_rate")
    eb_band = HotspotDefinition(measure="eb_rate")  # the page's neighbours, rates per resident
    bands = band_series(grids)
    chosen: list[float] = []
    methods = {"Gi* counts, Queen + 800 m (the page's Gi* view)": gi_method(
                   DEFAULT, grids, weights=page_w),
               "earlier export: Gi* counts, Queen": gi_method(queen, grids),
               "Gi* EB rate per resident, 8 nearest": gi_method(adjusted, grids),
               "Gi* EB rate per resident, Queen + 800 m": gi_method(eb_band, grids,
                                                                    weights=page_w),
               "Gi* EB rate per resident, Queen + band by ISA": isa_method(
                   grids, bands, chosen=chosen),
               "page default: Poisson scan, population, ≤ 5 %": scan_method(
                   pop, xy, replicates=args.replicates)}
    rng = np.random.default_rng(2026)
    rows = []
    picked: dict[str, list[float]] = {}
    started = time.perf_counter()
    for scenario in SCENARIOS:
        draws = (args.background_draws or args.draws) if scenario == "background" else args.draws
        chosen.clear()
        found = run_scenario(methods, codes=codes, population=pop, xy=xy,
                             core=core[scenario], risk=RISK[scenario], background=BACKGROUND,
                             draws=draws, rng=rng)
        for name, runs in found.items():
            rows.append((scenario, len(core[scenario]), name, runs))
        picked[scenario] = list(chosen)
    seconds = time.perf_counter() - started
    print(f"machine: {platform.platform()}, Python {platform.python_version()}; "
          f"{len(codes):,} grids, {BACKGROUND:,} background disputes, {args.draws} draws per "
          f"scenario, scan replicates {args.replicates}; {seconds:.0f} s\n")
    print("| scenario (core grids) | method | core recall 95 % median (range) | 99 % median "
          "| false hot grids > 2 km, median (max) | draws with any hot grid |")
    print("|---|---|---|---|---|---|")
    for scenario, n, name, runs in rows:
        r95 = [r.recall95 for r in runs]
        false = [r.false_hot for r in runs]
        anyhot = sum(r.any_hot for r in runs) / len(runs)
        rec = ("–" if scenario == "background" else
               f"{statistics.median(r95):.0%} ({min(r95):.0%}–{max(r95):.0%})")
        rec99 = ("–" if scenario == "background" else
                 f"{statistics.median(r.recall99 for r in runs):.0%}")
        print(f"| {scenario} ({n}) | {name} | {rec} | {rec99} | "
              f"{statistics.median(false):.0f} ({max(false)}) | {anyhot:.0%} |")
    print(f"\nISA bands (m): {', '.join(f'{d:,.0f}' for d in bands.distances)}\n")
    print("| scenario | band ISA picked, median (range) |\n|---|---|")
    for scenario, got in picked.items():
        print(f"| {scenario} | {statistics.median(got):,.0f} ({min(got):,.0f}–{max(got):,.0f}) |")


if __name__ == "__main__":
    main()
