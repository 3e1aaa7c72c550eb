"""Tests for geo.coords: GCJ-02/BD-09 offsets, CRS handling and helpers."""

import math

import numpy as np
import pytest
from pyproj import Transformer

from geo.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    metric_crs,
    normalise_crs_name,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

YIYANG = (112.35, 28.55)
TIANANMEN = (116.397128, 39.916527)
PARIS = (2.35, 48.85)

# Independent reference values for the point (123, 45), published in the test
# suite of the "gcoord" JavaScript library (same formulas).  They pin the
# constants and the formula terms, which a round trip alone cannot catch.
REF_TOL = 2e-6  # ~0.2 m; the precise inverses differ from gcoord's by < 1e-6
REFERENCE = [
    (wgs84_to_gcj02, (123.00607541, 45.00197815)),
    (gcj02_to_wgs84, (122.99395597, 44.99804071)),
    (gcj02_to_bd09, (123.00636499, 45.00636899)),
    (bd09_to_gcj02, (122.99363304, 44.99365430)),
    (bd09_to_wgs84, (122.98762210, 44.99171540)),
    (wgs84_to_bd09, (123.0124491, 45.0083293)),
]

# A grid spanning mainland China plus Yiyang and a few awkward spots
# (Hainan, far west Xinjiang, Heilongjiang, the 105E/35N formula origin).
_g_lon, _g_lat = np.meshgrid(np.linspace(75.0, 134.0, 9), np.linspace(18.5, 53.0, 8))
GRID_LON = np.concatenate([_g_lon.ravel(), [YIYANG[0], 109.5, 75.99, 127.0, 105.0]])
GRID_LAT = np.concatenate([_g_lat.ravel(), [YIYANG[1], 18.25, 39.47, 50.0, 35.0]])


def _metres(dlon: float, dlat: float, lat: float) -> float:
    # Equirectangular distance; plenty accurate for sub-kilometre offsets.
    r = 6_371_000.0
    return r * math.radians(math.hypot(dlon * math.cos(math.radians(lat)), dlat))


@pytest.mark.parametrize(("func", "expected"), REFERENCE, ids=lambda v: getattr(v, "__name__", ""))
def test_reference_values(func, expected):
    lon, lat = func(123.0, 45.0)
    assert lon == pytest.approx(expected[0], abs=REF_TOL)
    assert lat == pytest.approx(expected[1], abs=REF_TOL)


def test_tiananmen_gcj_offset_is_a_few_hundred_metres_north_east():
    lon, lat = wgs84_to_gcj02(*TIANANMEN)
    dlon, dlat = lon - TIANANMEN[0], lat - TIANANMEN[1]
    assert 0.005 < dlon < 0.007
    assert 0.001 < dlat < 0.002
    assert 100.0 < _metres(dlon, dlat, TIANANMEN[1]) < 1000.0


def test_gcj_offset_is_hundreds_of_metres_everywhere_on_grid():
    lon, lat = wgs84_to_gcj02(GRID_LON, GRID_LAT)
    for lo, la, glo, gla in zip(GRID_LON, GRID_LAT, lon, lat, strict=True):
        assert 50.0 < _metres(glo - lo, gla - la, la) < 1000.0, (lo, la)


def test_wgs_gcj_round_trip_is_precise():
    g_lon, g_lat = wgs84_to_gcj02(GRID_LON, GRID_LAT)
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert np.max(np.abs(w_lon - GRID_LON)) < 1e-7
    assert np.max(np.abs(w_lat - GRID_LAT)) < 1e-7


def test_gcj_to_wgs_is_precise_from_gcj_side_too():
    # Start from GCJ values: forward(inverse(x)) must reproduce x.
    w_lon, w_lat = gcj02_to_wgs84(GRID_LON, GRID_LAT)
    g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
    assert np.max(np.abs(g_lon - GRID_LON)) < 1e-7
    assert np.max(np.abs(g_lat - GRID_LAT)) < 1e-7


def test_yiyang_round_trip_scalar():
    lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(*YIYANG))
    assert abs(lon - YIYANG[0]) < 1e-7
    assert abs(lat - YIYANG[1]) < 1e-7


