"""Density surfaces as map images: resample to the web map's projection, colour, encode PNG.

A :class:`geo.hotspots.DensitySurface` lives on a regular grid in a metric CRS (a UTM
zone). Leaflet stretches an image overlay linearly between two lon/lat corners in Web
Mercator, so a UTM raster drawn as it is would be skewed and misplaced by up to a few
hundred metres across a city. :func:`resample_lonlat` therefore samples the surface at
the centre of every pixel of a Web Mercator image (bilinear, 0 outside the surface);
:func:`colour_ramp` turns values into RGBA (fully transparent where the density is about
0, so the grids show through); :func:`png_bytes` encodes the image with Pillow. The
browser receives one small PNG instead of thousands of points or cells (DESIGN §6).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image
from pyproj import Transformer
from scipy import ndimage

if TYPE_CHECKING:
    from geo.hotspots import DensitySurface

__all__ = [
    "DENSITY_COLOURS",
    "RasterImage",
    "colour_ramp",
    "png_bytes",
    "ramp_stops",
    "resample_lonlat",
    "surface_png",
]

#: Light to dark purple: reads over the red/blue hot-spot classes and over plain grids.
DENSITY_COLOURS: tuple[str, ...] = ("#edf8fb", "#b3cde3", "#8c96c6", "#8856a7", "#810f7c")
#: Web Mercator's sphere radius (EPSG:3857), metres.
_R = 6378137.0
#: Web Mercator stops here; anything beyond cannot be drawn.
_MAX_LAT = 85.05112878


@dataclass(frozen=True)
class RasterImage:
    """A PNG ready for :func:`geo.maps.image_layer`.

    Attributes
    ----------
    png : bytes
        The encoded RGBA image.
    bounds : tuple of float
        (min lon, min lat, max lon, max lat) of the image's outer edges, WGS84.
    vmax : float
        The value drawn in the ramp's last colour (larger values get it too).
    size : tuple of int
        (width, height) in pixels.

    """

    png: bytes
    bounds: tuple[float, float, float, float]
    vmax: float
    size: tuple[int, int]


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    if len(c) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def colour_ramp(values: npt.ArrayLike, *, vmax: float | None = None, floor: float = 0.03,
                colours: Sequence[str] = DENSITY_COLOURS, min_alpha: float = 0.35,
                max_alpha: float = 0.9) -> npt.NDArray[np.uint8]:
    """Colour a 2-D array of non-negative values as RGBA.

    Values are scaled by ``vmax`` (default the array's maximum) and clipped to 0 … 1. A
    value below ``floor`` of ``vmax`` (or NaN, or any value when ``vmax`` is 0) is fully
    transparent. Above it the colour is interpolated linearly between the evenly spaced
    ``colours`` and the opacity rises linearly from ``min_alpha`` to ``max_alpha``.

    Parameters
    ----------
    values : array_like
        Shape (rows, columns); row 0 is the top of the image.
    vmax : float, optional
        The value that gets the last colour.
    floor : float
        Share of ``vmax`` below which a pixel is transparent.
    colours : sequence of str
        At least two ``#rrggbb`` colours, low to high.
    min_alpha, max_alpha : float
        Opacity (0 … 1) at ``floor`` and at ``vmax``.

    Returns
    -------
    numpy.ndarray
        uint8, shape (rows, columns, 4).

    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError("values must be a 2-D array")
    if len(colours) < 2:
        raise ValueError("a ramp needs at least two colours")
    if not 0.0 <= floor < 1.0:
        raise ValueError("floor must be in [0, 1)")
    finite = np.isfinite(v)
    top = float(np.max(v[finite])) if vmax is None and finite.any() else float(vmax or 0.0)
    out = np.zeros((*v.shape, 4), dtype=np.uint8)
    if top <= 0:
        return out
    s = np.clip(np.where(finite, v, 0.0) / top, 0.0, 1.0)
    shown = finite & (s >= floor) & (v > 0)
    rgb = np.array([_hex_rgb(c) for c in colours], dtype=np.float64)
    stops = np.linspace(0.0, 1.0, len(colours))
    sv = s[shown]
    for band in range(3):
        out[..., band][shown] = np.round(np.interp(sv, stops, rgb[:, band])).astype(np.uint8)
    span = max(1.0 - floor, 1e-12)
    alpha = min_alpha + (max_alpha - min_alpha) * (sv - floor) / span
    out[..., 3][shown] = np.round(np.clip(alpha, 0.0, 1.0) * 255).astype(np.uint8)
    return out


def ramp_stops(vmax: float, *, colours: Sequence[str] = DENSITY_COLOURS,
               floor: float = 0.03) -> list[tuple[str, float]]:
    """Return ``(colour, value)`` for each ramp colour, for a legend.

    The first colour is labelled with the smallest value drawn (``floor`` × ``vmax``), the
    others with the value at which the ramp reaches them.
    """
    stops = np.linspace(0.0, 1.0, len(colours))
    return [(c, float(max(s, floor) * vmax)) for c, s in zip(colours, stops, strict=True)]


def png_bytes(rgba: npt.NDArray[np.uint8]) -> bytes:
    """Encode an RGBA array (rows, columns, 4) as PNG."""
    arr = np.ascontiguousarray(rgba, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError("rgba must have shape (rows, columns, 4)")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _merc_y(lat: npt.ArrayLike) -> npt.NDArray[np.float64]:
    phi = np.radians(np.clip(np.asarray(lat, dtype=np.float64), -_MAX_LAT, _MAX_LAT))
    return _R * np.log(np.tan(np.pi / 4 + phi / 2))


def _merc_lat(y: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.degrees(2 * np.arctan(np.exp(np.asarray(y, dtype=np.float64) / _R)) - np.pi / 2)


def resample_lonlat(values: npt.ArrayLike, *, bounds: tuple[float, float, float, float],
                    crs: str, extent: tuple[float, float, float, float],
                    cell_m: float | None = None, max_px: int = 1200
                    ) -> npt.NDArray[np.float64]:
    """Sample a metric raster at the pixel centres of a Web Mercator image of ``extent``.

    Parameters
    ----------
    values : array_like
        The raster, shape (rows, columns), row 0 at the north edge.
    bounds : tuple of float
        (minx, miny, maxx, maxy) of the raster's outer edges, in metres in ``crs``.
    crs : str
        The raster's metric CRS.
    extent : tuple of float
        (min lon, min lat, max lon, max lat) of the image to make.
    cell_m : float, optional
        The raster's cell size; default from ``bounds`` and the shape. The image gets about
        one pixel per cell, at most ``max_px`` on its longer side.
    max_px : int
        Largest width or height in pixels.

    Returns
    -------
    numpy.ndarray
        float64, shape (height, width): bilinear samples, 0 outside the raster.

    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.size == 0:
        raise ValueError("values must be a non-empty 2-D array")
    minx, miny, maxx, maxy = bounds
    rows, cols = v.shape
    cell = cell_m if cell_m is not None else (maxx - minx) / cols
    lon0, lat0, lon1, lat1 = extent
    if not (lon1 > lon0 and lat1 > lat0):
        raise ValueError("extent must have a positive width and height")
    # Size in metres on the ground at the extent's mid-latitude, for the pixel count.
    mid = np.radians((lat0 + lat1) / 2)
    width_m = np.radians(lon1 - lon0) * _R * np.cos(mid)
    height_m = np.radians(lat1 - lat0) * _R
    scale = max(width_m, height_m) / max(cell, 1e-9)
    longest = int(np.clip(np.ceil(scale), 2, max_px))
    if width_m >= height_m:
        width = longest
        height = max(2, int(round(longest * height_m / width_m)))
    else:
        height = longest
        width = max(2, int(round(longest * width_m / height_m)))
    # Pixel centres: equal steps in lon and in Mercator y, top row first.
    lon = lon0 + (np.arange(width) + 0.5) * (lon1 - lon0) / width
    y0, y1 = _merc_y(lat0), _merc_y(lat1)
    lat = _merc_lat(y1 - (np.arange(height) + 0.5) * (y1 - y0) / height)
    glon, glat = np.meshgrid(lon, lat)
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(glon.ravel(),
                                                                     glat.ravel())
    col = (np.asarray(x) - minx) / cell - 0.5
    row = (maxy - np.asarray(y)) / cell - 0.5
    sampled = ndimage.map_coordinates(v, [row, col], order=1, mode="constant", cval=0.0)
    return sampled.reshape(height, width)


def surface_png(surface: DensitySurface, *,
                extent: tuple[float, float, float, float] | None = None,
                max_px: int = 1200, vmax: float | None = None, floor: float = 0.03,
                colours: Sequence[str] = DENSITY_COLOURS) -> RasterImage:
    """Render a density surface as a PNG over ``extent`` for a web map.

    Parameters
    ----------
    surface : geo.hotspots.DensitySurface
        The surface (its ``values``, ``bounds``, ``crs`` and ``cell_m`` are used).
    extent : tuple of float, optional
        (min lon, min lat, max lon, max lat) to draw; default the surface's own extent.
    max_px : int
        Largest width or height of the image.
    vmax : float, optional
        The density drawn in the last colour; default the surface's peak (over the whole
        surface, not only ``extent``, so an area's image keeps the city's scale).
    floor : float
        Share of ``vmax`` below which the image is transparent.
    colours : sequence of str
        The ramp, low to high.

    Returns
    -------
    RasterImage

    """
    if extent is None:
        minx, miny, maxx, maxy = surface.bounds
        xs = np.array([minx, maxx, minx, maxx])
        ys = np.array([miny, miny, maxy, maxy])
        lon, lat = Transformer.from_crs(surface.crs, 4326, always_xy=True).transform(xs, ys)
        extent = (float(np.min(lon)), float(np.min(lat)), float(np.max(lon)),
                  float(np.max(lat)))
    top = float(vmax) if vmax is not None else float(np.max(surface.values, initial=0.0))
    sampled = resample_lonlat(surface.values, bounds=surface.bounds, crs=surface.crs,
                              extent=extent, cell_m=surface.cell_m, max_px=max_px)
    rgba = colour_ramp(sampled, vmax=top, floor=floor, colours=colours)
    height, width = sampled.shape
    west, south, east, north = (float(b) for b in extent)
    return RasterImage(png=png_bytes(rgba), bounds=(west, south, east, north),
                       vmax=top, size=(width, height))
