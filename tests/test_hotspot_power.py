"""The detection-power harness (bench/hotspot_power.py) on a small lattice.

A 16 × 16 lattice of 1 km squares: a dense town of 4 × 4 grids in one corner, sparse
country elsewhere. The harness plants a 4× cluster on 3 × 3 country grids, and draws
background-only data, as the benchmark does on the demo city; the test checks the finding
that made the scan the page's default: Gi* on counts sees the town for being dense and
misses the country cluster, the population-adjusted scan finds the cluster and stays quiet
on the background.
"""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest
import shapely

from bench import hotspot_power as power
from geo.hotspots.definition import DEFAULT
from geo.hotspots.scale import band_series
from geo.hotspots.weights import to_metric_crs
from tests.test_hotspots import lattice

N = 16
TOWN = [r * N + c for r in range(4) for c in range(4)]
CLUSTER = np.array([r * N + c for r in range(10, 13) for c in range(10, 13)])


@pytest.fixture(scope="module")
def harness():
    grids = lattice(N, N)
    population = np.full(N * N, 500.0)
    population[TOWN] = 20000.0
    grids["population"] = population
    xy = shapely.get_coordinates(to_metric_crs(grids.geometry).centroid.values)
    bands, chosen = band_series(grids, steps=4), []
    methods = {"gi": power.gi_method(DEFAULT, grids),
               "scan": power.scan_method(population, xy, replicates=199),
               "isa": power.isa_method(grids, bands, chosen=chosen)}
    return grids, population, xy, methods, bands, chosen


def run(harness, *, core, risk, draws, seed):
    grids, population, xy, methods, _bands, chosen = harness
    chosen.clear()
    return power.run_scenario(methods, codes=pd.Index(grids["code"]), population=population,
                              xy=xy, core=core, risk=risk, background=600, draws=draws,
                              rng=np.random.default_rng(seed))


def test_the_scan_finds_a_country_cluster_that_gi_on_counts_misses(harness):
    found = run(harness, core=CLUSTER, risk=4.0, draws=5, seed=1)
    scan = [s.recall95 for s in found["scan"]]
    gi = [s.recall95 for s in found["gi"]]
    assert statistics.median(scan) >= 0.6, scan
    assert statistics.median(gi) <= 0.2, gi
    # Nothing far from the cluster: the town is where the residents are, not a cluster.
    assert max(s.false_hot for s in found["scan"]) == 0
    # Gi* on rates over the band ISA picks: one of the series' bands in each draw.
    _, _, _, _, bands, chosen = harness
    assert len(chosen) == 5 and set(chosen) <= set(bands.distances)


def test_on_background_gi_on_counts_flags_the_town_and_the_scan_stays_quiet(harness):
    found = run(harness, core=np.zeros(0, dtype=np.int64), risk=1.0, draws=8, seed=2)
    assert all(np.isnan(s.recall95) for s in found["scan"])
    assert sum(s.any_hot for s in found["scan"]) <= 1
    assert sum(s.any_hot for s in found["gi"]) >= 6
