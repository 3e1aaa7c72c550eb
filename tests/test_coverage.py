"""Police coverage on literal squares laid out in UTM 49N (EPSG:32649) near Yiyang.

The grids are 2 km squares drawn in metres and converted to EPSG:4326, so every expected area
and distance below is worked out by hand in metres, or by shapely directly in EPSG:32649.
"""

from __future__ import annotations

import itertools
import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose

from geo import coverage

UTM = "EPSG:32649"
X0, Y0 = 630_000.0, 3_150_000.0  # about 112.35°E, 28.46°N
KM2 = 2000.0 * 2000.0
# A 64-gon disc is 0.16 % short of πr²; allow that much and a little more.
DISC = 0.002


def to_lonlat(x, y):
    p = gpd.GeoSeries(gpd.points_from_xy(np.asarray(x) + X0, np.asarray(y) + Y0), crs=UTM)
    p = p.to_crs(4326)
    return p.x.to_numpy(), p.y.to_numpy()


def stations_at(rows):
    """Stations from (x, y, kind[, radius_m]) in metres from the origin."""
    rows = [r if len(r) == 4 else (*r, np.nan) for r in rows]
    x, y, kind, radius = zip(*rows, strict=True) if rows else ((), (), (), ())
    lon, lat = to_lonlat(list(x), list(y))
    return pd.DataFrame({
        "code": [f"S{i}" for i in range(len(rows))],
        "name": [f"站{i}" for i in range(len(rows))],
        "kind": list(kind), "lon": lon, "lat": lat,
        "radius_m": np.asarray(radius, dtype=float),
    })


def squares(cells, *, size=2000.0):
    """Grids from (code, x, y, population): squares with their south-west corner at (x, y)."""
    boxes = [shapely.box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size) for _, x, y, _ in cells]
    return gpd.GeoDataFrame(
        {"code": [c for c, *_ in cells], "population": [p for *_, p in cells]},
        geometry=gpd.GeoSeries(boxes, crs=UTM).to_crs(4326),
    )


@pytest.fixture
def grids():
    """A row of three 2 km squares A B C (C has no residents) and D north of A.

    A and B are in community 430903003001, C and D in 430903004002 (another township).
    """
    return squares([
        ("430903003001001", 0, 0, 1000),      # A
        ("430903003001002", 2000, 0, 600),    # B
        ("430903004002001", 4000, 0, 0),      # C
        ("430903004002002", 0, 2000, 400),    # D
    ])


def metric(geoms):
    return gpd.GeoSeries(geoms, crs=4326).to_crs(UTM)


def fine_disc(x, y, r):
    """An independent, finer disc (1024-gon) in metres."""
    return shapely.Point(X0 + x, Y0 + y).buffer(r, quad_segs=256)


# --------------------------------------------------------------------------- coverage areas


def test_disc_radius_by_kind_and_area_close_to_pi_r_squared():
    st = stations_at([(0, 0, "station"), (10_000, 0, "workstation"), (20_000, 0, "room")])
    areas = coverage.coverage_areas(st)
    assert areas.crs.to_epsg() == 4326
    assert_allclose(areas["radius_m"], [3000, 1000, 500])
    got = metric(areas.geometry).area.to_numpy()
    want = math.pi * np.array([3000, 1000, 500]) ** 2
    assert_allclose(got, want, rtol=DISC)
    assert (got < want).all()  # an inscribed polygon, never larger than the circle


def test_radius_override_per_station_and_per_kind():
    st = stations_at([(0, 0, "workstation"), (5000, 0, "workstation", 250.0), (9000, 0, "room")])
    assert_allclose(coverage.coverage_areas(st)["radius_m"], [1000, 250, 500])
    assert_allclose(coverage.coverage_areas(st, radius_m={"workstation": 800})["radius_m"],
                    [800, 250, 500])
    assert_allclose(coverage.coverage_areas(st, radius_m=1200)["radius_m"], [1200, 250, 1200])
    got = metric(coverage.coverage_areas(st).geometry).area.to_numpy()
    assert_allclose(got[1], math.pi * 250**2, rtol=DISC)


def test_unknown_kind_without_radius_is_an_error():
    st = stations_at([(0, 0, "kiosk")])
    with pytest.raises(ValueError, match="kiosk"):
        coverage.coverage_areas(st)
    st.loc[0, "radius_m"] = 300.0  # its own radius makes the kind irrelevant
    assert_allclose(coverage.coverage_areas(st)["radius_m"], [300])