def test_bd09_round_trips_are_precise():
    b_lon, b_lat = wgs84_to_bd09(GRID_LON, GRID_LAT)
    w_lon, w_lat = bd09_to_wgs84(b_lon, b_lat)
    assert np.max(np.abs(w_lon - GRID_LON)) < 1e-7
    assert np.max(np.abs(w_lat - GRID_LAT)) < 1e-7

    b_lon, b_lat = gcj02_to_bd09(GRID_LON, GRID_LAT)
    g_lon, g_lat = bd09_to_gcj02(b_lon, b_lat)
    assert np.max(np.abs(g_lon - GRID_LON)) < 1e-7
    assert np.max(np.abs(g_lat - GRID_LAT)) < 1e-7


def test_wgs84_to_bd09_equals_composition():
    lon, lat = wgs84_to_bd09(*YIYANG)
    c_lon, c_lat = gcj02_to_bd09(*wgs84_to_gcj02(*YIYANG))
    assert lon == pytest.approx(c_lon, abs=1e-12)
    assert lat == pytest.approx(c_lat, abs=1e-12)
    # and BD-09 really differs from GCJ-02 (by Baidu's extra ~1 km shift)
    g_lon, _ = wgs84_to_gcj02(*YIYANG)
    assert abs(lon - g_lon) > 1e-3


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_outside_china_unchanged(func):
    assert func(*PARIS) == PARIS
    # Mixed array: only the point in China moves.
    lon, lat = func([PARIS[0], YIYANG[0]], [PARIS[1], YIYANG[1]])
    assert (lon[0], lat[0]) == PARIS
    assert abs(lon[1] - YIYANG[0]) > 1e-3


def test_gcj_area_edge_is_the_published_rectangle():
    # Just inside / just outside the coarse rectangle at 72.004E.
    inside, _ = wgs84_to_gcj02(72.01, 40.0)
    outside, _ = wgs84_to_gcj02(72.0, 40.0)
    assert inside != 72.01
    assert outside == 72.0


@pytest.mark.parametrize(
    "func",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, bd09_to_wgs84, wgs84_to_bd09],
)
def test_scalar_in_float_out(func):
    lon, lat = func(*YIYANG)
    # np.float64 subclasses float, so check the exact type.
    assert type(lon) is float
    assert type(lat) is float


@pytest.mark.parametrize(
    "func",
    [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, bd09_to_wgs84, wgs84_to_bd09],
)
def test_arrays_in_arrays_out(func):
    lon, lat = func([112.35, 113.0, 114.0], [28.55, 28.6, 28.7])
    assert isinstance(lon, np.ndarray) and lon.dtype == np.float64 and lon.shape == (3,)
    assert isinstance(lat, np.ndarray) and lat.dtype == np.float64 and lat.shape == (3,)
    # Elementwise result equals the scalar result.
    s_lon, s_lat = func(113.0, 28.6)
    assert lon[1] == pytest.approx(s_lon, abs=1e-12)
    assert lat[1] == pytest.approx(s_lat, abs=1e-12)


def test_arrays_broadcast_and_keep_shape():
    lon, lat = wgs84_to_gcj02(np.full((2, 3), 112.35), 28.55)
    assert lon.shape == (2, 3) and lat.shape == (2, 3)
    assert np.all(lon == lon[0, 0])


def test_input_not_mutated_and_nan_passes_through():
    lon_in = np.array([112.35, np.nan])
    lat_in = np.array([28.55, 28.55])
    lon, lat = gcj02_to_wgs84(lon_in, lat_in)
    assert lon_in[0] == 112.35
    assert np.isnan(lon[1]) and np.isnan(lat[1])
    assert np.isfinite(lon[0]) and lon[0] != 112.35


def test_to_wgs84_utm_zone_49():
    fwd = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    x, y = fwd.transform(*YIYANG)
    assert 500_000.0 < x < 800_000.0  # sanity: really metres, not degrees
    lon, lat = to_wgs84(x, y, crs="EPSG:32649")
    assert type(lon) is float
    assert abs(lon - YIYANG[0]) < 1e-7
    assert abs(lat - YIYANG[1]) < 1e-7


