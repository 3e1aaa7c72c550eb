"""Police coverage: station coverage areas, covered share and population per grid, new sites.

Model
-----
Coverage area
    A station covers a disc around it. Its radius comes from the station's own ``radius_m``
    when that is not null, otherwise from its kind: by default :data:`DEFAULT_RADII`, taken
    from :data:`geo.vocab.STATION_KINDS` (派出所 3 km, 警务站 1 km, 警务室 500 m). A disc is a
    64-gon, whose area is 0.16 % short of πr².
Metric CRS
    Discs, areas and distances are computed in the UTM zone of the centre of the data's
    bounding box (:func:`geo.coords.metric_crs`; EPSG:32649 for Yiyang) unless ``crs`` is
    given. Geometry is taken and returned in EPSG:4326.
Covered share and population
    A grid's covered share is the area of its intersection with the union of all discs over
    its own area. Residents are assumed spread evenly over their grid, so its covered
    population is population × covered share. A grid counts as *uncovered* when its covered
    share is below ``threshold`` (default :data:`UNCOVERED_BELOW`, one half).
Requests
    A request with coordinates is covered when its point lies in the union of discs. A request
    known only by its grid code counts as covered by its grid's covered share (the same
    even-spread assumption as for residents), so per-grid covered requests can be fractional.
Nearest station
    The straight-line distance from the grid's representative point (shapely's
    ``point_on_surface``: always inside the grid, the centre of a rectangle) to the nearest
    station.

Everything is vectorised: grids are matched to the union's parts with an STRtree and only
grids cut by a part's edge are overlaid; request points are tested against the prepared union
with ``contains_xy``; nearest stations and new-site reach come from k-d trees (scipy); the
site search runs on a sparse candidate × demand matrix. Travel distance over a road graph is
not implemented yet: coverage is by straight-line radius only.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Literal, TypeAlias, cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import sparse
from scipy.spatial import cKDTree

from geo import coords, vocab
from geo.grids import GridIndex

__all__ = [
    "DEFAULT_RADII",
    "UNCOVERED_BELOW",
    "coverage_areas",
    "coverage_totals",
    "coverage_union",
    "requests_covered",
    "station_coverage",
    "suggest_sites",
    "uncovered_grids",
]

#: Default coverage radius in metres per station kind.
DEFAULT_RADII: dict[str, float] = {kind: r for kind, (_, r) in vocab.STATION_KINDS.items()}
#: A grid whose covered share of area is below this counts as uncovered.
UNCOVERED_BELOW = 0.5
#: Segments per quarter circle: discs are 64-gons (area within 0.16 % of πr²; 32-gons are
#: 0.64 % short, which would show on a literal half-covered square).
QUAD_SEGS = 16
#: Where to centre the metric CRS when there is no data at all (Yiyang).
_FALLBACK_CENTRE = (112.3, 28.5)
#: Prefix length of a grid code that gives the area code at each admin level.
_LEVEL_PREFIX = {"county": 6, "township": 9, "community": 12}

Radius: TypeAlias = float | Mapping[str, float] | None
FloatArray: TypeAlias = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- helpers


@functools.lru_cache(maxsize=16)
def _to_metric(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def _wgs84(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    # The store always sets EPSG:4326; a frame without a CRS is taken to be in it.
    return geoms.set_crs(4326) if geoms.crs is None else geoms.to_crs(4326)


def _lonlat(points: pd.DataFrame | gpd.GeoSeries) -> tuple[FloatArray, FloatArray]:
    """WGS84 lon/lat of points given as a GeoDataFrame/GeoSeries or as lon/lat columns."""
    if isinstance(points, gpd.GeoSeries) or (
            isinstance(points, gpd.GeoDataFrame) and points.active_geometry_name is not None):
        geoms = _wgs84(points)
        array = np.asarray(geoms.array)
        return shapely.get_x(array).astype(float), shapely.get_y(array).astype(float)
    missing = {"lon", "lat"} - set(points.columns)
    if missing:
        raise ValueError(f"points need a geometry or lon/lat columns; missing {sorted(missing)}")
    return points["lon"].to_numpy(dtype=float), points["lat"].to_numpy(dtype=float)


def _choose_crs(crs: str | None, grids: gpd.GeoDataFrame | None,
                lon: FloatArray | None = None, lat: FloatArray | None = None) -> str:
    if crs is not None:
        return crs
    boxes = []
    if grids is not None and len(grids):
        boxes.append(_wgs84(grids).total_bounds)
    if lon is not None and lat is not None and np.isfinite(lon).any():
        boxes.append(np.array([np.nanmin(lon), np.nanmin(lat), np.nanmax(lon), np.nanmax(lat)]))
    if not boxes:
        return coords.metric_crs(*_FALLBACK_CENTRE)
    b = np.array(boxes, dtype=float)
    # The bounding-box centre picks the same UTM zone as the true centroid for any city and
    # costs nothing, where a union of 60,000 grids would cost seconds.
    return coords.metric_crs((b[:, 0].min() + b[:, 2].max()) / 2,
                             (b[:, 1].min() + b[:, 3].max()) / 2)


def _station_radii(stations: pd.DataFrame, radius_m: Radius) -> FloatArray:
    """Coverage radius of each station: its own ``radius_m``, else its kind's."""
    n = len(stations)
    own = (pd.to_numeric(stations["radius_m"], errors="coerce").to_numpy(dtype=float)
           if "radius_m" in stations else np.full(n, np.nan))
    if radius_m is not None and not isinstance(radius_m, Mapping):
        by_kind = np.full(n, float(radius_m))
    else:
        table = {**DEFAULT_RADII, **(radius_m or {})}
        need = np.isnan(own)
        if need.any() and "kind" not in stations:
            raise ValueError("stations need a 'kind' column (or a radius_m per station)")
        kinds = (stations["kind"] if "kind" in stations
                 else pd.Series(None, index=stations.index, dtype=object))
        by_kind = kinds.map(table).to_numpy(dtype=float)
        unknown = sorted(set(kinds[need & np.isnan(by_kind)].astype(str)))
        if unknown:
            raise ValueError(f"no coverage radius for station kind(s) {unknown}; "
                             f"give radius_m={{kind: metres}} or a radius_m per station")
    radii = np.where(np.isnan(own), by_kind, own)
    if (radii < 0).any():
        raise ValueError("coverage radii must be zero or positive")
    return radii


