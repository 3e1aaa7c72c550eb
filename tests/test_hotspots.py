"""Tests for geo/hotspots.py: Gi* with FDR, density surface, emerging-trend classes."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from libpysal.weights import Queen, lat2W
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from geo import demo
from geo import hotspots as hs

DEMO_END = datetime(2026, 11, 24, 6)


def lattice(nx: int, ny: int, *, step: float = 0.01) -> gpd.GeoDataFrame:
    """nx × ny squares near Yiyang, codes Lrrcc in reading order (row 0 north)."""
    # Rounded so that neighbouring squares share exactly the same vertex coordinates.
    xs = np.round(112.30 + np.arange(nx + 1) * step, 6)
    ys = np.round(28.60 - np.arange(ny + 1) * step, 6)
    codes, boxes = [], []
    for r in range(ny):
        for c in range(nx):
            codes.append(f"L{r:02d}{c:02d}")
            boxes.append(shapely.box(xs[c], ys[r + 1], xs[c + 1], ys[r]))
    return gpd.GeoDataFrame({"code": codes, "population": 1000}, geometry=boxes, crs=4326)


HOT_CENTRE = np.array([
    [0, 0, 0, 0, 0],
    [0, 3, 4, 3, 0],
    [0, 4, 6, 4, 0],
    [0, 3, 4, 3, 0],
    [0, 0, 0, 0, 0],
])


@pytest.fixture
def grid5() -> gpd.GeoDataFrame:
    return lattice(5, 5)


@pytest.fixture(scope="module")
def city():
    return demo.build_city(seed=2021, end=DEMO_END)


@pytest.fixture(scope="module")
def city_weights(city):
    return hs.grid_weights(city.grids)


@pytest.fixture(scope="module")
def city_disputes(city):
    return city.requests[city.requests.category == "dispute"]


@pytest.fixture(scope="module")
def clusters(city):
    return json.loads(city.settings["demo_clusters"])


# --------------------------------------------------------------------------- weights


def test_queen_weights_on_a_lattice(grid5):
    w = hs.grid_weights(grid5)
    assert_array_equal(w.cardinalities.reshape(5, 5), [
        [3, 5, 5, 5, 3],
        [5, 8, 8, 8, 5],
        [5, 8, 8, 8, 5],
        [5, 8, 8, 8, 5],
        [3, 5, 5, 5, 3],
    ])
    assert w.islands == ()
    rook = hs.grid_weights(grid5, rook=True)
    assert rook.cardinalities.reshape(5, 5)[2, 2] == 4
    assert rook.cardinalities.reshape(5, 5)[0, 0] == 2


def test_distance_band_adds_neighbours(grid5):
    # Squares are about 0.98 km wide and 1.11 km tall here. From the centre, 2.3 km
    # reaches the 8 around it, 2 columns sideways (1.95 km), 2 rows up and down (2.22 km)
    # and the 4 cells 2 columns and 1 row away (2.25 km): 16, but not the rest.
    w = hs.grid_weights(grid5, distance_m=2300)
    assert w.cardinalities.reshape(5, 5)[2, 2] == 16


def with_island(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add a square 0.02° east of the lattice's middle row: nearest to L0204."""
    island = gpd.GeoDataFrame({"code": ["ISLE"], "population": [1000]},
                              geometry=[shapely.box(112.37, 28.57, 112.38, 28.58)], crs=4326)
    return pd.concat([grids, island], ignore_index=True)


def test_island_attached_to_its_nearest_grid(grid5):
    grids = with_island(grid5)
    w = hs.grid_weights(grids)
    assert w.islands == ("ISLE",)
    assert w.graph.neighbors["ISLE"] == ("L0204",)
    assert "ISLE" in w.graph.neighbors["L0204"]  # symmetric
    w2 = hs.grid_weights(grids, island_k=2)
    assert set(w2.graph.neighbors["ISLE"]) == {"L0204", "L0104"} or set(
        w2.graph.neighbors["ISLE"]) == {"L0204", "L0304"}


def test_island_excluded_and_marked(grid5):
    grids = with_island(grid5)
    counts = pd.Series(np.append(HOT_CENTRE.ravel(), 9), index=grids.code)
    out = hs.dispute_hotspots(grids, counts, islands="exclude").set_index("code")
    assert out.loc["ISLE", "island"]
    assert out.loc["ISLE", "excluded"]
    assert out.loc["ISLE", "gi_bin"] == 0
    assert np.isnan(out.loc["ISLE", "gi_z"])
    assert out.loc["L0202", "gi_bin"] > 0
    # Under the default policy the island is analysed with its nearest neighbour.
    kept = hs.dispute_hotspots(grids, counts).set_index("code")
    assert kept.loc["ISLE", "island"]
    assert not kept.loc["ISLE", "excluded"]
    assert np.isfinite(kept.loc["ISLE", "gi_z"])
    assert kept.loc["ISLE", "neighbours"] == 1


