"""The circular Poisson scan against a brute-force loop over every circle."""

import itertools

import numpy as np
import pytest

from geo.hotspots.scan import _llr, poisson_scan


def _brute_best(cases, expected, xy, max_share, max_grids):
    """Every circle (a centre and its nearest grids), scored one by one."""
    total = cases.sum()
    e = expected * total / expected.sum()
    best = (0.0, None)
    for i in range(len(cases)):
        d = np.hypot(*(xy - xy[i]).T)
        order = np.argsort(d, kind="stable")
        for k in range(1, min(max_grids, len(cases)) + 1):
            members = order[:k]
            if k > 1 and e[members].sum() > max_share * total:
                break
            score = float(_llr(np.array([cases[members].sum()]), np.array([e[members].sum()]),
                               total)[0])
            if score > best[0] + 1e-12:
                best = (score, frozenset(members.tolist()))
    return best


@pytest.mark.parametrize("seed", range(5))
def test_the_best_circle_is_the_brute_force_best(seed):
    rng = np.random.default_rng(seed)
    n = 25
    xy = rng.uniform(0, 1000, (n, 2))
    expected = rng.uniform(50, 500, n)
    cases = rng.poisson(expected / 50).astype(float)
    cases[:3] += 6  # some excess somewhere
    result = poisson_scan(cases, expected, xy, max_share=0.3, max_grids=10, replicates=19)
    score, members = _brute_best(cases, expected, xy, 0.3, 10)
    top = result.clusters[0]
    assert top.llr == pytest.approx(score)
    assert frozenset(top.members.tolist()) == members


def test_a_planted_cluster_is_found_with_its_risk_and_a_small_p_value():
    side = np.arange(12) * 100.0
    xy = np.array(list(itertools.product(side, side)))  # 144 grids, 100 m apart
    expected = np.full(len(xy), 100.0)
    rng = np.random.default_rng(1)
    cases = rng.poisson(2.0, len(xy)).astype(float)
    core = np.flatnonzero(np.hypot(*(xy - [550, 550]).T) < 160)  # 12 grids around a point
    cases[core] += 6
    result = poisson_scan(cases, expected, xy, max_share=0.1, replicates=199)
    top = result.clusters[0]
    assert top.p_value <= 0.01
    found = set(top.members.tolist())
    assert len(found & set(core.tolist())) >= 0.75 * len(core)
    assert top.relative_risk > 2
    member = result.membership(len(xy))
    assert (member[core] == 1).mean() >= 0.75 and (member == 1).sum() == len(top.members)
    # Secondary clusters never share a grid with the first.
    for other in result.clusters[1:]:
        assert not found & set(other.members.tolist())


def test_background_only_is_not_significant():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 5000, (200, 2))
    expected = rng.uniform(100, 1000, 200)
    cases = rng.poisson(expected / 100).astype(float)
    result = poisson_scan(cases, expected, xy, replicates=99)
    assert result.clusters[0].p_value > 0.05
    assert result.membership(200).max() == 0


def test_nothing_to_scan():
    result = poisson_scan(np.zeros(3), np.ones(3), np.zeros((3, 2)), replicates=9)
    assert result.clusters == ()
    with pytest.raises(ValueError, match="max_share"):
        poisson_scan(np.ones(3), np.ones(3), np.zeros((3, 2)), max_share=0.9)
