"""The demo city's geography: real Yiyang outlines and names, synthetic polygons and people.

Each county-level unit is tiled by its townships, each township by its communities and each
community by its grids, as Voronoi cells of density-weighted seeds clipped to the parent (see
:mod:`geo.demo`). Geometry is built in the metric CRS EPSG:32649 and returned in WGS84.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPolygon, Point
from shapely.geometry.base import BaseGeometry

from geo.demo_calibration import (
    CITY_CODE,
    COUNTY_POPULATION,
    DATA_DIR,
    GUEST_DISTRICTS,
    METRIC,
    TARGETS,
    URBAN_CENTRES,
    ProgressFn,
    largest_remainder,
    people_names,
)
from geo.demo_calibration import quiet as _quiet
from geo.grids import as_multipolygon, reading_order


class _Density:
    """Population density surface in metric coordinates (relative units)."""

    def __init__(self) -> None:
        lon = np.array([c[0] for c in URBAN_CENTRES])
        lat = np.array([c[1] for c in URBAN_CENTRES])
        pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(METRIC)
        self.x = pts.x.to_numpy()
        self.y = pts.y.to_numpy()
        self.w = np.array([c[2] for c in URBAN_CENTRES])
        self.s = np.array([c[3] for c in URBAN_CENTRES]) * 1000.0

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d2 = (x[:, None] - self.x[None, :]) ** 2 + (y[:, None] - self.y[None, :]) ** 2
        return 1.0 + (self.w[None, :] * np.exp(-d2 / (2 * self.s[None, :] ** 2))).sum(axis=1)


def _random_points(geom, n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random points inside ``geom`` (n × 2), by vectorised rejection."""
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        want = max(64, int((n - have) * 1.5 * (maxx - minx) * (maxy - miny) / max(geom.area, 1)))
        x = rng.uniform(minx, maxx, want)
        y = rng.uniform(miny, maxy, want)
        keep = shapely.contains_xy(geom, x, y)
        out.append(np.column_stack([x[keep], y[keep]]))
        have += int(keep.sum())
    return np.concatenate(out)[:n]


def _seeds(geom, k: int, rng: np.random.Generator, density: _Density, *, alpha: float,
           per_seed: int = 40) -> np.ndarray:
    """Pick ``k`` seed points inside ``geom`` by weighted k-means (Lloyd) of random points.

    Weighting by density**alpha makes cells smaller where people live. Each final centre is
    snapped to the nearest sample point, so every seed lies inside ``geom`` and every clipped
    Voronoi cell is non-empty.
    """
    pts = _random_points(geom, max(k * per_seed, 200), rng)
    w = density(pts[:, 0], pts[:, 1]) ** alpha
    centres = pts[rng.choice(len(pts), size=k, replace=False, p=w / w.sum())]
    for _ in range(12):
        _, label = cKDTree(centres).query(pts)
        sums = np.zeros((k, 2))
        np.add.at(sums, label, pts * w[:, None])
        mass = np.bincount(label, weights=w, minlength=k)
        moved = mass > 0
        centres[moved] = sums[moved] / mass[moved, None]
    _, nearest = cKDTree(pts).query(centres)
    seeds = pts[nearest]
    # Two centres can snap to one sample point; nudge duplicates to other samples.
    _, first = np.unique(seeds, axis=0, return_index=True)
    if len(first) < k:
        spare = np.setdiff1d(np.arange(len(pts)), nearest)
        dup = np.setdiff1d(np.arange(k), first)
        seeds[dup] = pts[rng.choice(spare, size=len(dup), replace=False)]
    return seeds


def _polygonal(geom: BaseGeometry) -> MultiPolygon:
    # Every cell here is built to have an area: a cell without one is a bug, said here.
    out = as_multipolygon(geom)
    if out is None:
        raise ValueError("a demo cell came out with no area")
    return out


def _tile(geom, seeds: np.ndarray) -> list[MultiPolygon]:
    """Clip the Voronoi cells of ``seeds`` to ``geom``; cell i belongs to seed i."""
    if len(seeds) == 1:
        return [geom]
    mp = shapely.MultiPoint(seeds)
    cells = shapely.voronoi_polygons(mp, extend_to=geom.envelope.buffer(1000), ordered=True)
    parts = list(shapely.get_parts(cells))
    out = shapely.intersection(np.array(parts, dtype=object), geom)
    return [_polygonal(c) for c in out]


def _split(geom, k: int, rng: np.random.Generator, density: _Density, *, alpha: float
           ) -> tuple[list[MultiPolygon], np.ndarray]:
    """Tile ``geom`` into ``k`` cells; returns (cells, mean density of each cell)."""
    seeds = _seeds(geom, k, rng, density, alpha=alpha)
    cells = _tile(geom, seeds)
    reps = np.array([[c.representative_point().x, c.representative_point().y] for c in cells])
    return cells, density(reps[:, 0], reps[:, 1])