# --------------------------------------------------------------------------- Gi*


def test_hot_centre_on_a_lattice(grid5):
    out = hs.dispute_hotspots(grid5, pd.Series(HOT_CENTRE.ravel(), index=grid5.code))
    bins = out.gi_bin.to_numpy().reshape(5, 5)
    assert bins[2, 2] >= 2
    assert (bins[[0, 0, 4, 4], [0, 4, 0, 4]] == 0).all()
    assert (bins >= 0).all()
    assert out.value.sum() == HOT_CENTRE.sum()


def test_z_scores_match_esda_and_ord_getis(grid5):
    y = HOT_CENTRE.ravel().astype(float)
    w = hs.grid_weights(grid5)
    ours = hs.gi_star(pd.Series(y, index=w.codes), w, p_value="normal")
    # Independently: esda on a libpysal lattice W (row-major ids, like the codes).
    ref = esda.G_Local(y, lat2W(5, 5, rook=False), transform="B", star=True,
                       permutations=0)
    assert_allclose(ours.gi_z.to_numpy(), ref.Zs, rtol=1e-10)
    # ArcGIS's two-sided p; esda's p_norm is one-sided.
    assert_allclose(ours.gi_p.to_numpy(), 2 * ref.p_norm, rtol=1e-10)
    # And the textbook Ord & Getis (1995) Gi* z with binary weights, self included.
    a = lat2W(5, 5, rook=False).full()[0] + np.eye(25)
    n, mean, sd = 25, y.mean(), y.std()
    wi = a.sum(axis=1)
    z = (a @ y - mean * wi) / (sd * np.sqrt((n * wi - wi**2) / (n - 1)))
    assert_allclose(ours.gi_z.to_numpy(), z, rtol=1e-10)
    # By hand: sum 34, mean 1.36, sd sqrt(136/25 - 1.36²) = 1.89483; the centre's nine
    # cells hold all 34, so z = (34 - 9 × 1.36) / (1.89483 × sqrt((25 × 9 - 81) / 24)).
    assert ours.gi_z.iloc[12] == pytest.approx(4.68826, abs=1e-5)


def test_exact_p_agrees_with_esda_permutations():
    grids = lattice(30, 30)
    w = hs.grid_weights(grids)
    rng = np.random.default_rng(7)
    y = rng.poisson(1.0, 900).astype(float)
    y.reshape(30, 30)[10:14, 10:14] += 3
    values = pd.Series(y, index=w.codes)
    perms = 9999
    exact = hs.gi_star(values, w, p_value="exact")
    sim = hs.gi_star(values, w, p_value="permutation", permutations=perms, seed=3)
    p = exact.gi_p.to_numpy()
    se = np.sqrt(np.clip(p * (1 - p), 1e-4, None) / perms) * 2  # two-sided doubles it
    assert (np.abs(sim.gi_p.to_numpy() - p) <= 5 * se + 2e-3).all()
    assert_array_equal(exact.gi_z.to_numpy(), sim.gi_z.to_numpy())


def test_permutation_p_follows_its_definition_grid_by_grid():
    # The definition: hold grid i's value, draw its k neighbours' values from the other
    # grids without replacement, count the sums on the side of the z-score. Checked by a
    # plain loop per grid. (esda's own crand, given a libpysal Graph with self-weights,
    # draws one value too many: it counts the grid itself among its neighbours.)
    grids = lattice(12, 12)
    w = hs.grid_weights(grids)
    rng = np.random.default_rng(5)
    y = rng.poisson(0.8, 144).astype(float)
    y.reshape(12, 12)[3:6, 3:6] += 3
    perms = 9999
    ours = hs.gi_star(pd.Series(y, index=w.codes), w, p_value="permutation",
                      permutations=perms, seed=1, fdr=False)
    observed = w.adjacency @ y
    loop = np.random.default_rng(9)
    draws = 20_000
    for g in (0, 4, 40, 50, 77, 143):  # a corner, the cluster, edges, the middle
        others = np.delete(y, g)
        k = w.cardinalities[g]
        sums = np.array([loop.choice(others, size=k, replace=False).sum()
                         for _ in range(draws)])
        z = ours.gi_z.iloc[g]
        tail = (sums >= observed[g]) if z > 0 else (sums <= observed[g])
        q = (tail.sum() + 1) / (draws + 1)
        se = np.sqrt(q * (1 - q) / perms + q * (1 - q) / draws)
        assert ours.gi_p.iloc[g] == pytest.approx(min(1.0, 2 * q), abs=2 * (5 * se + 1e-3))
    assert (ours.gi_p.to_numpy().reshape(12, 12)[4, 4] < 0.01)


