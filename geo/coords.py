"""Coordinate-system conversion for data about China.

Chinese web maps and many government data sets do not publish WGS84
coordinates.  Three families are common:

* **WGS84 / CGCS2000** -- GPS and national surveying data.  CGCS2000
  (EPSG:4490) agrees with WGS84 to well under a metre, which is below the
  precision of anything this dashboard draws, so it is treated as WGS84.
* **GCJ-02** ("Mars coordinates") -- the legally mandated obfuscation used
  by AMap/Gaode, Tencent and Google Maps inside China; a non-linear offset of
  a few hundred metres.
* **BD-09** -- Baidu's additional offset applied on top of GCJ-02.

Projected data (for example UTM or Gauss-Kruger with an EPSG code) is
handled by :mod:`pyproj`.  All pairwise functions take and return
``(lon, lat)`` in that order, are vectorised with :mod:`numpy`, return
Python floats for scalar input and float arrays otherwise.

The GCJ-02 and BD-09 formulas are the widely published ones (as used by
"eviltransform", "gcoord" and others).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "metric_crs",
    "normalise_crs_name",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: A scalar or anything :func:`numpy.asarray` turns into a float array.
Coord: TypeAlias = float | npt.ArrayLike
#: A float for scalar input, otherwise a float64 array.
CoordOut: TypeAlias = float | npt.NDArray[np.float64]
_Pair: TypeAlias = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]

# Krasovsky 1940 ellipsoid parameters baked into the GCJ-02 formula.  They
# are part of the obfuscation algorithm, not a choice: do not "correct" them.
_A = 6378245.0
_EE = 0.00669342162296594323

# Baidu's constant for the BD-09 rotation/scale tweak.
_X_PI = math.pi * 3000.0 / 180.0

# The coarse rectangle in which the GCJ-02 offset is applied.  It is the one
# every public implementation uses, so matching it keeps us consistent with
# coordinates produced by those tools (it is deliberately not a real border).
_GCJ_LON_MIN, _GCJ_LON_MAX = 72.004, 137.8347
_GCJ_LAT_MIN, _GCJ_LAT_MAX = 0.8293, 55.8271

# Coarse bounding box of China's territory for import validation.
_CHINA_LON_MIN, _CHINA_LON_MAX = 73.4, 135.1
_CHINA_LAT_MIN, _CHINA_LAT_MAX = 3.8, 53.6

_CANONICAL = ("wgs84", "cgcs2000", "gcj02", "bd09")

# Keys are compared after lower-casing and dropping spaces, "-" and "_",
# so "WGS 84", "gcj-02" and "BD_09" all match.
_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs1984": "wgs84",
    "epsg:4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "cgcs": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",  # the name Baidu's own APIs use for BD-09 lon/lat
}

_EPSG_RE = re.compile(r"^epsg:(\d+)$")

_ACCEPTED = (
    "'wgs84', 'cgcs2000', 'gcj02', 'bd09' (or aliases such as 'gcj-02', "
    "'bd-09'), 'EPSG:<code>', or another CRS string understood by pyproj"
)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _as_arrays(
    lon: Coord, lat: Coord
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], bool]:
    """Broadcast inputs to float arrays and report whether both were scalar."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    scalar = lon_a.ndim == 0 and lat_a.ndim == 0
    lon_b, lat_b = np.broadcast_arrays(lon_a, lat_a)
    # broadcast_arrays returns read-only views; copy so callers never alias
    # (and cannot mutate) the caller's input.
    return np.array(lon_b), np.array(lat_b), scalar