def test_to_wgs84_utm_arrays():
    fwd = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    lons = np.array([111.0, 112.0, 113.0, 114.0, 112.35])
    lats = np.array([26.0, 27.5, 28.55, 29.0, 30.5])
    x, y = fwd.transform(lons, lats)
    lon, lat = to_wgs84(x, y, crs="epsg:32649")
    assert isinstance(lon, np.ndarray) and lon.shape == (5,)
    np.testing.assert_allclose(lon, lons, rtol=0, atol=1e-7)
    np.testing.assert_allclose(lat, lats, rtol=0, atol=1e-7)


@pytest.mark.parametrize("crs", ["wgs84", "WGS84", "cgcs2000", "EPSG:4326", "EPSG:4490"])
def test_to_wgs84_pass_through(crs):
    lon, lat = to_wgs84([112.35, 113.0], [28.55, 28.6], crs=crs)
    np.testing.assert_array_equal(lon, [112.35, 113.0])
    np.testing.assert_array_equal(lat, [28.55, 28.6])


def test_to_wgs84_dispatches_gcj_and_bd():
    assert to_wgs84(*YIYANG, crs="GCJ-02") == gcj02_to_wgs84(*YIYANG)
    assert to_wgs84(*YIYANG, crs="bd-09") == bd09_to_wgs84(*YIYANG)
    assert to_wgs84(*YIYANG, crs="gcj02") != YIYANG


@pytest.mark.parametrize("bad", ["mars84", "EPSG:99999999", "", "gcj03"])
def test_unknown_crs_raises_value_error_naming_it(bad):
    with pytest.raises(ValueError, match=f"'{bad}'") as info:
        to_wgs84(*YIYANG, crs=bad)
    assert "gcj02" in str(info.value)  # lists the accepted forms
    with pytest.raises(ValueError, match=f"'{bad}'"):
        normalise_crs_name(bad)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("WGS 84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("epsg:4326", "wgs84"),
        ("CGCS2000", "cgcs2000"),
        ("EPSG:4490", "cgcs2000"),
        ("gcj-02", "gcj02"),
        ("GCJ02", "gcj02"),
        ("bd-09", "bd09"),
        ("BD09", "bd09"),
        ("epsg:32649", "EPSG:32649"),
        ("EPSG:3857", "EPSG:3857"),
        ("+proj=utm +zone=49 +datum=WGS84 +units=m +no_defs", "EPSG:32649"),
    ],
)
def test_normalise_crs_name(alias, canonical):
    assert normalise_crs_name(alias) == canonical


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (112.3, 28.5, "EPSG:32649"),  # Yiyang, Hunan
        (116.4, 39.9, "EPSG:32650"),  # Beijing
        (87.6, 43.8, "EPSG:32645"),  # Urumqi
        (151.2, -33.9, "EPSG:32756"),  # Sydney, southern hemisphere
        (-3.0, 40.0, "EPSG:32630"),  # just west of Greenwich
        (180.0, 10.0, "EPSG:32660"),  # antimeridian belongs to zone 60
        (-180.0, 10.0, "EPSG:32601"),
    ],
)
def test_metric_crs(lon, lat, expected):
    assert metric_crs(lon, lat) == expected


@pytest.mark.parametrize(("lon", "lat"), [(200.0, 10.0), (10.0, 95.0), (float("nan"), 10.0)])
def test_metric_crs_rejects_bad_coordinates(lon, lat):
    with pytest.raises(ValueError):
        metric_crs(lon, lat)


def test_in_china():
    assert in_china(*YIYANG) is True
    assert in_china(*PARIS) is False
    # swapped lon/lat columns are the classic import mistake
    assert in_china(YIYANG[1], YIYANG[0]) is False
    mask = in_china(
        [112.35, 2.35, 73.4, 135.1, 73.3, 135.2, 100.0, 100.0, np.nan],
        [28.55, 48.85, 3.8, 53.6, 30.0, 30.0, 3.7, 53.7, 30.0],
    )
    np.testing.assert_array_equal(
        mask, [True, False, True, True, False, False, False, False, False]
    )
