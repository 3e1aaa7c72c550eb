"""Tests for geo/hotspots/scale.py: incremental spatial autocorrelation and the first peak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from geo.hotspots import scale
from tests.test_hotspots import lattice


def _table(z, p=None):
    z = np.asarray(z, dtype=float)
    return pd.DataFrame({"distance_m": 1000.0 * np.arange(1, len(z) + 1), "moran_i": 0.0,
                         "z": z, "p": p if p is not None else np.where(np.abs(z) > 2, 0.01,
                                                                       0.5)})


def test_moran_at_each_band_equals_esda():
    import esda

    grids = lattice(5, 5)
    series = scale.band_series(grids, distances=[500, 2500, 3500])
    values = np.arange(25, dtype=float) % 7
    table = scale.incremental_autocorrelation(values, series)
    assert list(table["distance_m"]) == [500.0, 2500.0, 3500.0]
    for row in table.itertuples():
        w = series.weights_at(row.distance_m).graph.to_W()
        moran = esda.Moran(values, w, transformation="r", permutations=0)
        assert_allclose([row.moran_i, row.z, row.p], [moran.I, moran.z_norm, moran.p_norm])
    # Wider bands mean more neighbours: 500 m is Queen only, the others reach further.
    counts = [int(series.weights_at(d).cardinalities.max()) for d in series.distances]
    assert counts[0] == 8 and counts[0] < counts[1] < counts[2]


@pytest.mark.parametrize(("z", "expected"), [
    ([2.5, 3.0, 4.0, 3.5, 5.0], 3000.0),   # the first peak, not the highest
    ([2.5, 3.0, 4.0, 4.5, 5.0], 5000.0),   # still rising at the last band
    ([6.0, 5.0, 4.0, 3.0, 2.5], 1000.0),   # falling from the first band
    ([0.5, 1.0, 0.2, 0.1, 0.0], None),     # nothing significant
    ([1.0, 3.0, 1.0, 2.5, 1.0], 2000.0),   # a peak among insignificant bands
])
def test_first_peak(z, expected):
    assert scale.first_peak(_table(z)) == expected


def test_the_band_grows_with_the_cluster():
    grids = lattice(24, 24)
    series = scale.band_series(grids)
    # Ten bands growing by the lattice's spacing (0.01° of latitude: about 1.1 km).
    assert len(series.distances) == 10
    assert 900 < series.distances[0] < 1200
    row, col = np.divmod(np.arange(24 * 24), 24)
    noise = np.random.default_rng(0).normal(0, 1, 24 * 24)
    chosen = []
    for radius in (3, 7):
        values = 3.0 * (np.hypot(row - 11.5, col - 11.5) <= radius) + noise
        chosen.append(scale.first_peak(scale.incremental_autocorrelation(values, series)))
    assert chosen[0] is not None and chosen[1] is not None
    assert chosen[0] < chosen[1]
    # Gi*'s weights of a band are built once.
    assert series.weights_at(chosen[1]) is series.weights_at(chosen[1])


def test_constant_or_missing_values():
    series = scale.band_series(lattice(4, 4), distances=[1500])
    flat = scale.incremental_autocorrelation(np.ones(16), series)
    assert flat["moran_i"].isna().all() and scale.first_peak(flat) is None
    values = np.where(np.arange(16) < 8, 1.0, 0.0)
    values[3] = np.nan  # a rate where nobody lives takes the mean
    assert np.isfinite(scale.incremental_autocorrelation(values, series)["z"]).all()


def test_bands_must_be_positive_and_increasing():
    grids = lattice(3, 3)
    with pytest.raises(ValueError, match="increasing"):
        scale.band_series(grids, distances=[2000, 1000])
    with pytest.raises(ValueError, match="increasing"):
        scale.band_series(grids, distances=[0, 1000])
    with pytest.raises(ValueError, match="in number"):
        scale.incremental_autocorrelation(np.ones(4), scale.band_series(grids,
                                                                        distances=[1000]))