def test_gi_bins_fdr_literal():
    p = [0.0005, 0.004, 0.02, 0.03, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9]
    z = [3.5, -2.9, 2.3, 2.2, 1.3, 0.7, -0.5, 0.4, 0.3, 0.1]
    # BH over 10 tests: at 0.01 only the first passes (0.004 > 2 × 0.001); at 0.05 the
    # first two (0.02 > 3 × 0.005); at 0.10 the first four (0.03 <= 4 × 0.01).
    assert_array_equal(hs.gi_bins(z, p), [3, -2, 1, 1, 0, 0, 0, 0, 0, 0])
    assert_array_equal(hs.gi_bins(z, p, fdr=False), [3, -3, 2, 2, 0, 0, 0, 0, 0, 0])
    assert_array_equal(hs.gi_bins([1.0, 2.0], [np.nan, 0.5]), [0, 0])


def test_all_counts_zero(grid5):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = hs.dispute_hotspots(grid5, pd.Series(0, index=grid5.code))
    assert (out.gi_bin == 0).all()
    assert (out.gi_z == 0).all()
    assert (out.gi_p == 1).all()


def test_empty_dispute_rows_mean_zero_counts(grid5):
    rows = pd.DataFrame({"grid_code": pd.Series([], dtype=str),
                         "reported_at": pd.Series([], dtype="datetime64[ns]")})
    out = hs.dispute_hotspots(grid5, rows, since=datetime(2026, 1, 1),
                              until=datetime(2026, 2, 1))
    assert (out.disputes == 0).all()
    assert (out.gi_bin == 0).all()


def test_same_seed_same_result(grid5):
    values = pd.Series(HOT_CENTRE.ravel() + np.arange(25) % 3, index=grid5.code)
    w = hs.grid_weights(grid5)
    a = hs.gi_star(values, w, p_value="permutation", permutations=199, seed=11)
    b = hs.gi_star(values, w, p_value="permutation", permutations=199, seed=11)
    c = hs.gi_star(values, w, p_value="permutation", permutations=199, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(a.gi_p.to_numpy(), c.gi_p.to_numpy())


def test_prebuilt_weights_give_the_same_result(grid5):
    counts = pd.Series(HOT_CENTRE.ravel(), index=grid5.code)
    w = hs.grid_weights(grid5)
    pd.testing.assert_frame_equal(hs.dispute_hotspots(grid5, counts, weights=w),
                                  hs.dispute_hotspots(grid5, counts))
    # A bare libpysal Graph, or a classic libpysal W, works too.
    expected = hs.dispute_hotspots(grid5, counts)
    pd.testing.assert_frame_equal(hs.dispute_hotspots(grid5, counts, weights=w.graph),
                                  expected)
    queen = Queen.from_dataframe(grid5.set_index("code"), use_index=True)
    pd.testing.assert_frame_equal(hs.dispute_hotspots(grid5, counts, weights=queen),
                                  expected)
    with pytest.raises(ValueError, match="weights"):
        hs.dispute_hotspots(grid5.iloc[:-1], counts, weights=w)


def test_rates_leave_out_grids_without_residents(grid5):
    grids = grid5.copy()
    grids.loc[grids.code == "L0000", "population"] = 0
    grids.loc[grids.code == "L0202", "population"] = 500
    out = hs.dispute_hotspots(grids, pd.Series(HOT_CENTRE.ravel(), index=grids.code),
                              measure="rate").set_index("code")
    assert out.loc["L0000", "excluded"]
    assert np.isnan(out.loc["L0000", "rate"])
    assert out.loc["L0000", "gi_bin"] == 0
    assert out.loc["L0202", "rate"] == pytest.approx(12.0)  # 6 per 500 residents
    assert out.loc["L0101", "rate"] == pytest.approx(3.0)


def test_counts_from_rows_frames_and_series():
    codes = ["A", "B", "C"]
    rows = pd.DataFrame({
        "grid_code": ["A", "A", "B", "A", "Z", None],
        "category": ["dispute", "dispute", "dispute", "road", "dispute", "dispute"],
        "reported_at": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-02-02",
                                       "2026-01-06", "2026-01-07", "2026-01-08"]),
    })
    assert hs.disputes_per_grid(rows, codes).tolist() == [2, 1, 0]
    assert hs.disputes_per_grid(rows, codes, since=datetime(2026, 1, 10),
                                until=datetime(2026, 2, 2)).tolist() == [1, 0, 0]
    frame = pd.DataFrame({"grid_code": ["B", "C"], "requests": [9, 9], "disputes": [4, 1]})
    assert hs.disputes_per_grid(frame, codes).tolist() == [0, 4, 1]
    assert hs.disputes_per_grid(pd.Series({"C": 2}), codes).tolist() == [0, 0, 2]