def _is_urban_township(code: str) -> bool:
    # Street offices (街道) carry sequence numbers 001-099 in 统计用区划代码.
    return int(code[6:9]) < 100


def _is_urban_community(name: str) -> bool:
    return "社区" in name or "居委会" in name or "居民委员会" in name


# --------------------------------------------------------------------------- geography


def load_real_divisions(data_dir: Path = DATA_DIR) -> tuple[gpd.GeoDataFrame, pd.DataFrame,
                                                            pd.DataFrame, pd.DataFrame]:
    """Read the real county outlines and the county/township/community name lists."""
    outlines = gpd.read_file(data_dir / "yiyang_counties.geojson")
    outlines["code"] = outlines["gb"].astype(str).str[3:]
    counties = pd.read_csv(data_dir / "counties_4309.csv", dtype=str)
    townships = pd.read_csv(data_dir / "townships_4309.csv", dtype=str)
    communities = pd.read_csv(data_dir / "communities_4309.csv", dtype=str)
    return outlines, counties, townships, communities


def _county_polygons(outlines: gpd.GeoDataFrame) -> dict[str, MultiPolygon]:
    """Metric polygons for all 8 county-level units, guests carved out of their hosts."""
    metric = outlines.to_crs(METRIC)
    polys: dict[str, BaseGeometry] = {
        code: shapely.make_valid(geom)
        for code, geom in zip(metric["code"].tolist(), metric.geometry.tolist(), strict=True)
        if code != CITY_CODE}
    rng = np.random.default_rng(7)  # fixed: the outlines do not depend on the demo seed
    for code, (hosts, (lon, lat), area_km2) in GUEST_DISTRICTS.items():
        host = shapely.union_all([polys[h] for h in hosts])
        centre = cast(Point, gpd.GeoSeries([Point(lon, lat)], crs=4326).to_crs(METRIC).iloc[0])
        # Irregular, not a circle: grow the district from the small Voronoi cells of the host
        # nearest its real centre until it reaches roughly its real area.
        seeds = _random_points(host, 400, rng)
        cells = _tile(host, seeds)
        dist = np.hypot(seeds[:, 0] - centre.x, seeds[:, 1] - centre.y)
        picked: list[MultiPolygon] = []
        area = 0.0
        for i in np.argsort(dist):
            if area >= area_km2 * 1e6:
                break
            picked.append(cells[i])
            area += cells[i].area
        zone = _polygonal(shapely.union_all(picked))
        polys[code] = zone
        for h in hosts:
            polys[h] = _polygonal(polys[h].difference(zone))
    return {c: _polygonal(p) for c, p in polys.items()}