class _Coverage:
    """Station points, discs and their prepared union, all in one metric CRS."""

    def __init__(self, stations: pd.DataFrame, *, radius_m: Radius, crs: str) -> None:
        self.crs = crs
        lon, lat = _lonlat(stations) if len(stations) else (np.empty(0), np.empty(0))
        self.x, self.y = _to_metric(crs).transform(lon, lat)
        self.radii = _station_radii(stations, radius_m)
        self.discs = shapely.buffer(shapely.points(self.x, self.y), self.radii,
                                    quad_segs=QUAD_SEGS)
        self.union = shapely.union_all(self.discs)
        shapely.prepare(self.union)

    def contains_lonlat(self, lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
        x, y = _to_metric(self.crs).transform(lon, lat)
        return shapely.contains_xy(self.union, x, y)

    def covered_area(self, geoms: np.ndarray) -> FloatArray:
        """Area in m² of each metric geometry that lies in the union of discs."""
        # The union's separate parts are disjoint, so a grid's covered area is the sum over
        # the parts it meets. Overlaying a grid with only those parts, rather than the whole
        # union, is what keeps a province (400 posts, 25,000 vertices) fast. Grids wholly
        # inside a part (most covered ones) skip the overlay.
        parts = shapely.get_parts(self.union)
        shapely.prepare(parts)
        grid, part = shapely.STRtree(parts).query(geoms, predicate="intersects")
        inside = shapely.contains(parts[part], geoms[grid])
        full = np.zeros(len(geoms), dtype=bool)
        full[grid[inside]] = True
        cut = ~full[grid]
        pieces = shapely.area(shapely.intersection(geoms[grid[cut]], parts[part[cut]]))
        # astype: bincount of nothing returns integers, which would truncate the areas below.
        out = np.bincount(grid[cut], weights=pieces, minlength=len(geoms)).astype(float)
        out[full] = shapely.area(geoms[full])
        return out


def _to_gdf(frame: pd.DataFrame, geometry, crs) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index,
                                                          crs=crs))


