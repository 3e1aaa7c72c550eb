"""Empirical Bayes shrinkage of small-sample rates, on literal numbers worked by hand."""

import math

import numpy as np
import pytest

from geo import shrinkage


def test_shrink_is_k_plus_m_p_over_n_plus_m():
    # 1 of 1 toward 0.8 with m = 4: (1 + 3.2) / 5.
    assert shrinkage.shrink([1], [1], [0.8], strength=4.0) == pytest.approx([0.84])
    # 9 of 10 toward 0.5 with m = 10: (9 + 5) / 20; no sample stays undefined.
    out = shrinkage.shrink([0, 9], [0, 10], [0.5, 0.5], strength=10.0)
    assert math.isnan(out[0]) and out[1] == pytest.approx(0.7)
    # m = 0 keeps the raw rate; m infinite gives the prior.
    assert shrinkage.shrink([2], [8], [0.9], strength=0.0) == pytest.approx([0.25])
    assert shrinkage.shrink([2], [8], [0.9], strength=math.inf) == pytest.approx([0.9])
    with pytest.raises(ValueError, match="non-negative"):
        shrinkage.shrink([1], [2], [0.5], strength=-1.0)


def test_credibility_weight():
    np.testing.assert_allclose(shrinkage.credibility([0, 4, 12], 4.0), [0.0, 0.5, 0.75])
    np.testing.assert_allclose(shrinkage.credibility([3], math.inf), [0.0])


def test_prior_strength_by_method_of_moments():
    # k = 2, 8, 5, 15 of n = 10, 10, 10, 20: N 50, p 0.6, S = 1.6 + 0.4 + 0.1 + 0.45 = 2.55,
    # tau² = (2.55 − 3 × 0.24) / (50 − 700 / 50 − 3) = 1.83 / 33, m = 0.24 / tau² − 1.
    m = shrinkage.prior_strength([2, 8, 5, 15], [10, 10, 10, 20])
    assert m == pytest.approx(0.24 * 33 / 1.83 - 1)
    assert m == pytest.approx(3.327869, rel=1e-6)


def test_prior_strength_is_infinite_when_rates_spread_no_more_than_chance():
    assert math.isinf(shrinkage.prior_strength([1, 2], [10, 20]))  # equal rates
    assert math.isinf(shrinkage.prior_strength([3], [5]))  # one unit
    assert math.isinf(shrinkage.prior_strength([5, 10], [5, 10]))  # all 100%
    # A unit with no sample is left out, not counted as a rate of 0.
    assert shrinkage.prior_strength([2, 8, 5, 15, 0], [10, 10, 10, 20, 0]) == pytest.approx(
        3.327869, rel=1e-6)


def test_poisson_strength_by_method_of_moments():
    # 0, 10, 4 events over 2, 2, 4: N 8, p 1.75, S = 6.125 + 21.125 + 2.25 = 29.5,
    # tau² = (29.5 − 2 × 1.75) / (8 − 24 / 8) = 5.2, m = 1.75 / 5.2.
    assert shrinkage.poisson_strength([0, 10, 4], [2, 2, 4]) == pytest.approx(1.75 / 5.2)
    assert math.isinf(shrinkage.poisson_strength([2, 4], [1, 2]))  # equal rates