# --------------------------------------------------------------------------- demo city


@pytest.mark.slow
def test_planted_clusters_are_hot_spots(city, city_weights, city_disputes, clusters):
    out = hs.dispute_hotspots(city.grids, city_disputes, weights=city_weights)
    bins = out.set_index("code").gi_bin
    centres = [bins[c["centre_grid"]] for c in clusters]
    assert sum(b > 0 for b in centres) >= 3, centres
    assert (bins >= 0).all()  # sparse counts: no spurious cold spots
    planted = set().union(*(c["grids"] for c in clusters))
    hot = set(bins.index[bins > 0])
    assert len(hot & planted) >= 0.5 * len(hot)


@pytest.mark.slow
def test_distance_band_finds_every_planted_cluster(city, city_disputes, clusters):
    w = hs.grid_weights(city.grids, distance_m=800)
    bins = hs.dispute_hotspots(city.grids, city_disputes, weights=w).set_index("code").gi_bin
    assert [bins[c["centre_grid"]] for c in clusters] == [3, 3, 3, 3]


@pytest.mark.slow
def test_uniform_random_disputes_give_no_hot_spots(city, city_weights):
    rng = np.random.default_rng(2024)
    n = len(city.grids)
    for total in (300, 926, 20_000):
        counts = pd.Series(np.bincount(rng.integers(0, n, total), minlength=n),
                           index=city.grids.code.to_numpy())
        out = hs.dispute_hotspots(city.grids, counts, weights=city_weights)
        assert (out.gi_bin != 0).sum() <= 3, total


@pytest.mark.slow
def test_normal_p_misfires_on_sparse_uniform_counts(city, city_weights):
    # Why the exact p-value is the default: the normal approximation flags dozens.
    n = len(city.grids)
    counts = pd.Series(np.bincount(np.random.default_rng(5).integers(0, n, 926), minlength=n),
                       index=city.grids.code.to_numpy())
    out = hs.dispute_hotspots(city.grids, counts, weights=city_weights, p_value="normal")
    assert (out.gi_bin != 0).sum() > 20


@pytest.mark.slow
def test_recent_cluster_is_an_emerging_hot_spot(city, city_weights, city_disputes, clusters):
    out = hs.emerging_hotspots(city.grids, city_disputes, until=DEMO_END,
                               weights=city_weights).set_index("code")
    recent = [c for c in clusters if c["recent_weeks"]]
    older = [c for c in clusters if not c["recent_weeks"]]
    assert len(recent) == 1
    centre = out.loc[recent[0]["centre_grid"]]
    assert (centre.pattern, centre.spot) == ("consecutive", "hot")
    for c in older:
        assert out.loc[c["centre_grid"], "pattern"] not in ("new", "consecutive")
    assert out.disputes.sum() == (
        (city_disputes.reported_at >= DEMO_END - timedelta(weeks=12))
        & (city_disputes.reported_at < DEMO_END)).sum()


@pytest.mark.slow
def test_density_peaks_at_a_planted_cluster(city, city_disputes, clusters):
    surface = hs.dispute_density(city_disputes, extent=city.grids, bandwidth_m=500)
    assert surface.crs == "EPSG:32649"
    cell_km2 = (surface.cell_m / 1000) ** 2
    assert surface.values.sum() * cell_km2 == pytest.approx(len(city_disputes), rel=1e-9)
    cells = surface.to_cells(min_share=0.5)
    planted = city.grids[city.grids.code.isin(set().union(*(c["grids"] for c in clusters)))]
    near = planted.to_crs(surface.crs).buffer(1000).to_crs(4326).union_all()
    assert len(cells) > 0
    assert cells.to_crs(surface.crs).centroid.to_crs(4326).within(near).all()