def _representative_points(grids: gpd.GeoDataFrame, crs: str
                           ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Lon/lat and metric x/y of a point inside each grid."""
    p = shapely.point_on_surface(np.asarray(_wgs84(grids).array))
    lon, lat = shapely.get_x(p).astype(float), shapely.get_y(p).astype(float)
    x, y = _to_metric(crs).transform(lon, lat)
    return lon, lat, np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _column(frame: pd.DataFrame, name: str, default: object = None) -> np.ndarray:
    if name in frame:
        return frame[name].to_numpy()
    return np.full(len(frame), default, dtype=object)


# --------------------------------------------------------------------------- public API


def coverage_areas(stations: pd.DataFrame, *, radius_m: Radius = None,
                   crs: str | None = None) -> gpd.GeoDataFrame:
    """Return each station's coverage area as a disc in EPSG:4326.

    Parameters
    ----------
    stations : pandas.DataFrame or geopandas.GeoDataFrame
        Police stations: point geometry or ``lon``/``lat`` (WGS84), and ``kind`` (a key of
        :data:`geo.vocab.STATION_KINDS`). An optional ``radius_m`` column overrides the
        kind's radius where it is not null.
    radius_m : float or mapping of str to float, optional
        Radius in metres for every station, or per kind (kinds not named keep their
        :data:`DEFAULT_RADII` value).
    crs : str, optional
        Metric CRS to buffer in; default the UTM zone of the stations' centre.

    Returns
    -------
    geopandas.GeoDataFrame
        The station rows with ``radius_m`` set to the radius used and a disc geometry, in
        EPSG:4326, on the stations' index.

    Raises
    ------
    ValueError
        If a station has no radius of its own and its kind has none, or a radius is negative.

    """
    lon, lat = _lonlat(stations) if len(stations) else (None, None)
    cov = _Coverage(stations, radius_m=radius_m, crs=_choose_crs(crs, None, lon, lat))
    frame = pd.DataFrame(stations.drop(columns=stations.geometry.name)
                         if isinstance(stations, gpd.GeoDataFrame) else stations).copy()
    frame["radius_m"] = cov.radii
    return _to_gdf(frame, cov.discs, cov.crs).to_crs(4326)


def coverage_union(stations: pd.DataFrame, *, radius_m: Radius = None,
                   crs: str | None = None) -> shapely.Geometry:
    """Return the union of all stations' coverage areas in EPSG:4326.

    Parameters
    ----------
    stations : pandas.DataFrame or geopandas.GeoDataFrame
        As for :func:`coverage_areas`.
    radius_m : float or mapping of str to float, optional
        As for :func:`coverage_areas`.
    crs : str, optional
        Metric CRS to buffer and merge in; default the UTM zone of the stations' centre.

    Returns
    -------
    shapely.Geometry
        A (Multi)Polygon; an empty geometry when there are no stations.

    """
    lon, lat = _lonlat(stations) if len(stations) else (None, None)
    cov = _Coverage(stations, radius_m=radius_m, crs=_choose_crs(crs, None, lon, lat))
    return gpd.GeoSeries([cov.union], crs=cov.crs).to_crs(4326).iloc[0]


def requests_covered(requests: pd.DataFrame, stations: pd.DataFrame, *,
                     radius_m: Radius = None, crs: str | None = None
                     ) -> npt.NDArray[np.bool_]:
    """Say for each request whether its point lies in a station's coverage area.

    Parameters
    ----------
    requests : pandas.DataFrame or geopandas.GeoDataFrame
        Requests with point geometry or ``lon``/``lat`` (WGS84). Missing coordinates give False.
    stations : pandas.DataFrame or geopandas.GeoDataFrame
        As for :func:`coverage_areas`.
    radius_m : float or mapping of str to float, optional
        As for :func:`coverage_areas`.
    crs : str, optional
        Metric CRS; default the UTM zone of the data's centre.

    Returns
    -------
    numpy.ndarray of bool
        One value per request row, in row order.

    """
    lon, lat = _lonlat(requests) if len(requests) else (np.empty(0), np.empty(0))
    s_lon, s_lat = _lonlat(stations) if len(stations) else (np.empty(0), np.empty(0))
    crs = _choose_crs(crs, None, np.r_[lon, s_lon], np.r_[lat, s_lat])
    cov = _Coverage(stations, radius_m=radius_m, crs=crs)
    return cov.contains_lonlat(lon, lat)


def station_coverage(stations: pd.DataFrame, grids: gpd.GeoDataFrame, *,
                     radius_m: Radius = None, threshold: float = UNCOVERED_BELOW,
                     requests: pd.DataFrame | None = None,
                     crs: str | None = None) -> gpd.GeoDataFrame:
    """Return police coverage per grid: covered share, covered population, nearest station.

    Parameters
    ----------
    stations : pandas.DataFrame or geopandas.GeoDataFrame
        As for :func:`coverage_areas` (plus optional ``code`` and ``name`` for the nearest
        station columns). Stations outside every grid count wherever their disc reaches.
    grids : geopandas.GeoDataFrame
        Grid polygons with ``code`` and ``population`` (a missing column or null value is
        unknown and gives NaN covered population; 0 gives 0).
    radius_m : float or mapping of str to float, optional
        As for :func:`coverage_areas`.
    threshold : float, optional
        A grid whose covered share is below this is uncovered; default 0.5.
    requests : pandas.DataFrame, optional
        Requests with ``lon``/``lat`` and/or ``grid_code``; adds ``requests``,
        ``covered_requests`` and ``uncovered_requests`` per grid. A request with coordinates
        is covered if its point is; one with only a grid code counts as its grid's covered
        share. Rows without ``grid_code`` are assigned to grids by point; requests in no grid
        are left out.
    crs : str, optional
        Metric CRS; default the UTM zone of the data's centre.

    Returns
    -------
    geopandas.GeoDataFrame
        The grids (same index, columns and geometry) with added columns:

        ``covered_km2``, ``covered_share``
            covered area and its share of the grid's area (0 … 1);
        ``population``, ``covered_population``, ``uncovered_population``
            population as float, and population × share and its complement;
        ``uncovered``
            covered share < ``threshold``;
        ``nearest_station_code``, ``nearest_station_name``, ``nearest_station_kind``,
        ``nearest_station_m``
            the nearest station to the grid's representative point and the straight-line
            distance in metres (None and NaN when there are no stations);
        ``requests``, ``covered_requests``, ``uncovered_requests``
            only when ``requests`` is given.

    """
    s_lon, s_lat = _lonlat(stations) if len(stations) else (None, None)
    crs = _choose_crs(crs, grids, s_lon, s_lat)
    cov = _Coverage(stations, radius_m=radius_m, crs=crs)
    out = grids.copy()

    geoms = np.asarray(_wgs84(grids).to_crs(crs).array, dtype=object)
    area = shapely.area(geoms)
    covered = cov.covered_area(geoms) if len(geoms) else np.empty(0)
    # Grids are never empty polygons after import, but a zero area must not divide.
    share = np.divide(covered, area, out=np.zeros(len(area)), where=area > 0)
    # A disc's 64-gon edge can put a vertex a hair outside the true intersection.
    share = np.clip(share, 0.0, 1.0)
    population = (pd.to_numeric(grids["population"], errors="coerce").to_numpy(dtype=float)
                  if "population" in grids else np.full(len(grids), np.nan))
    out["covered_km2"] = covered / 1e6
    out["covered_share"] = share
    out["population"] = population
    out["covered_population"] = population * share
    out["uncovered_population"] = population - out["covered_population"]
    out["uncovered"] = share < threshold

    _, _, gx, gy = _representative_points(grids, crs)
    if len(cov.x) and len(grids):
        tree = cKDTree(np.column_stack([cov.x, cov.y]))
        dist, nearest = tree.query(np.column_stack([gx, gy]))
        codes = stations.get("code", stations.index)
        out["nearest_station_code"] = codes.to_numpy()[nearest]
        out["nearest_station_name"] = _column(stations, "name")[nearest]
        out["nearest_station_kind"] = _column(stations, "kind")[nearest]
        out["nearest_station_m"] = dist
    else:
        for col in ("code", "name", "kind"):
            out[f"nearest_station_{col}"] = pd.Series(None, index=out.index, dtype=object)
        out["nearest_station_m"] = np.nan

    if requests is not None:
        counted = _requests_per_grid(requests, grids, share, cov)
        out["requests"] = counted["requests"].to_numpy()
        out["covered_requests"] = counted["covered"].to_numpy()
        out["uncovered_requests"] = out["requests"] - out["covered_requests"]
    return out


def _requests_per_grid(requests: pd.DataFrame, grids: gpd.GeoDataFrame, share: FloatArray,
                       cov: _Coverage) -> pd.DataFrame:
    """Count requests and covered requests per grid, in the grids' row order."""
    if "code" not in grids:
        raise ValueError("grids need a 'code' column to count requests per grid")
    codes = grids["code"].to_numpy()
    n = len(requests)
    has_xy = {"lon", "lat"} <= set(requests.columns)
    lon = requests["lon"].to_numpy(dtype=float) if has_xy else np.full(n, np.nan)
    lat = requests["lat"].to_numpy(dtype=float) if has_xy else np.full(n, np.nan)
    grid_code = (requests["grid_code"].to_numpy(dtype=object) if "grid_code" in requests
                 else np.full(n, None, dtype=object))
    unassigned = pd.isna(grid_code)
    if unassigned.any() and len(grids):
        grid_code = grid_code.copy()
        grid_code[unassigned] = GridIndex(grids).assign(lon[unassigned], lat[unassigned])
    row = pd.Index(codes).get_indexer(grid_code)
    keep = row >= 0  # requests in no grid (or a grid not given) are not counted per grid
    row, lon, lat = row[keep], lon[keep], lat[keep]
    point = np.isfinite(lon) & np.isfinite(lat)
    weight = share[row].copy()
    weight[point] = cov.contains_lonlat(lon[point], lat[point])
    return pd.DataFrame({
        "requests": np.bincount(row, minlength=len(codes)).astype(int),
        "covered": np.bincount(row, weights=weight, minlength=len(codes)).astype(float),
    })


def coverage_totals(per_grid: pd.DataFrame, *,
                    level: Literal["city", "county", "township", "community"] = "city"
                    ) -> pd.DataFrame:
    """Return coverage totals for the city or per admin unit.

    Parameters
    ----------
    per_grid : pandas.DataFrame
        The output of :func:`station_coverage`.
    level : {"city", "county", "township", "community"}, optional
        Group grids by the admin unit at this level, read from the grid code: county = first
        6 digits, township = 9, community = 12, city = first 4 digits + ``"00"``.

    Returns
    -------
    pandas.DataFrame
        One row per area, ordered by ``area_code``: ``area_code``, ``grids``,
        ``uncovered_grids``, ``population``, ``covered_population``,
        ``population_covered_share``, and when requests were counted ``requests``,
        ``covered_requests``, ``requests_covered_share``. A share over nothing (no known
        population, no requests) is NaN, not 100 %.

    """
    if level not in vocab.ADMIN_LEVELS:
        raise ValueError(f"level must be one of {vocab.ADMIN_LEVELS}, not {level!r}")
    code = per_grid["code"].astype(str)
    area = code.str[:4] + "00" if level == "city" else code.str[:_LEVEL_PREFIX[level]]
    sums = {"grids": ("uncovered", "size"), "uncovered_grids": ("uncovered", "sum"),
            "population": ("population", "sum"),
            "covered_population": ("covered_population", "sum")}
    with_requests = "requests" in per_grid
    if with_requests:
        sums |= {"requests": ("requests", "sum"), "covered_requests": ("covered_requests", "sum")}
    # Unknown populations are NaN in both columns, so the sums skip the same grids.
    out = (pd.DataFrame(per_grid).assign(area_code=area.to_numpy())
           .groupby("area_code", sort=True).agg(**sums).reset_index())
    out["uncovered_grids"] = out["uncovered_grids"].astype(int)
    out.insert(list(out.columns).index("covered_population") + 1, "population_covered_share",
               _share(out["covered_population"], out["population"]))
    if with_requests:
        out["requests_covered_share"] = _share(out["covered_requests"], out["requests"])
    return out


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    whole = whole.astype(float)
    return part.astype(float) / whole.where(whole > 0)


def uncovered_grids(per_grid: gpd.GeoDataFrame, *,
                    by: Literal["population", "requests"] = "population") -> gpd.GeoDataFrame:
    """Return the uncovered grids, the most uncovered residents or requests first.

    Parameters
    ----------
    per_grid : geopandas.GeoDataFrame
        The output of :func:`station_coverage` (with ``requests`` for ``by="requests"``).
    by : {"population", "requests"}, optional
        Rank by ``uncovered_population`` or ``uncovered_requests`` (what a new station there
        would reach), largest first; ties by grid code.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of ``per_grid`` whose ``uncovered`` is true, ranked.

    """
    if by not in ("population", "requests"):
        raise ValueError(f"by must be 'population' or 'requests', not {by!r}")
    key = f"uncovered_{by}"
    if key not in per_grid:
        raise ValueError(f"per_grid has no {key!r}; pass requests= to station_coverage")
    rows = per_grid[per_grid["uncovered"].astype(bool)]
    order = ["code"] if "code" in rows else []
    return rows.sort_values([key, *order], ascending=[False] + [True] * len(order),
                            kind="stable", na_position="last")


def suggest_sites(grids: gpd.GeoDataFrame, stations: pd.DataFrame, n: int, *,
                  weight: Literal["population", "requests"] = "population",
                  candidates: pd.DataFrame | gpd.GeoSeries | None = None,
                  radius_m: float = 1000.0, requests: pd.DataFrame | None = None,
                  station_radius_m: Radius = None, crs: str | None = None
                  ) -> gpd.GeoDataFrame:
    """Suggest up to ``n`` new station sites that most increase covered demand (greedy MCLP).

    Demand sits at each grid's representative point, weighted by its residents or its
    requests still uncovered by the existing stations (see :func:`station_coverage`). A site
    covers the demand points within ``radius_m`` of it. Sites are added one at a time, each
    the candidate covering the most still-uncovered weight (ties: the first candidate). This
    greedy solution of the maximal covering location problem is within 1 − 1/e (63 %) of the
    optimum. It stops early when no candidate adds anything.

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        Grid polygons with ``code`` and ``population``.
    stations : pandas.DataFrame or geopandas.GeoDataFrame
        Existing stations, as for :func:`coverage_areas`; may be empty.
    n : int
        Number of sites wanted.
    weight : {"population", "requests"}, optional
        What a site should reach: residents (population × uncovered share) or requests
        (those outside existing coverage; needs ``requests``).
    candidates : pandas.DataFrame or geopandas.GeoSeries, optional
        Possible sites as points or ``lon``/``lat``; default each grid's representative point.
    radius_m : float, optional
        Coverage radius of a new site in metres; default 1,000 (a 警务站).
    requests : pandas.DataFrame, optional
        Requests, as for :func:`station_coverage`; required for ``weight="requests"``.
    station_radius_m : float or mapping of str to float, optional
        Radii of the existing stations, as ``radius_m`` of :func:`coverage_areas`.
    crs : str, optional
        Metric CRS; default the UTM zone of the data's centre.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per site in the order chosen, on a 1-based ``rank`` index: ``candidate`` (the
        candidate's index label, or the grid code for default candidates), ``lon``, ``lat``,
        ``gain`` (the uncovered weight it reaches that earlier sites did not), ``cumulative``,
        ``remaining`` (uncovered weight left after it), ``grids_reached`` (demand points
        newly covered), and point geometry in EPSG:4326.

    """
    if weight not in ("population", "requests"):
        raise ValueError(f"weight must be 'population' or 'requests', not {weight!r}")
    if weight == "requests" and requests is None:
        raise ValueError("weight='requests' needs requests=")
    if n < 0 or radius_m < 0:
        raise ValueError("n and radius_m must not be negative")
    s_lon, s_lat = _lonlat(stations) if len(stations) else (None, None)
    crs = _choose_crs(crs, grids, s_lon, s_lat)
    per_grid = station_coverage(stations, grids, radius_m=station_radius_m, crs=crs,
                                requests=requests if weight == "requests" else None)
    demand = np.nan_to_num(per_grid[f"uncovered_{weight}"].to_numpy(dtype=float), nan=0.0)
    demand = np.clip(demand, 0.0, None)
    d_lon, d_lat, dx, dy = _representative_points(grids, crs)

    if candidates is None:
        c_lon, c_lat, cx, cy = d_lon, d_lat, dx, dy
        labels = grids.get("code", grids.index).to_numpy()
    else:
        c_lon, c_lat = _lonlat(candidates) if len(candidates) else (np.empty(0), np.empty(0))
        cx, cy = _to_metric(crs).transform(c_lon, c_lat)
        labels = candidates.index.to_numpy()

    reach = _reach_matrix(np.column_stack([cx, cy]), np.column_stack([dx, dy]), radius_m)
    chosen = _greedy_max_cover(reach, demand, n)
    rows = pd.DataFrame({
        "candidate": [labels[j] for j, _, _ in chosen],
        "lon": [float(c_lon[j]) for j, _, _ in chosen],
        "lat": [float(c_lat[j]) for j, _, _ in chosen],
        "gain": [g for _, g, _ in chosen],
        "grids_reached": [k for _, _, k in chosen],
    }, index=pd.RangeIndex(1, len(chosen) + 1, name="rank"))
    rows["cumulative"] = rows["gain"].cumsum()
    rows["remaining"] = demand.sum() - rows["cumulative"]
    rows = rows[["candidate", "lon", "lat", "gain", "cumulative", "remaining", "grids_reached"]]
    return _to_gdf(rows, shapely.points(rows["lon"], rows["lat"]), 4326)


def _reach_matrix(sites: FloatArray, demand: FloatArray, radius_m: float) -> sparse.csr_matrix:
    """Sparse candidate × demand matrix: 1 where the demand point is within ``radius_m``."""
    if len(sites) == 0 or len(demand) == 0:
        return sparse.csr_matrix((len(sites), len(demand)), dtype=np.float64)
    # One list of demand indices per site (the stubs do not tell 2-D input from one point).
    near = cast(np.ndarray, cKDTree(demand).query_ball_point(sites, r=radius_m))
    lengths = np.fromiter((len(a) for a in near), dtype=np.int64, count=len(near))
    indptr = np.r_[0, np.cumsum(lengths)]
    indices = (np.concatenate([np.asarray(a, dtype=np.int64) for a in near]) if indptr[-1]
               else np.empty(0, dtype=np.int64))
    data = np.ones(len(indices))
    return sparse.csr_matrix((data, indices, indptr), shape=(len(sites), len(demand)))


def _greedy_max_cover(reach: sparse.csr_matrix, demand: FloatArray, n: int
                      ) -> list[tuple[int, float, int]]:
    """Greedy maximal covering: ``(candidate row, gain, demand points newly covered)``."""
    left = demand.astype(float).copy()
    gains = reach @ left
    by_demand = reach.T.tocsr()  # which candidates reach each demand point
    chosen: list[tuple[int, float, int]] = []
    for _ in range(min(n, reach.shape[0])):
        j = int(np.argmax(gains))  # the first of equal gains, so results are reproducible
        hit = reach.indices[reach.indptr[j]:reach.indptr[j + 1]]
        hit = hit[left[hit] > 0]
        gain = float(left[hit].sum())
        if gain <= 0:
            break
        chosen.append((j, gain, len(hit)))
        left[hit] = 0.0
        # Recompute, rather than decrement, the gains the newly covered points fed, so no
        # rounding error can accumulate over many steps.
        touched = np.unique(by_demand[hit].indices)
        gains[touched] = reach[touched] @ left
    return chosen