def test_union_matches_shapely_union_of_discs():
    # Two workstations 1.2 km apart overlap; a room far away does not.
    st = stations_at([(0, 0, "workstation"), (1200, 0, "workstation"), (8000, 0, "room")])
    union = coverage.coverage_union(st)
    want = shapely.union_all([fine_disc(0, 0, 1000), fine_disc(1200, 0, 1000),
                              fine_disc(8000, 0, 500)])
    got = metric([union]).iloc[0]
    assert_allclose(got.area, want.area, rtol=DISC)
    assert len(shapely.get_parts(got)) == 2
    assert got.area < 2 * math.pi * 1000**2 + math.pi * 500**2 - 1e5  # the overlap counts once


# --------------------------------------------------------------------------- per grid


def test_disc_on_a_shared_edge_covers_half_a_disc_of_each_grid(grids):
    # A room (500 m) on the midpoint of the A|B edge.
    per = coverage.station_coverage(stations_at([(2000, 1000, "room")]), grids)
    half = math.pi * 500**2 / 2 / KM2
    assert_allclose(per["covered_share"].to_numpy()[:2], [half, half], rtol=DISC)
    assert_allclose(per["covered_share"].to_numpy()[2:], [0, 0])
    # The same as shapely's own intersection of a finer disc with square A, in metres.
    square_a = shapely.box(X0, Y0, X0 + 2000, Y0 + 2000)
    want = shapely.intersection(square_a, fine_disc(2000, 1000, 500)).area
    assert_allclose(per["covered_km2"].iloc[0] * 1e6, want, rtol=DISC)
    assert_allclose(per["covered_population"].to_numpy()[:2], [1000 * half, 600 * half],
                    rtol=DISC)
    assert per["uncovered"].all()  # 9.8 % is below the default threshold of one half


def test_station_outside_every_grid_covers_where_its_disc_reaches(grids):
    # A workstation (1 km) 500 m south of B's south edge cuts a circular segment off B.
    st = stations_at([(3000, -500, "workstation")])
    per = coverage.station_coverage(st, grids)
    r, d = 1000.0, 500.0
    segment = r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)  # 614,185 m²
    # The 64-gon's chords sit up to 1.2 m inside the 2.1 km arc: 0.3 % of this small area.
    assert_allclose(per["covered_km2"].to_numpy() * 1e6, [0, segment, 0, 0], rtol=0.004)
    assert_allclose(per["covered_population"].iloc[1], 600 * segment / KM2, rtol=0.004)
    # Straight-line distance from each square's centre to the station (to half a metre:
    # the representative point is found in degrees).
    assert_allclose(per["nearest_station_m"], [2500, 1500, math.hypot(2000, 1500),
                                               math.hypot(2000, 3500)], atol=0.5)
    assert (per["nearest_station_code"] == "S0").all()
    assert (per["nearest_station_kind"] == "workstation").all()
    assert (per["nearest_station_name"] == "站0").all()


def test_whole_grid_inside_a_disc_is_fully_covered_and_threshold_applies(grids):
    # A 派出所 (3 km) at A's centre reaches all of A (corners 1.41 km away) and part of B, D.
    st = stations_at([(1000, 1000, "station")])
    per = coverage.station_coverage(st, grids)
    want = [shapely.intersection(shapely.box(X0 + x, Y0 + y, X0 + x + 2000, Y0 + y + 2000),
                                 fine_disc(1000, 1000, 3000)).area / KM2
            for x, y in [(0, 0), (2000, 0), (4000, 0), (0, 2000)]]
    assert per["covered_share"].iloc[0] == 1.0
    assert_allclose(per["covered_share"], want, rtol=DISC)
    assert per["uncovered"].tolist() == [s < 0.5 for s in want] == [False, False, True, False]
    loose = coverage.station_coverage(st, grids, threshold=want[2] / 2)
    assert not loose["uncovered"].any()