def _pack(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], scalar: bool
) -> tuple[CoordOut, CoordOut]:
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def _outside_gcj_area(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    return (lon < _GCJ_LON_MIN) | (lon > _GCJ_LON_MAX) | (lat < _GCJ_LAT_MIN) | (lat > _GCJ_LAT_MAX)


def _transform_lat(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """GCJ-02 minus WGS84 at the WGS84 point; zero outside the GCJ area."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = _outside_gcj_area(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _gcj_to_bd(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _fixed_point_inverse(
    forward: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], _Pair],
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    start_lon: npt.NDArray[np.float64],
    start_lat: npt.NDArray[np.float64],
    *,
    tol: float,
    max_iter: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Solve ``forward(x) == target`` by ``x <- x - (forward(x) - target)``.

    This converges because both offsets are tiny, slowly varying
    perturbations of the identity (their Jacobian is within ~1e-3 of I).
    """
    x_lon, x_lat = start_lon.copy(), start_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = forward(x_lon, x_lat)
        d_lon, d_lat = f_lon - lon, f_lat - lat
        x_lon -= d_lon
        x_lat -= d_lat
        # NaN deltas compare False, so NaN inputs never hold up convergence.
        if not np.any((np.abs(d_lon) > tol) | (np.abs(d_lat) > tol)):
            break
    return x_lon, x_lat


# ---------------------------------------------------------------------------
# pairwise conversions
# ---------------------------------------------------------------------------


def wgs84_to_gcj02(lon: Coord, lat: Coord) -> tuple[CoordOut, CoordOut]:
    """Convert WGS84 coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude in degrees; broadcast against each other.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 coordinates.  Points outside the coarse China rectangle used
        by the published formula are returned unchanged.

    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    d_lon, d_lat = _gcj_offset(lon_a, lat_a)
    return _pack(lon_a + d_lon, lat_a + d_lat, scalar)


def gcj02_to_wgs84(
    lon: Coord, lat: Coord, *, tol: float = 1e-9, max_iter: int = 30
) -> tuple[CoordOut, CoordOut]:
    """Convert GCJ-02 coordinates to WGS84 (precise inverse).

    The common one-step inverse (subtract the offset evaluated at the GCJ
    point) is only good to a few metres; this refines it by fixed-point
    iteration until the forward transform reproduces the input.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees.
    tol : float, optional
        Stop once every point's correction is below this many degrees
        (1e-9 degree is about 0.1 mm).
    max_iter : int, optional
        Upper bound on iterations; in practice 3-6 are needed.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 coordinates.  Points outside the GCJ area are unchanged.

    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)

    def forward(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> _Pair:
        d_lon, d_lat = _gcj_offset(x, y)
        return x + d_lon, y + d_lat

    out_lon, out_lat = _fixed_point_inverse(
        forward, lon_a, lat_a, lon_a, lat_a, tol=tol, max_iter=max_iter
    )
    return _pack(out_lon, out_lat, scalar)


def gcj02_to_bd09(lon: Coord, lat: Coord) -> tuple[CoordOut, CoordOut]:
    """Convert GCJ-02 coordinates to Baidu BD-09.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 coordinates.  Baidu applies this shift everywhere, so unlike
        the GCJ-02 offset there is no outside-China exception.

    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _pack(*_gcj_to_bd(lon_a, lat_a), scalar)


def bd09_to_gcj02(
    lon: Coord, lat: Coord, *, tol: float = 1e-9, max_iter: int = 30
) -> tuple[CoordOut, CoordOut]:
    """Convert Baidu BD-09 coordinates to GCJ-02.

    Starts from the published closed-form inverse, which is only accurate to
    roughly 1e-6 degree, and polishes it by fixed-point iteration so that
    BD-09 round trips are exact to ``tol``.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees.
    tol : float, optional
        Convergence threshold in degrees.
    max_iter : int, optional
        Upper bound on refinement iterations.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 coordinates.

    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    x = lon_a - 0.0065
    y = lat_a - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    out_lon, out_lat = _fixed_point_inverse(
        _gcj_to_bd,
        lon_a,
        lat_a,
        z * np.cos(theta),
        z * np.sin(theta),
        tol=tol,
        max_iter=max_iter,
    )
    return _pack(out_lon, out_lat, scalar)


def bd09_to_wgs84(lon: Coord, lat: Coord) -> tuple[CoordOut, CoordOut]:
    """Convert Baidu BD-09 coordinates to WGS84 (via GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 coordinates.

    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    g_lon, g_lat = bd09_to_gcj02(lon_a, lat_a)
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    return _pack(np.asarray(w_lon), np.asarray(w_lat), scalar)


def wgs84_to_bd09(lon: Coord, lat: Coord) -> tuple[CoordOut, CoordOut]:
    """Convert WGS84 coordinates to Baidu BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 coordinates.

    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    d_lon, d_lat = _gcj_offset(lon_a, lat_a)
    return _pack(*_gcj_to_bd(lon_a + d_lon, lat_a + d_lat), scalar)


# ---------------------------------------------------------------------------
# CRS names and the single entry point
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _pyproj_crs_name(crs: str) -> str:
    """Canonical name for a CRS string pyproj must interpret.

    Cached because parsing a CRS hits the PROJ database.
    """
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as exc:
        raise ValueError(f"Unknown CRS {crs!r}; expected {_ACCEPTED}.") from exc
    code = parsed.to_epsg()
    if code is None:
        # A valid CRS without an EPSG code (e.g. a custom proj string):
        # keep the user's spelling so it can be recorded and re-used.
        return crs.strip()
    return _ALIASES.get(f"epsg:{code}", f"EPSG:{code}")


def normalise_crs_name(crs: str) -> str:
    """Return the canonical spelling of a coordinate reference system.

    Used to record the original CRS of imported data in one consistent form.

    Parameters
    ----------
    crs : str
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"`` in any case and
        with optional ``-``/``_``/space separators (``"GCJ-02"``,
        ``"bd-09"``, ``"WGS 84"``), ``"EPSG:<code>"``, or any other CRS
        string understood by pyproj.

    Returns
    -------
    str
        One of ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"``, or
        ``"EPSG:<code>"`` in upper case.  ``EPSG:4326`` maps to ``"wgs84"``
        and ``EPSG:4490`` to ``"cgcs2000"``.  A valid pyproj CRS without an
        EPSG code is returned stripped but otherwise unchanged.

    Raises
    ------
    ValueError
        If ``crs`` is not a string or is not a recognised CRS.

    """
    if not isinstance(crs, str) or not crs.strip():
        raise ValueError(f"Unknown CRS {crs!r}; expected {_ACCEPTED}.")
    key = re.sub(r"[\s_\-]", "", crs.lower())
    if key in _ALIASES:
        return _ALIASES[key]
    match = _EPSG_RE.match(key)
    # Even well-formed EPSG codes go through pyproj so that typos such as
    # "EPSG:3264" vs "EPSG:32649" that name no CRS are rejected at import.
    return _pyproj_crs_name(f"EPSG:{match.group(1)}" if match else crs)


@functools.lru_cache(maxsize=32)
def _transformer_to_wgs84(src: str) -> Transformer:
    # always_xy: accept and return (x/lon, y/lat) whatever the CRS axis order.
    return Transformer.from_crs(src, "EPSG:4326", always_xy=True)


def to_wgs84(lon: Coord, lat: Coord, *, crs: str) -> tuple[CoordOut, CoordOut]:
    """Convert coordinates in any supported CRS to WGS84 lon/lat.

    Parameters
    ----------
    lon, lat : float or array_like
        Coordinates in ``crs``.  For projected CRSs these are easting and
        northing (x, y) in that order, regardless of the CRS's axis order.
    crs : str
        Source CRS, in any form accepted by :func:`normalise_crs_name`.
        ``"wgs84"`` and ``"cgcs2000"`` pass through unchanged.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude in degrees.  Points pyproj cannot
        transform come back as ``inf``.

    Raises
    ------
    ValueError
        If ``crs`` is not recognised.

    """
    name = normalise_crs_name(crs)
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    if name in ("wgs84", "cgcs2000"):
        return _pack(lon_a, lat_a, scalar)
    if name == "gcj02":
        out = gcj02_to_wgs84(lon_a, lat_a)
    elif name == "bd09":
        out = bd09_to_wgs84(lon_a, lat_a)
    else:
        out = _transformer_to_wgs84(name).transform(lon_a, lat_a)
    return _pack(
        np.asarray(out[0], dtype=np.float64),
        np.asarray(out[1], dtype=np.float64),
        scalar,
    )


# ---------------------------------------------------------------------------
# geometry helpers
# ---------------------------------------------------------------------------


def metric_crs(lon: float, lat: float) -> str:
    """Return the UTM zone CRS suited to metric work around a point.

    Parameters
    ----------
    lon, lat : float
        WGS84 longitude and latitude of the area's centroid, in degrees.

    Returns
    -------
    str
        ``"EPSG:326zz"`` (northern hemisphere, including the equator) or
        ``"EPSG:327zz"`` (southern), where ``zz`` is the UTM zone.  The
        Norway/Svalbard zone exceptions are ignored; they do not touch China.

    Raises
    ------
    ValueError
        If the coordinate is not finite or out of range.

    Examples
    --------
    >>> metric_crs(112.3, 28.5)  # Yiyang, Hunan
    'EPSG:32649'

    """
    lon_f, lat_f = float(lon), float(lat)
    if not (-180.0 <= lon_f <= 180.0 and -90.0 <= lat_f <= 90.0):
        raise ValueError(f"Not a WGS84 lon/lat: ({lon!r}, {lat!r}).")
    # lon == 180 would give zone 61; it belongs to zone 60.
    zone = min(int((lon_f + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{(32600 if lat_f >= 0.0 else 32700) + zone}"


def in_china(lon: Coord, lat: Coord) -> bool | npt.NDArray[np.bool_]:
    """Test whether points fall in a coarse bounding box around China.

    Meant for import validation ("coordinate outside China"), e.g. to catch
    swapped lon/lat columns or projected values mislabelled as degrees.  It
    is a rectangle, so it also accepts parts of neighbouring countries.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 (or GCJ-02/BD-09; the offsets are irrelevant here) degrees.

    Returns
    -------
    bool or numpy.ndarray of bool
        True where ``73.4 <= lon <= 135.1`` and ``3.8 <= lat <= 53.6``.
        NaN coordinates are False.

    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    inside = (
        (lon_a >= _CHINA_LON_MIN)
        & (lon_a <= _CHINA_LON_MAX)
        & (lat_a >= _CHINA_LAT_MIN)
        & (lat_a <= _CHINA_LAT_MAX)
    )
    return bool(inside) if scalar else inside