# --------------------------------------------------------------------------- density


def test_density_of_one_point():
    pts = pd.DataFrame({"lon": [112.35], "lat": [28.55]})
    s = hs.dispute_density(pts, bandwidth_m=400, cell_m=50)
    assert s.values.sum() * (0.05 ** 2) == pytest.approx(1.0)
    # The peak of a Gaussian with sigma 400 m, per km²: 1 / (2π · 0.4²) ≈ 0.995.
    assert s.values.max() == pytest.approx(1 / (2 * np.pi * 0.4**2), rel=0.02)
    peak = s.to_cells(min_share=0.999)
    assert len(peak) >= 1
    assert peak.geometry.intersects(shapely.Point(112.35, 28.55)).any()
    wide = hs.dispute_density(pts, bandwidth_m=800, cell_m=50)
    assert wide.values.max() == pytest.approx(s.values.max() / 4, rel=0.03)
    assert peak.crs.to_epsg() == 4326


def test_density_filters_and_coarsens():
    pts = pd.DataFrame({"lon": [112.35, 112.36, 112.40], "lat": [28.55, 28.55, 28.50],
                        "category": ["dispute", "dispute", "road"],
                        "reported_at": pd.to_datetime(["2026-01-01", "2026-03-01",
                                                       "2026-01-02"])})
    s = hs.dispute_density(pts, since=datetime(2026, 1, 1), until=datetime(2026, 2, 1))
    assert s.points == 1
    fine = s.to_cells(min_share=0.0, max_cells=None)
    coarse = s.to_cells(min_share=0.0, coarsen=4, max_cells=None)
    assert 0 < len(coarse) < len(fine)
    capped = s.to_cells(min_share=0.0, max_cells=len(fine) // 5)
    assert 0 < len(capped) <= len(fine) // 5
    # Coarser cells are bigger and carry the same disputes.
    area = capped.to_crs(s.crs).area.iloc[0] / 1e6
    assert (capped.density * area).sum() == pytest.approx(1.0, rel=1e-3)


# --------------------------------------------------------------------------- trends


def test_mann_kendall_matches_scipy():
    rng = np.random.default_rng(1)
    series = np.vstack([rng.normal(size=12), np.arange(12.0), np.arange(12.0)[::-1],
                        np.round(rng.normal(size=12))])  # the last row has ties
    tau, p = hs.mann_kendall(series)
    for row, t, pv in zip(series, tau, p, strict=True):
        ref = stats.kendalltau(np.arange(12), row, method="asymptotic")
        assert t == pytest.approx(ref.statistic)
        assert pv == pytest.approx(ref.pvalue)
    assert hs.mann_kendall(np.zeros((1, 12)))[1][0] == 1.0


def _series(bins: list[int], z: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    b = np.array(bins)
    zz = np.array(z, dtype=float) if z is not None else 2.5 * b.astype(float)
    return zz, b


CASES = {
    "new hot": ([0] * 11 + [1], None, ("new", "hot")),
    "consecutive hot": ([0] * 9 + [1, 1, 1], None, ("consecutive", "hot")),
    "intensifying hot": ([1] * 12, [2 + 0.5 * i for i in range(12)], ("intensifying", "hot")),
    "persistent hot": ([1] * 12, [3, 4] * 6, ("persistent", "hot")),
    "diminishing hot": ([1] * 12, [8 - 0.5 * i for i in range(12)], ("diminishing", "hot")),
    "historical hot": ([1] * 11 + [0], [3] * 11 + [0.5], ("historical", "hot")),
    "sporadic hot": ([1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1], None, ("sporadic", "hot")),
    "oscillating hot": ([-1, 0, 0, 1, 0, -1, 0, 0, 0, 0, 0, 1], None, ("oscillating", "hot")),
    "new cold": ([0] * 11 + [-1], None, ("new", "cold")),
    "consecutive cold": ([0] * 8 + [-1] * 4, None, ("consecutive", "cold")),
    "intensifying cold": ([-1] * 12, [-2 - 0.5 * i for i in range(12)],
                          ("intensifying", "cold")),
    "hot once, long ago": ([0, 0, 1, 1] + [0] * 8, None, ("no_pattern", "")),
    "never significant": ([0] * 12, None, ("no_pattern", "")),
    "hot run broken before the end": ([0] * 6 + [1, 1, 0, 1, 1, 1], None, ("sporadic", "hot")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_emerging_classes(name):
    bins, z, expected = CASES[name]
    zz, b = _series(bins, z)
    out = hs.classify_emerging(zz[None, :], b[None, :])
    assert (out.pattern[0], out.spot[0]) == expected
    assert out.hot_weeks[0] == (b > 0).sum()


def test_weekly_windows_and_week_edges(grid5):
    until = datetime(2026, 3, 2)
    rows = pd.DataFrame({
        "grid_code": ["L0202", "L0202", "L0000", "L0101", "L0101"],
        "reported_at": [until - timedelta(hours=1),  # last week
                        until - timedelta(days=7),  # last week's first instant
                        until - timedelta(days=7, seconds=1),  # the week before
                        until,  # after the window
                        until - timedelta(days=22)],  # before the 3 weeks
    })
    counts, z, bins = hs.weekly_gi_star(grid5, rows, until=until, weeks=3, window_weeks=1)
    assert list(counts.columns) == [until - timedelta(days=21), until - timedelta(days=14),
                                    until - timedelta(days=7)]
    assert counts.loc["L0202"].tolist() == [0, 0, 2]
    assert counts.loc["L0000"].tolist() == [0, 1, 0]
    assert counts.to_numpy().sum() == 3
    assert z.shape == (25, 3)
    # With a 2-week window the last week's Gi* also sees the week before.
    _, z2, _ = hs.weekly_gi_star(grid5, rows, until=until, weeks=3, window_weeks=2)
    assert z2.loc["L0000"].iloc[-1] > z.loc["L0000"].iloc[-1]


# --------------------------------------------------------------------------- page helpers


def test_density_bandwidth_follows_the_extent_and_is_clamped():
    small = lattice(2, 2)  # about 2 km across
    big = lattice(40, 40, step=0.05)  # about 250 km across
    assert hs.density_bandwidth(small) == 250.0  # clamped up
    assert hs.density_bandwidth(big) == 2000.0  # clamped down
    mid = lattice(10, 10)  # 0.1° × 0.1°: about 9.8 km × 11.1 km, diagonal about 14.8 km
    assert hs.density_bandwidth(mid, divisions=20, min_m=10, max_m=5000) == 750.0
    assert hs.density_bandwidth(small.iloc[0:0]) == 250.0
    with pytest.raises(ValueError):
        hs.density_bandwidth(small, divisions=0)


def test_hotspot_clusters_join_neighbouring_hot_grids():
    grids = lattice(5, 5)
    w = hs.grid_weights(grids)
    result = grids[["code"]].copy()
    result["disputes"] = np.arange(25)
    bins = np.zeros(25, dtype=np.int8)
    bins[[0, 1, 5]] = [3, 2, 1]  # a corner group of three
    bins[[18, 24]] = [1, 3]  # (3,3) and (4,4) touch at a corner (Queen)
    bins[[4]] = -2  # cold: never part of a cluster
    result["gi_bin"] = bins
    result["gi_z"] = np.linspace(0, 2.4, 25)
    result = gpd.GeoDataFrame(result, geometry=grids.geometry, crs=4326)
    found = hs.hotspot_clusters(result, w)
    assert list(found.index) == [1, 2]
    assert found.loc[1, "codes"] == ("L0303", "L0404")
    assert found.loc[1, "disputes"] == 18 + 24
    assert found.loc[1, "top_code"] == "L0404" and found.loc[1, "max_bin"] == 3
    assert found.loc[2, "codes"] == ("L0000", "L0001", "L0100")
    assert found.loc[2, "disputes"] == 0 + 1 + 5
    assert found.loc[2, "top_code"] == "L0100"  # the largest z of the three
    top = grids.set_index("code").geometry["L0404"]
    assert top.contains(shapely.Point(found.loc[1, "lon"], found.loc[1, "lat"]))
    strict = hs.hotspot_clusters(result, w, min_bin=3)
    assert [c for c in strict["codes"]] == [("L0404",), ("L0000",)]


def test_hotspot_clusters_of_nothing_is_empty():
    grids = lattice(3, 3)
    result = gpd.GeoDataFrame({"code": grids["code"], "disputes": 0, "gi_bin": 0,
                               "gi_z": 0.0}, geometry=grids.geometry, crs=4326)
    found = hs.hotspot_clusters(result, hs.grid_weights(grids))
    assert found.empty and "codes" in found.columns