def test_grid_without_residents_has_a_share_and_no_population(grids):
    # A room at C's centre: C is covered in part but nobody lives there.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero, no all-NaN warnings
        per = coverage.station_coverage(stations_at([(5000, 1000, "room")]), grids)
        totals = coverage.coverage_totals(per, level="township")
    c = per.iloc[2]
    assert_allclose(c["covered_share"], math.pi * 500**2 / KM2, rtol=DISC)
    assert c["population"] == 0 and c["covered_population"] == 0
    assert c["uncovered"]  # 19.6 % is below one half
    # Township 430903004 has C (0 people) and D (400, uncovered): 0 % covered, not NaN.
    row = totals.set_index("area_code").loc["430903004"]
    assert row["population"] == 400 and row["population_covered_share"] == 0


def test_unknown_population_stays_unknown(grids):
    grids.loc[1, "population"] = None
    per = coverage.station_coverage(stations_at([(1000, 1000, "station")]), grids)
    assert np.isnan(per["covered_population"].iloc[1])
    city = coverage.coverage_totals(per).iloc[0]
    # B is left out of both sums, so the share is over A, C and D only.
    assert city["population"] == 1400
    assert_allclose(city["covered_population"],
                    1000 + 400 * per["covered_share"].iloc[3], rtol=1e-12)


def test_no_stations_leaves_everything_uncovered(grids):
    none = stations_at([])
    per = coverage.station_coverage(none, grids)
    assert (per["covered_share"] == 0).all() and per["uncovered"].all()
    assert per["nearest_station_m"].isna().all()
    assert per["nearest_station_code"].isna().all()
    assert coverage.coverage_union(none).is_empty
    city = coverage.coverage_totals(per).iloc[0]
    assert city["population_covered_share"] == 0 and city["uncovered_grids"] == 4
    sites = coverage.suggest_sites(grids, none, 1, radius_m=500)
    assert sites["candidate"].tolist() == ["430903003001001"]  # A, the most populous
    assert sites["gain"].tolist() == [1000]


def test_empty_grids_give_empty_results():
    empty = squares([])
    st = stations_at([(0, 0, "room")])
    per = coverage.station_coverage(st, empty, requests=pd.DataFrame({"lon": [], "lat": []}))
    assert len(per) == 0
    assert {"covered_share", "nearest_station_m", "uncovered", "requests"} <= set(per.columns)
    assert len(coverage.coverage_totals(per)) == 0
    assert len(coverage.uncovered_grids(per)) == 0
    assert len(coverage.suggest_sites(empty, st, 3)) == 0


def test_input_grids_are_not_modified(grids):
    before = grids.copy()
    coverage.station_coverage(stations_at([(0, 0, "room")]), grids)
    pd.testing.assert_frame_equal(pd.DataFrame(grids), pd.DataFrame(before))


# --------------------------------------------------------------------------- requests, totals


@pytest.fixture
def requests():
    # With a room (500 m) at A's centre: one request near it, one in A's corner, one in B,
    # one known only by its grid code (A), one in no grid.
    lon, lat = to_lonlat([1100, 1900, 3000, np.nan, 9000], [900, 1900, 1000, np.nan, 9000])
    return pd.DataFrame({
        "lon": lon, "lat": lat,
        "grid_code": [None, None, None, "430903003001001", None],
    })


def test_requests_covered_by_point_and_by_grid_share(grids, requests):
    st = stations_at([(1000, 1000, "room")])
    assert coverage.requests_covered(requests, st).tolist() == [True, False, False, False,
                                                                 False]
    per = coverage.station_coverage(st, grids, requests=requests)
    share_a = per["covered_share"].iloc[0]
    assert_allclose(share_a, math.pi * 500**2 / KM2, rtol=DISC)
    assert per["requests"].tolist() == [3, 1, 0, 0]  # the one in no grid is not counted
    assert_allclose(per["covered_requests"], [1 + share_a, 0, 0, 0])
    assert_allclose(per["uncovered_requests"], [2 - share_a, 1, 0, 0])
    city = coverage.coverage_totals(per).iloc[0]
    assert city["requests"] == 4
    assert_allclose(city["requests_covered_share"], (1 + share_a) / 4)


