import numpy as np
import pandas as pd
import shapely

from geo import grids


def test_assign_points_inside_each_grid(four_grids):
    lon = [112.305, 112.315, 112.305, 112.315]
    lat = [28.565, 28.565, 28.555, 28.555]
    got = grids.GridIndex(four_grids).assign(lon, lat)
    assert got.tolist() == list(four_grids.code)


def test_point_outside_every_grid_is_none(four_grids):
    got = grids.assign_points(four_grids, [112.5, 112.305], [28.0, 28.565])
    assert got[0] is None
    assert got[1] == "430903003001001"


def test_shared_boundary_goes_to_lower_code(four_grids):
    # (112.31, 28.565) lies on the edge between grid 001 and grid 002.
    got = grids.GridIndex(four_grids).assign([112.31, 112.31], [28.565, 28.56])
    assert got.tolist() == ["430903003001001", "430903003001001"]


def test_assign_empty_input(four_grids):
    assert len(grids.GridIndex(four_grids).assign([], [])) == 0


def test_assign_agrees_with_a_plain_polygon_test_on_random_points(four_grids):
    # Every point checked one by one against every grid (lower code first), including
    # points outside, on edges and corners, and with NaN coordinates.
    rng = np.random.default_rng(4)
    lon = np.concatenate([rng.uniform(112.295, 112.325, 400), [112.31, 112.30, np.nan, 1.0]])
    lat = np.concatenate([rng.uniform(28.545, 28.575, 400), [28.56, 28.55, 28.56, np.nan]])
    got = grids.GridIndex(four_grids).assign(lon, lat)
    ordered = four_grids.sort_values("code")
    for x, y, code in zip(lon, lat, got, strict=True):
        want = next((c for c, g in zip(ordered.code, ordered.geometry, strict=True)
                     if np.isfinite(x) and np.isfinite(y)
                     and g.intersects(shapely.Point(x, y))), None)
        assert code == want, (x, y)


def test_a_grid_far_away_keeps_the_index_small_and_right(four_grids):
    # A bad import puts one grid on another continent: the lattice is coarsened, not huge.
    far = four_grids.iloc[[0]].copy()
    far["code"] = "430903003001099"
    far["geometry"] = [shapely.box(-70.0, -30.0, -69.99, -29.99)]
    index = grids.GridIndex(pd.concat([four_grids, far]))
    nx, ny = index._shape
    assert nx * ny <= grids.MAX_CELLS
    got = index.assign([112.305, -69.995, 0.0], [28.565, -29.995, 0.0])
    assert got.tolist() == ["430903003001001", "430903003001099", None]


def test_missing_and_empty_geometries_are_left_out(four_grids):
    bad = four_grids.copy()
    bad.loc[bad.index[0], "geometry"] = None
    index = grids.GridIndex(bad)
    assert len(index) == 3
    assert index.assign([112.305], [28.565]).tolist() == [None]


def test_bow_tie_is_repaired_to_two_triangles():
    bow = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    assert not bow.is_valid
    fixed = grids.as_multipolygon(bow)
    assert fixed.is_valid
    assert len(fixed.geoms) == 2
    assert abs(fixed.area - 0.5) < 1e-12


def test_line_has_no_polygonal_part():
    assert grids.as_multipolygon(shapely.LineString([(0, 0), (1, 1)])) is None
    assert grids.as_multipolygon(shapely.Polygon()) is None


def test_grid_code_problems():
    assert grids.grid_code_problem("430903003001004", "430903003001") is None
    assert "15 digits" in grids.grid_code_problem("43090300300104")
    assert "15 digits" in grids.grid_code_problem("43090300300100A")
    assert "000" in grids.grid_code_problem("430903003001000")
    assert "community" in grids.grid_code_problem("430903003002004", "430903003001")


def test_reading_order_rows_north_to_south_then_west_to_east():
    x = np.array([2.0, 0.0, 1.0, 0.1, 2.1])
    y = np.array([10.0, 10.1, 9.95, 5.0, 5.05])
    order = grids.reading_order(x, y, row_height=1.0)
    assert order.tolist() == [1, 2, 0, 3, 4]


def test_metric_area_of_a_known_square(four_grids):
    area = grids.metric_area_km2(four_grids.geometry)
    # 0.01° × 0.01° at 28.56°N: about 0.978 km × 1.109 km.
    assert np.allclose(area, 0.9785 * 1.1086, rtol=0.01)
