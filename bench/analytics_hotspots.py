"""Dispute hotspot benchmarks: weights, Gi* (exact / normal / 999 permutations), trends, density.

    python -m bench.analytics_hotspots [--runs 5] [--skip-province]

Not run by the tests. Prints Markdown table rows for bench/RESULTS.md, each the median of
``--runs`` runs after one warm-up call (the warm-up is reported separately for the
permutation path: with numba installed, esda compiles its kernels on the first call of each
process). City: the Yiyang demo (6,017 grids, its 926 disputes). Province: the synthetic
60,000-grid lattice with dispute counts drawn in proportion to population (about a month of
disputes at the city's dispute share of 10 M requests a year).
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from bench.timing import median_seconds
from geo import demo
from geo import hotspots as hs
from geo.province import build_province_grids

END = datetime(2026, 11, 24, 6)


def _time(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _row(what: str, scale: str, seconds: float, target: str = "") -> None:
    print(f"| {what} | {scale} | {seconds:.3f} | {target} |")


def _bench(scale: str, grids, disputes_rows, counts, runs: int, gi_target: str) -> None:
    _row("Queen weights (incl. island check)", scale,
         median_seconds(lambda: hs.grid_weights(grids), runs))
    _row("Queen + 800 m band weights", scale,
         median_seconds(lambda: hs.grid_weights(grids, distance_m=800), runs))
    w = hs.grid_weights(grids)
    for p_value in ("exact", "normal"):
        def run(p_value=p_value):
            return hs.dispute_hotspots(grids, counts, weights=w, p_value=p_value)
        run()
        _row(f"Gi* + FDR, p_value={p_value!r}, prebuilt weights", scale,
             median_seconds(run, runs), gi_target)

    def perm():
        return hs.dispute_hotspots(grids, counts, weights=w, p_value="permutation",
                                   permutations=999)
    _row("Gi* + FDR, 999 permutations, first call in process", scale, _time(perm))
    _row("Gi* + FDR, 999 permutations, prebuilt weights", scale, median_seconds(perm, runs),
         gi_target)
    _row("Gi* + FDR incl. building weights, p_value='exact'", scale,
         median_seconds(lambda: hs.dispute_hotspots(grids, counts), runs))

    def trends():
        return hs.emerging_hotspots(grids, disputes_rows, until=END, weeks=12, weights=w)
    trends()
    _row("emerging hot spots, 12 weeks, prebuilt weights", scale, median_seconds(trends, runs))

    def density():
        return hs.dispute_density(disputes_rows, extent=grids, bandwidth_m=500)
    surface = density()
    _row(f"density surface {surface.values.shape[1]}×{surface.values.shape[0]} cells of "
         f"{surface.cell_m:.0f} m", scale, median_seconds(density, runs))
    _row(f"density → cells ≥ 5% of peak ({len(surface.to_cells())} polygons)", scale,
         median_seconds(surface.to_cells, runs))


def _province_disputes(grids, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series]:
    """About 12 weeks of disputes (rows) and one month's counts, weighted by population."""
    pop = grids.population.to_numpy(dtype=float)
    per_week = 10_000_000 * (926 / 80_787) / 52
    n_rows = int(per_week * 12)
    idx = rng.choice(len(grids), size=n_rows, p=pop / pop.sum())
    b = grids.geometry.bounds.to_numpy()[idx]
    rows = pd.DataFrame({
        "grid_code": grids.code.to_numpy()[idx],
        "lon": rng.uniform(b[:, 0], b[:, 2]),
        "lat": rng.uniform(b[:, 1], b[:, 3]),
        "reported_at": pd.Timestamp(END - timedelta(weeks=12))
        + pd.to_timedelta(rng.integers(0, 12 * 7 * 86400, n_rows), unit="s"),
    })
    month = rows[rows.reported_at >= pd.Timestamp(END - timedelta(days=30))]
    counts = month.grid_code.value_counts()
    return rows, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-province", action="store_true")
    args = parser.parse_args()

    numba = importlib.util.find_spec("numba") is not None
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numba {'installed' if numba else 'absent'}; "
          f"median of {args.runs} runs\n")
    print("| what | scale | median s | DESIGN §9 target |")
    print("|---|---|---|---|")

    city = demo.build_city(seed=2021, end=END)
    rows = city.requests[city.requests.category == "dispute"]
    _bench("city, 6,017 grids, 926 disputes", city.grids, rows, rows, args.runs, "≤ 2 s")

    if not args.skip_province:
        _, grids = build_province_grids()
        rows, counts = _province_disputes(grids, np.random.default_rng(1))
        _bench(f"province, {len(grids):,} grids, {int(counts.sum()):,} disputes / 30 d",
               grids, rows, counts, args.runs, "≤ 10 s")


if __name__ == "__main__":
    main()