def test_totals_per_level(grids, requests):
    st = stations_at([(1000, 1000, "station")])  # covers A wholly, B and D in part
    per = coverage.station_coverage(st, grids, requests=requests)
    s = per["covered_share"].to_numpy()
    city = coverage.coverage_totals(per, level="city")
    assert city["area_code"].tolist() == ["430900"]
    assert_allclose(city["population_covered_share"], (1000 + 600 * s[1] + 400 * s[3]) / 2000)
    town = coverage.coverage_totals(per, level="township").set_index("area_code")
    assert town.index.tolist() == ["430903003", "430903004"]
    assert town["grids"].tolist() == [2, 2]
    assert town["uncovered_grids"].tolist() == [0, 1]  # C
    assert_allclose(town["population_covered_share"], [(1000 + 600 * s[1]) / 1600, s[3]])
    # No requests at all in township 430903004: no rate, not 100 %.
    assert np.isnan(town.loc["430903004", "requests_covered_share"])
    assert coverage.coverage_totals(per, level="community")["area_code"].tolist() == [
        "430903003001", "430903004002"]
    with pytest.raises(ValueError):
        coverage.coverage_totals(per, level="street")


def test_uncovered_grids_ranked_by_population_and_by_requests(grids):
    # No stations: every grid is uncovered. B has most requests, A most residents.
    lon, lat = to_lonlat([3000, 3100, 5000, 1000], [1000, 1100, 1000, 1000])
    req = pd.DataFrame({"lon": lon, "lat": lat})
    per = coverage.station_coverage(stations_at([]), grids, requests=req)
    by_pop = coverage.uncovered_grids(per)
    assert by_pop["code"].tolist() == ["430903003001001", "430903003001002",  # A, B
                                       "430903004002002", "430903004002001"]  # D, C
    by_req = coverage.uncovered_grids(per, by="requests")
    # B (2), then A and C (1 each, by code), then D (0).
    assert by_req["code"].tolist() == ["430903003001002", "430903003001001",
                                       "430903004002001", "430903004002002"]
    # A covered grid drops out of the list.
    covered = coverage.station_coverage(stations_at([(1000, 1000, "station")]), grids)
    assert coverage.uncovered_grids(covered)["code"].tolist() == ["430903004002001"]
    with pytest.raises(ValueError):
        coverage.uncovered_grids(covered, by="requests")


# --------------------------------------------------------------------------- suggest_sites


def tiny_grids(centres, weights):
    """50 m squares around the given centres, so each grid's demand point is its centre."""
    cells = [(f"430903003001{i + 1:03d}", x - 25, y - 25, w)
             for i, ((x, y), w) in enumerate(zip(centres, weights, strict=True))]
    return squares(cells, size=50.0)


def candidate_points(points):
    lon, lat = to_lonlat([p[0] for p in points], [p[1] for p in points])
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326)


def covered_weight(chosen, centres, weights, sites, radius):
    """Weight within ``radius`` of any chosen site, by plain distance in metres."""
    reached = {i for i, c in enumerate(centres) for j in chosen
               if math.dist(c, sites[j]) <= radius}
    return sum(weights[i] for i in reached)


def brute_force(centres, weights, sites, radius, n):
    return max(covered_weight(c, centres, weights, sites, radius)
               for c in itertools.combinations(range(len(sites)), n))


def test_greedy_is_within_1_minus_1_over_e_of_the_brute_force_optimum():
    rng = np.random.default_rng(7)
    centres = [tuple(p) for p in rng.uniform(0, 6000, size=(14, 2)).round()]
    weights = rng.integers(50, 1000, 14).tolist()
    sites = [tuple(p) for p in rng.uniform(0, 6000, size=(9, 2)).round()]
    radius, n = 1500.0, 3
    got = coverage.suggest_sites(tiny_grids(centres, weights), stations_at([]), n,
                                 candidates=candidate_points(sites), radius_m=radius)
    chosen = got["candidate"].tolist()
    assert len(chosen) == n
    # The reported gains add up to what the chosen sites really reach.
    assert_allclose(got["cumulative"].iloc[-1],
                    covered_weight(chosen, centres, weights, sites, radius))
    assert (np.diff(got["gain"]) <= 0).all()  # coverage is submodular
    assert_allclose(got["remaining"].iloc[-1] + got["cumulative"].iloc[-1], sum(weights))
    optimum = brute_force(centres, weights, sites, radius, n)
    assert got["cumulative"].iloc[-1] >= (1 - 1 / math.e) * optimum