def _code_names(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Return the (code, name) pairs of a division list, in its row order."""
    return list(zip(frame["code"].tolist(), frame["name"].tolist(), strict=True))


def build_geography(*, seed: int = 2021, data_dir: Path = DATA_DIR,
                    progress: ProgressFn = _quiet) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Build admin units and grids for Yiyang.

    Returns
    -------
    admin_units : GeoDataFrame
        city, 8 counties, 98 townships, 1,446 communities with polygons (EPSG:4326).
    grids : GeoDataFrame
        about 6,017 grids with code, name, community_code, population, households,
        head name/phone, WeChat groups/members, registered volunteers (EPSG:4326).

    """
    rng = np.random.default_rng(seed)
    density = _Density()
    outlines, counties, townships, communities = load_real_divisions(data_dir)
    county_poly = _county_polygons(outlines)

    units: list[dict] = []
    comm_cells: list[dict] = []
    counties = counties.sort_values("code")
    for ci, (county_code, county_name) in enumerate(_code_names(counties)):
        progress(0.02 + 0.25 * ci / len(counties), f"乡镇/社区划分 {county_name}")
        cpoly = county_poly[county_code]
        units.append(dict(code=county_code, name=county_name, level="county",
                          parent_code=CITY_CODE, geom=cpoly))
        towns = townships[townships.areaCode == county_code].sort_values("code")
        cells, dens = _split(cpoly, len(towns), rng, density, alpha=0.7)
        # Street offices take the densest cells, then towns (镇), then townships (乡).
        rank = np.argsort(-dens, kind="stable")
        town_order = sorted(_code_names(towns),
                            key=lambda t: (not _is_urban_township(t[0]), t[0]))
        for (town_code, town_name), cell_idx in zip(town_order, rank, strict=True):
            tpoly = cells[cell_idx]
            units.append(dict(code=town_code, name=town_name, level="township",
                              parent_code=county_code, geom=tpoly))
            comms = communities[communities.streetCode == town_code].sort_values("code")
            ccells, cdens = _split(tpoly, len(comms), rng, density, alpha=0.8)
            crank = np.argsort(-cdens, kind="stable")
            comm_order = sorted(_code_names(comms),
                                key=lambda c: (not _is_urban_community(c[1]), c[0]))
            for (comm_code, comm_name), k in zip(comm_order, crank, strict=True):
                comm_cells.append(dict(code=comm_code, name=comm_name, level="community",
                                       parent_code=town_code, geom=ccells[k],
                                       density=cdens[k], urban=_is_urban_community(comm_name)))

    comm = pd.DataFrame(comm_cells)
    area = np.array([g.area for g in comm["geom"].tolist()]) / 1e6
    # Residents: area × local density, with 社区 more built-up than 村 at equal density.
    weight = area * comm.density.to_numpy() * np.where(comm.urban, 1.6, 1.0)
    weight *= rng.lognormal(0.0, 0.25, len(comm))
    # County totals are fixed to round figures near the 2020 census (3.85 M in all); within a
    # county, people follow the density surface.
    comm["population"] = 0
    county_of = comm.parent_code.str[:6].to_numpy()
    for county, total in COUNTY_POPULATION.items():
        mask = county_of == county
        comm.loc[mask, "population"] = largest_remainder(weight[mask], total, minimum=300)
    # Grids are sized to a few hundred households, so their number follows population.
    comm["n_grids"] = largest_remainder(comm.population.to_numpy(), TARGETS["grids"],
                                         minimum=1)

    progress(0.30, "网格划分")
    grid_rows: list[dict] = []
    columns = ("code", "name", "parent_code", "geom", "n_grids", "population")
    rows = zip(*(comm[col].tolist() for col in columns), strict=True)
    for i, (code, name, parent_code, geom, n_grids, population) in enumerate(rows):
        if i % 200 == 0:
            progress(0.30 + 0.30 * i / len(comm), f"网格划分 {i:,}/{len(comm):,} 个村(社区)")
        gcells, _ = _split(geom, int(n_grids), rng, density, alpha=1.0)
        cent = np.array([[g.centroid.x, g.centroid.y] for g in gcells])
        row_h = np.sqrt(geom.area / max(n_grids, 1))
        order = reading_order(cent[:, 0], cent[:, 1], row_height=row_h)
        share = rng.lognormal(0.0, 0.2, len(gcells))
        pops = largest_remainder(share, int(population), minimum=0)
        for seq, idx in enumerate(order, start=1):
            grid_rows.append(dict(code=f"{code}{seq:03d}", name=f"{name}第{seq}网格",
                                  community_code=code, geom=gcells[idx],
                                  population=int(pops[idx])))
        units.append(dict(code=code, name=name, level="community", parent_code=parent_code,
                          geom=geom, population=int(population)))

    progress(0.60, "人口、网格员与微信群")
    grids = gpd.GeoDataFrame(grid_rows, geometry="geom", crs=METRIC)
    grids["area_km2"] = grids.area / 1e6
    n = len(grids)
    grids["households"] = np.maximum(1, np.round(grids.population / rng.uniform(2.4, 3.1, n)))
    grids["households"] = grids["households"].astype(int)
    grids["head_name"] = people_names(rng, n)
    grids["head_phone"] = [f"1{p}" for p in rng.integers(3_000_000_000, 9_999_999_999, n)]
    grids["wechat_groups"] = 1
    grids["wechat_members"] = largest_remainder(grids.population * rng.uniform(0.8, 1.2, n),
                                                 TARGETS["wechat_members"])
    grids["volunteers"] = largest_remainder(grids.population * rng.uniform(0.5, 1.5, n),
                                             TARGETS["volunteers"])
    grids["source_crs"] = "generated"
    grids = grids.to_crs(4326)

    admin = gpd.GeoDataFrame(units, geometry="geom", crs=METRIC)
    pop_by_comm = grids.groupby("community_code").population.sum()
    admin["population"] = admin.code.map(pop_by_comm)
    admin = admin.to_crs(4326)
    # Roll population up the hierarchy.
    for level, child in (("township", "community"), ("county", "township")):
        kids = admin[admin.level == child].groupby("parent_code").population.sum()
        mask = admin.level == level
        admin.loc[mask, "population"] = admin.loc[mask, "code"].map(kids)
    city = outlines[outlines.code == CITY_CODE].iloc[0]
    city_row = gpd.GeoDataFrame(
        [dict(code=CITY_CODE, name=city["name"], level="city", parent_code=None,
              population=int(grids.population.sum()),
              geom=as_multipolygon(shapely.make_valid(city.geometry)))],
        geometry="geom", crs=4326)
    admin = pd.concat([city_row, admin], ignore_index=True)
    admin["population"] = admin["population"].astype("Int64")
    return gpd.GeoDataFrame(admin, geometry="geom", crs=4326), grids

