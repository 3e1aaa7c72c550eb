"""Tests for geo/raster.py: colour ramp, PNG encoding, resampling to Web Mercator."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image
from pyproj import Transformer

from geo import raster
from geo.hotspots import DensitySurface

UTM = "EPSG:32649"


def test_ramp_is_transparent_at_zero_and_below_the_floor():
    rgba = raster.colour_ramp(np.array([[0.0, 0.02, 0.5, 1.0, np.nan]]), floor=0.03,
                              colours=("#000000", "#ffffff"), min_alpha=0.5, max_alpha=1.0)
    assert_array_equal(rgba[0, 0], [0, 0, 0, 0])
    assert_array_equal(rgba[0, 1], [0, 0, 0, 0])
    assert_array_equal(rgba[0, 4], [0, 0, 0, 0])
    assert_array_equal(rgba[0, 3], [255, 255, 255, 255])
    # Half way: grey 128, alpha 0.5 + 0.5 × (0.5 - 0.03) / 0.97.
    assert_array_equal(rgba[0, 2, :3], [128, 128, 128])
    assert rgba[0, 2, 3] == round((0.5 + 0.5 * 0.47 / 0.97) * 255)


def test_ramp_clips_above_vmax_and_an_all_zero_array_is_invisible():
    rgba = raster.colour_ramp(np.array([[5.0, 10.0]]), vmax=5.0, colours=("#00ff00", "#ff0000"))
    assert_array_equal(rgba[0, 0], rgba[0, 1])
    assert_array_equal(rgba[0, 0, :3], [255, 0, 0])
    assert not raster.colour_ramp(np.zeros((3, 3))).any()


def test_ramp_rejects_bad_input():
    with pytest.raises(ValueError):
        raster.colour_ramp(np.zeros(3))
    with pytest.raises(ValueError):
        raster.colour_ramp(np.zeros((2, 2)), colours=("#fff",))


def test_png_round_trip():
    rgba = raster.colour_ramp(np.array([[0.0, 1.0], [2.0, 4.0]]))
    png = raster.png_bytes(rgba)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    back = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert_array_equal(back, rgba)


def test_ramp_stops_label_the_floor_then_the_ramp():
    stops = raster.ramp_stops(10.0, colours=("#000000", "#888888", "#ffffff"), floor=0.1)
    assert stops == [("#000000", 1.0), ("#888888", 5.0), ("#ffffff", 10.0)]


def _one_hot_cell():
    """A 10 × 10 raster of 100 m cells in UTM 49N with one non-zero cell (row 2, col 7)."""
    values = np.zeros((10, 10))
    values[2, 7] = 1.0
    minx, miny = 630_000.0, 3_150_000.0
    bounds = (minx, miny, minx + 1000.0, miny + 1000.0)
    centre_x, centre_y = minx + 750.0, miny + 1000.0 - 250.0
    lon, lat = Transformer.from_crs(UTM, 4326, always_xy=True).transform(centre_x, centre_y)
    return values, bounds, lon, lat


def test_resample_puts_a_cell_where_it_is_on_the_ground():
    values, bounds, lon, lat = _one_hot_cell()
    extent = (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    img = raster.resample_lonlat(values, bounds=bounds, crs=UTM, extent=extent, max_px=200)
    h, w = img.shape
    r, c = np.unravel_index(np.argmax(img), img.shape)
    # The extent is centred on the hot cell's centre, so its peak is the middle pixel.
    assert abs(r - (h - 1) / 2) <= 1 and abs(c - (w - 1) / 2) <= 1
    # Bilinear: the pixels nearest the cell centre take most of its value.
    assert 0.25 < img.max() <= 1.0
    assert img[0, 0] == 0.0  # outside the raster: 0


def test_resample_sizes_the_image_by_the_cell_size():
    values, bounds, lon, lat = _one_hot_cell()
    extent = (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)  # about 2 km × 2.2 km
    img = raster.resample_lonlat(values, bounds=bounds, crs=UTM, extent=extent, max_px=5000)
    assert 20 <= max(img.shape) <= 25  # one pixel per 100 m cell
    small = raster.resample_lonlat(values, bounds=bounds, crs=UTM, extent=extent, max_px=8)
    assert max(small.shape) == 8


def test_surface_png_covers_the_extent_asked_for():
    values, bounds, lon, lat = _one_hot_cell()
    surface = DensitySurface(values=values, bounds=bounds, crs=UTM, cell_m=100.0,
                             bandwidth_m=400.0, points=1)
    extent = (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    image = raster.surface_png(surface, extent=extent)
    assert image.bounds == extent
    assert image.vmax == 1.0
    pixels = np.asarray(Image.open(io.BytesIO(image.png)).convert("RGBA"))
    assert pixels.shape[:2] == (image.size[1], image.size[0])
    assert pixels[..., 3].max() > 0 and pixels[0, 0, 3] == 0
    whole = raster.surface_png(surface)
    assert whole.bounds[0] < lon < whole.bounds[2] and whole.bounds[1] < lat < whole.bounds[3]