def test_greedy_can_miss_the_optimum_but_stays_within_the_bound():
    # Demand on a line: a=0, b=1000, c=2000, d=3000 (100 each) and e=1500 (50). Sites at 500
    # (reaches a, b), 2500 (c, d) and 1500 (b, c, e). Greedy takes 1500 first (250), then
    # one of the others (+100): 350. The optimum is 500 + 2500: 400.
    centres = [(0, 0), (1000, 0), (2000, 0), (3000, 0), (1500, 0)]
    weights = [100, 100, 100, 100, 50]
    sites = [(500, 0), (2500, 0), (1500, 0)]
    got = coverage.suggest_sites(tiny_grids(centres, weights), stations_at([]), 2,
                                 candidates=candidate_points(sites), radius_m=600)
    assert got["candidate"].tolist() == [2, 0]
    assert got["gain"].tolist() == [250, 100]
    assert got["grids_reached"].tolist() == [3, 1]
    optimum = brute_force(centres, weights, sites, 600, 2)
    assert optimum == 400
    assert (1 - 1 / math.e) * optimum <= 350


def test_greedy_is_exactly_optimal_when_clusters_are_apart():
    # Three clusters far apart; each site reaches one cluster only.
    centres = [(0, 0), (300, 0), (10_000, 0), (10_200, 0), (20_000, 0)]
    weights = [300, 200, 150, 100, 400]
    sites = [(150, 0), (10_100, 0), (20_000, 0)]
    got = coverage.suggest_sites(tiny_grids(centres, weights), stations_at([]), 2,
                                 candidates=candidate_points(sites), radius_m=500)
    assert got["candidate"].tolist() == [0, 2]
    assert got["gain"].tolist() == [500, 400]
    assert got["cumulative"].iloc[-1] == brute_force(centres, weights, sites, 500, 2) == 900


def test_existing_stations_take_away_covered_demand():
    centres = [(0, 0), (5000, 0), (10_000, 0)]
    weights = [900, 500, 300]
    g = tiny_grids(centres, weights)
    # A room on the first grid covers it wholly: the first suggestion moves to the second.
    got = coverage.suggest_sites(g, stations_at([(0, 0, "room")]), 5, radius_m=100)
    assert got["candidate"].tolist() == ["430903003001002", "430903003001003"]  # then stops
    assert got["gain"].tolist() == [500, 300]
    assert got["remaining"].tolist() == [300, 0]
    assert_allclose(got[["lon", "lat"]].to_numpy(),
                    np.column_stack(to_lonlat([5000, 10_000], [0, 0])), atol=1e-9)
    assert got.crs.to_epsg() == 4326


def test_suggest_by_requests_follows_requests_not_residents():
    centres = [(0, 0), (5000, 0)]
    g = tiny_grids(centres, [900, 100])
    lon, lat = to_lonlat([5000, 5005, 4995, 0], [0, 5, -5, 0])
    req = pd.DataFrame({"lon": lon, "lat": lat})
    by_pop = coverage.suggest_sites(g, stations_at([]), 1, radius_m=100)
    by_req = coverage.suggest_sites(g, stations_at([]), 1, radius_m=100, weight="requests",
                                    requests=req)
    assert by_pop["candidate"].tolist() == ["430903003001001"]
    assert by_req["candidate"].tolist() == ["430903003001002"]
    assert by_req["gain"].tolist() == [3]
    with pytest.raises(ValueError, match="requests"):
        coverage.suggest_sites(g, stations_at([]), 1, weight="requests")


def test_stations_and_candidates_as_points_or_lon_lat_agree(grids):
    st = stations_at([(2000, 1000, "room"), (3000, -500, "workstation")])
    as_points = gpd.GeoDataFrame(st.drop(columns=["lon", "lat"]),
                                 geometry=gpd.points_from_xy(st.lon, st.lat), crs=4326)
    a = coverage.station_coverage(st, grids)
    b = coverage.station_coverage(as_points.to_crs(UTM), grids)  # any CRS is converted
    assert_allclose(a["covered_share"], b["covered_share"], rtol=1e-9)
    assert_allclose(a["nearest_station_m"], b["nearest_station_m"], rtol=1e-9)
    assert a["covered_share"].iloc[1] > 0
    lon, lat = to_lonlat([1000, 5000], [1000, 1000])
    frame = pd.DataFrame({"lon": lon, "lat": lat}, index=["p", "q"])
    got = coverage.suggest_sites(grids, stations_at([]), 1, candidates=frame, radius_m=500)
    assert got["candidate"].tolist() == ["p"]  # A's 1,000 residents beat C's nobody
