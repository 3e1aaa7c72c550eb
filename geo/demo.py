"""The demo city: real Yiyang outlines, names and codes; synthetic polygons, people and requests.

Everything is deterministic given ``seed`` (and ``end``, the moment the 8 months of requests
lead up to). Geometry is built in the metric CRS EPSG:32649 and stored in WGS84.

How the synthetic layers are made
---------------------------------
* 大通湖区 and 高新区 have no outline of their own in open data. They are carved out of their
  host counties around their real locations (大通湖 on the 南县/沅江 border, 高新区 east of
  the 赫山区 centre) with roughly their real areas.
* Each county-level unit is tiled by its townships, each township by its communities and each
  community by its grids. A tiling is a Voronoi diagram of seeds clipped to the parent, so the
  children cover the parent with no gap and no overlap. Seeds come from a weighted k-means of
  random points, weighted by a population-density surface that peaks at the Yiyang city core
  (赫山区/资阳区) and at each county seat, so urban cells are small and rural ones large.
  Street offices (街道) and residential communities (社区) take the densest cells.
* Grids within a community are numbered in reading order: rows north→south, west→east in a
  row. Their number is proportional to population and calibrated to 6,017 in all.
* Requests (80,787), disputes (926, with planted clusters), resolutions, ratings, stations,
  volunteer activities and WeChat groups are calibrated to the figures Yiyang published.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo import accounts, store, vocab
from geo.grids import GridIndex, as_multipolygon, reading_order

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
METRIC = "EPSG:32649"
CITY_CODE = "430900"

#: Published figures for Yiyang (see data/SOURCES.md) that the demo is calibrated to.
TARGETS = {
    "grids": 6017,
    "population": 3_850_000,
    "requests": 80_787,
    "handled": 76_931,
    "disputes": 926,
    "satisfaction": 0.9947,
    "wechat_members": 1_285_854,
    "volunteers": 28_932,
    "activities": 4_876,
    "points": 61_567,
    "stations": 40,
    "workstations": 63,
    "rooms": 80,
    "months": 8,
}

#: Density peaks (lon, lat, weight, sigma in km): the city core and the county seats.
URBAN_CENTRES = [
    (112.355, 28.565, 80.0, 4.5),  # 益阳中心城区 (赫山区/资阳区)
    (112.330, 28.600, 40.0, 3.0),  # 资阳区 城区
    (112.400, 28.545, 30.0, 3.0),  # 赫山区 东部新区
    (112.380, 29.370, 25.0, 2.5),  # 南县 南洲镇
    (112.150, 28.525, 25.0, 2.5),  # 桃江县 桃花江镇
    (111.215, 28.385, 20.0, 2.5),  # 安化县 东坪镇
    (112.355, 28.840, 25.0, 2.5),  # 沅江市 琼湖街道
    (112.640, 29.160, 10.0, 2.0),  # 大通湖区 河坝镇
]

#: Resident population per county-level unit (rounded, near the 2020 census; sums to 3.85 M).
COUNTY_POPULATION = {
    "430902": 380_000, "430903": 680_000, "430921": 550_000, "430922": 690_000,
    "430923": 770_000, "430971": 80_000, "430972": 150_000, "430981": 550_000,
}

#: Host-carved districts: code -> (host county codes, centre lon/lat, target area km²).
GUEST_DISTRICTS = {
    "430971": (("430921", "430981"), (112.62, 29.16), 750.0),  # 大通湖区
    "430972": (("430903",), (112.47, 28.50), 220.0),  # 高新区
}

ProgressFn = Callable[[float, str], None]


def _quiet(_fraction: float, _message: str) -> None:
    return None


@dataclass
class DemoCity:
    """Every table of a demo city, ready to write."""

    admin_units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    requests: pd.DataFrame
    stations: pd.DataFrame
    activities: pd.DataFrame
    settings: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- geometry helpers


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


def _tile(geom, seeds: np.ndarray) -> list:
    """Clip the Voronoi cells of ``seeds`` to ``geom``; cell i belongs to seed i."""
    if len(seeds) == 1:
        return [geom]
    mp = shapely.MultiPoint(seeds)
    cells = shapely.voronoi_polygons(mp, extend_to=geom.envelope.buffer(1000), ordered=True)
    parts = list(shapely.get_parts(cells))
    out = shapely.intersection(np.array(parts, dtype=object), geom)
    return [as_multipolygon(c) for c in out]


def _split(geom, k: int, rng: np.random.Generator, density: _Density, *, alpha: float):
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


def _largest_remainder(weights: np.ndarray, total: int, *, minimum: int = 0) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to exactly ``total``."""
    weights = np.asarray(weights, dtype=float)
    base = np.full(len(weights), minimum, dtype=np.int64)
    rest = total - base.sum()
    share = weights / weights.sum() * rest
    floor = np.floor(share).astype(np.int64)
    left = int(rest - floor.sum())
    order = np.argsort(-(share - floor), kind="stable")
    floor[order[:left]] += 1
    return base + floor


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


def _county_polygons(outlines: gpd.GeoDataFrame) -> dict[str, object]:
    """Metric polygons for all 8 county-level units, guests carved out of their hosts."""
    metric = outlines.to_crs(METRIC)
    polys = {r.code: shapely.make_valid(r.geometry) for r in metric.itertuples()
             if r.code != CITY_CODE}
    rng = np.random.default_rng(7)  # fixed: the outlines do not depend on the demo seed
    for code, (hosts, (lon, lat), area_km2) in GUEST_DISTRICTS.items():
        host = shapely.union_all([polys[h] for h in hosts])
        centre = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(METRIC).iloc[0]
        # Irregular, not a circle: grow the district from the small Voronoi cells of the host
        # nearest its real centre until it reaches roughly its real area.
        seeds = _random_points(host, 400, rng)
        cells = _tile(host, seeds)
        dist = np.hypot(seeds[:, 0] - centre.x, seeds[:, 1] - centre.y)
        picked, area = [], 0.0
        for i in np.argsort(dist):
            if area >= area_km2 * 1e6:
                break
            picked.append(cells[i])
            area += cells[i].area
        zone = as_multipolygon(shapely.union_all(picked))
        polys[code] = zone
        for h in hosts:
            polys[h] = as_multipolygon(polys[h].difference(zone))
    return {c: as_multipolygon(p) for c, p in polys.items()}


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
    for ci, county in enumerate(counties.sort_values("code").itertuples()):
        progress(0.02 + 0.25 * ci / len(counties), f"乡镇/社区划分 {county.name}")
        cpoly = county_poly[county.code]
        units.append(dict(code=county.code, name=county.name, level="county",
                          parent_code=CITY_CODE, geom=cpoly))
        towns = townships[townships.areaCode == county.code].sort_values("code")
        cells, dens = _split(cpoly, len(towns), rng, density, alpha=0.7)
        # Street offices take the densest cells, then towns (镇), then townships (乡).
        rank = np.argsort(-dens, kind="stable")
        town_order = sorted(towns.itertuples(), key=lambda t: (not _is_urban_township(t.code),
                                                               t.code))
        for town, cell_idx in zip(town_order, rank, strict=True):
            tpoly = cells[cell_idx]
            units.append(dict(code=town.code, name=town.name, level="township",
                              parent_code=county.code, geom=tpoly))
            comms = communities[communities.streetCode == town.code].sort_values("code")
            ccells, cdens = _split(tpoly, len(comms), rng, density, alpha=0.8)
            crank = np.argsort(-cdens, kind="stable")
            comm_order = sorted(comms.itertuples(),
                                key=lambda c: (not _is_urban_community(c.name), c.code))
            for comm, k in zip(comm_order, crank, strict=True):
                comm_cells.append(dict(code=comm.code, name=comm.name, level="community",
                                       parent_code=town.code, geom=ccells[k],
                                       density=cdens[k], urban=_is_urban_community(comm.name)))

    comm = pd.DataFrame(comm_cells)
    area = np.array([g.area for g in comm.geom]) / 1e6
    # Residents: area × local density, with 社区 more built-up than 村 at equal density.
    weight = area * comm.density.to_numpy() * np.where(comm.urban, 1.6, 1.0)
    weight *= rng.lognormal(0.0, 0.25, len(comm))
    # County totals are fixed to round figures near the 2020 census (3.85 M in all); within a
    # county, people follow the density surface.
    comm["population"] = 0
    county_of = comm.parent_code.str[:6].to_numpy()
    for county, total in COUNTY_POPULATION.items():
        mask = county_of == county
        comm.loc[mask, "population"] = _largest_remainder(weight[mask], total, minimum=300)
    # Grids are sized to a few hundred households, so their number follows population.
    comm["n_grids"] = _largest_remainder(comm.population.to_numpy(), TARGETS["grids"],
                                         minimum=1)

    progress(0.30, "网格划分")
    grid_rows: list[dict] = []
    for i, c in enumerate(comm.itertuples()):
        if i % 200 == 0:
            progress(0.30 + 0.30 * i / len(comm), f"网格划分 {i:,}/{len(comm):,} 个村(社区)")
        gcells, _ = _split(c.geom, int(c.n_grids), rng, density, alpha=1.0)
        cent = np.array([[g.centroid.x, g.centroid.y] for g in gcells])
        row_h = np.sqrt(c.geom.area / max(c.n_grids, 1))
        order = reading_order(cent[:, 0], cent[:, 1], row_height=row_h)
        share = rng.lognormal(0.0, 0.2, len(gcells))
        pops = _largest_remainder(share, int(c.population), minimum=0)
        for seq, idx in enumerate(order, start=1):
            grid_rows.append(dict(code=f"{c.code}{seq:03d}", name=f"{c.name}第{seq}网格",
                                  community_code=c.code, geom=gcells[idx],
                                  population=int(pops[idx])))
        units.append(dict(code=c.code, name=c.name, level="community", parent_code=c.parent_code,
                          geom=c.geom, population=int(c.population)))

    progress(0.60, "人口、网格员与微信群")
    grids = gpd.GeoDataFrame(grid_rows, geometry="geom", crs=METRIC)
    grids["area_km2"] = grids.area / 1e6
    n = len(grids)
    grids["households"] = np.maximum(1, np.round(grids.population / rng.uniform(2.4, 3.1, n)))
    grids["households"] = grids["households"].astype(int)
    grids["head_name"] = _people_names(rng, n)
    grids["head_phone"] = [f"1{p}" for p in rng.integers(3_000_000_000, 9_999_999_999, n)]
    grids["wechat_groups"] = 1
    grids["wechat_members"] = _largest_remainder(grids.population * rng.uniform(0.8, 1.2, n),
                                                 TARGETS["wechat_members"])
    grids["volunteers"] = _largest_remainder(grids.population * rng.uniform(0.5, 1.5, n),
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


_SURNAMES = list(
    "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
)
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建文辉玲红海波宇鹏浩慧琳晨欣")


def _people_names(rng: np.random.Generator, n: int) -> list[str]:
    sur = rng.choice(_SURNAMES, n)
    g1 = rng.choice(_GIVEN, n)
    g2 = rng.choice(_GIVEN + [""] * 20, n)
    return [a + b + c for a, b, c in zip(sur, g1, g2, strict=True)]


# --------------------------------------------------------------------------- requests

# Share of requests reported in each hour of the day (Asia/Shanghai): a morning and an
# afternoon peak, a smaller evening one, little at night.
_HOURLY = np.array([0.4, 0.2, 0.15, 0.1, 0.15, 0.4, 1.2, 2.8, 5.0, 7.0, 7.4, 6.6,
                    4.8, 4.6, 6.0, 6.8, 6.5, 5.6, 4.6, 4.9, 4.6, 3.4, 1.9, 0.9])

_CATEGORY_MIX = {  # non-dispute requests
    "road": 14, "sanitation": 18, "public_order": 6, "utilities": 12, "property": 11,
    "greenery": 6, "noise": 7, "welfare": 9, "paperwork": 8, "safety": 5, "other": 4,
}

_TEMPLATES = {
    "dispute": ["邻里因{x}发生纠纷，请求调解", "与物业就{x}产生矛盾，多次协商未果",
                "家庭成员因{x}争执，需要网格员上门", "土地边界{x}纠纷，双方情绪激动"],
    "road": ["{x}路面坑洼，雨天积水严重", "{x}路灯不亮，夜间出行不安全", "{x}井盖缺失，存在隐患"],
    "sanitation": ["{x}垃圾堆积未清运", "{x}污水外溢有异味", "{x}公共厕所无人保洁"],
    "public_order": ["{x}夜间有可疑人员徘徊", "{x}电动车被盗", "{x}有人聚众喧哗"],
    "utilities": ["{x}停水超过一天", "{x}电压不稳经常跳闸", "{x}燃气管道有异味"],
    "property": ["{x}电梯故障困人", "{x}楼顶漏水", "{x}物业费收取不透明"],
    "greenery": ["{x}树木倒伏挡路", "{x}绿化带被毁种菜", "{x}树枝压线"],
    "noise": ["{x}夜间施工噪声扰民", "{x}广场舞音量过大", "{x}商铺音响扰民"],
    "welfare": ["{x}独居老人需要帮扶", "{x}困难家庭申请救助", "{x}残疾人出行不便"],
    "paperwork": ["{x}身份证丢失需补办", "{x}办理居住证咨询", "{x}社保卡办理咨询"],
    "safety": ["{x}电动车楼道充电", "{x}河边护栏损坏", "{x}危房无人管理"],
    "other": ["{x}建议增设健身器材", "{x}咨询疫苗接种", "{x}快递乱堆放"],
}
_PLACES = ["小区门口", "菜市场旁", "学校附近", "村口", "老街", "安置小区", "河堤", "桥头",
           "3栋", "7栋", "组上", "公交站旁"]
_DISPUTE_THINGS = ["宅基地", "停车位", "噪音", "漏水", "债务", "赡养老人", "装修", "排水"]


@dataclass
class _Cluster:
    name: str
    centre_grid: str
    grids: list[str]
    share: float
    recent_weeks: int | None  # None: spread over the whole period


def _plant_clusters(grids: gpd.GeoDataFrame, rng: np.random.Generator) -> list[_Cluster]:
    """Pick dispute clusters: a populous grid and its neighbours within 1.2 km."""
    metric = grids.to_crs(METRIC)
    cent = metric.geometry.centroid
    spec = [  # county, share of all disputes, concentrated in the last N weeks
        ("430903", 0.20, None, "赫山区城区纠纷集中区"),
        ("430902", 0.14, None, "资阳区老城纠纷集中区"),
        ("430981", 0.12, None, "沅江市城区纠纷集中区"),
        ("430923", 0.10, 6, "安化县东坪新近纠纷集中区"),
    ]
    out: list[_Cluster] = []
    for county, share, recent, name in spec:
        cand = grids[grids.code.str.startswith(county)]
        cand = cand.sort_values("population", ascending=False).head(40)
        centre = cand.code.iloc[int(rng.integers(0, len(cand)))]
        c = cent[grids.code == centre].iloc[0]
        near = grids.code[cent.distance(c) <= 1200].tolist()
        out.append(_Cluster(name, centre, sorted(near), share, recent))
    return out


def _points_in_grids(geoms: np.ndarray, idx: np.ndarray, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Draw a uniform random point inside geoms[idx[i]] for each i (vectorised rejection)."""
    bounds = shapely.bounds(geoms)
    lon = np.empty(len(idx))
    lat = np.empty(len(idx))
    todo = np.arange(len(idx))
    while len(todo):
        b = bounds[idx[todo]]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(geoms[idx[todo]], x, y)
        lon[todo[ok]] = x[ok]
        lat[todo[ok]] = y[ok]
        todo = todo[~ok]
    return lon, lat


def build_requests(grids: gpd.GeoDataFrame, admin: pd.DataFrame, *, seed: int, end: datetime,
                   n: int = TARGETS["requests"], disputes: int = TARGETS["disputes"],
                   handled: int = TARGETS["handled"]) -> tuple[pd.DataFrame, list[_Cluster]]:
    """Generate ``n`` requests over 8 months ending at ``end`` (naive UTC).

    The mix, timing and outcomes follow the published figures: ``disputes`` of them are
    disputes (a share planted in clusters), ``handled`` are resolved by ``end``, and 99.47%
    of ratings are satisfied.
    """
    rng = np.random.default_rng(seed + 1)
    start = end - timedelta(days=int(TARGETS["months"] * 30.4))
    days = (end - start).days
    geoms = np.asarray(grids.geometry.values, dtype=object)
    codes = grids.code.to_numpy()
    pop = grids.population.to_numpy(dtype=float)

    # Where: per-capita reporting is higher in town (mini-program adoption).
    urban = grids.community_code.map(admin.set_index("code").name).str.contains("社区").to_numpy()
    w = pop * np.where(urban, 1.5, 1.0) + 1.0
    gidx = rng.choice(len(grids), size=n, p=w / w.sum())
    category = rng.choice(list(_CATEGORY_MIX), size=n,
                          p=np.array(list(_CATEGORY_MIX.values())) / sum(_CATEGORY_MIX.values()))

    # When: adoption grows over the months, fewer reports at weekends, a daily rhythm.
    # Draw local (UTC+8) day and hour, convert to UTC, and redraw anything past ``end``.
    reported = _report_times(rng, n, start=start, end=end)

    # Disputes: the first `disputes` rows become disputes; most are background, some planted.
    clusters = _plant_clusters(grids, rng)
    dispute_idx = rng.choice(n, size=disputes, replace=False)
    category[dispute_idx] = "dispute"
    pos = 0
    code_to_idx = {c: i for i, c in enumerate(codes)}
    for cl in clusters:
        k = int(round(cl.share * disputes))
        rows = dispute_idx[pos:pos + k]
        pos += k
        members = np.array([code_to_idx[c] for c in cl.grids])
        gidx[rows] = rng.choice(members, size=k)
        if cl.recent_weeks:
            recent_start = max(0, days - 7 * cl.recent_weeks)
            d = rng.integers(recent_start, days, size=k)
            reported[rows] = (pd.Timestamp(start.date()) + pd.to_timedelta(d, unit="D")
                                     + pd.to_timedelta(rng.choice(24, size=k,
                                                                  p=_HOURLY / _HOURLY.sum()),
                                                       unit="h")
                                     - pd.Timedelta(hours=8)).to_numpy()
    # Whole seconds: what a mini-program records, and what every backend stores exactly.
    reported = pd.Series(reported).dt.floor("s").clip(
        upper=pd.Timestamp(end) - pd.Timedelta(minutes=1))

    lon, lat = _points_in_grids(geoms, gidx, rng)

    is_dispute = category == "dispute"
    severity = rng.choice(["routine", "pressing", "urgent"], size=n, p=[0.75, 0.21, 0.04])
    severity[is_dispute] = rng.choice(["routine", "pressing", "urgent"], size=is_dispute.sum(),
                                      p=[0.35, 0.45, 0.20])
    route = rng.choice(list(vocab.ROUTES), size=n, p=[0.78, 0.14, 0.08])
    route[category == "welfare"] = "charity"
    source = rng.choice(list(vocab.SOURCES), size=n, p=[0.70, 0.10, 0.12, 0.03, 0.03, 0.02])

    deadline_h = np.array([vocab.SEVERITIES[s][1].total_seconds() / 3600 for s in severity])
    due = reported + pd.to_timedelta(deadline_h, unit="h")
    # Time to resolve: log-normal around a third of the deadline; disputes settle faster.
    dur_h = deadline_h * 0.3 * rng.lognormal(0.0, 0.8, n)
    dur_h[is_dispute] = rng.lognormal(np.log(20), 0.6, is_dispute.sum())
    resolved = (reported + pd.to_timedelta(dur_h, unit="h")).dt.floor("s")
    end_ts = pd.Timestamp(end)
    done = (resolved < end_ts).to_numpy().copy()
    # Yiyang reported every dispute resolved: the latest are settled by the end, at the latest
    # as they are reported.
    late = is_dispute & ~done
    resolved.iloc[np.flatnonzero(late)] = np.maximum(
        reported.iloc[np.flatnonzero(late)].to_numpy(),
        np.datetime64(end_ts - pd.Timedelta(minutes=1), "ns"))
    done[late] = True
    # Calibrate to the published number handled: some older non-disputes are stuck open,
    # or, if too few are done, the most nearly done count as done.
    extra = int(done.sum()) - handled
    if extra > 0:
        cand = np.flatnonzero(done & ~is_dispute)
        age = (end_ts - reported.iloc[cand]).dt.total_seconds().to_numpy()
        p = 1.0 / (age / 86400 + 10.0)  # stuck cases skew recent
        stuck = rng.choice(cand, size=extra, replace=False, p=p / p.sum())
        done[stuck] = False
    elif extra < 0:
        cand = np.flatnonzero(~done)
        done[cand[np.argsort(resolved.iloc[cand].to_numpy())[: -extra]]] = True
        resolved.iloc[cand] = resolved.iloc[cand].clip(upper=end_ts - pd.Timedelta(minutes=1))
    resolved = resolved.where(done)

    # Ratings: most residents rate within two days; 99.47% of them are satisfied.
    rated_at = (resolved + pd.to_timedelta(rng.uniform(0.5, 48, n), unit="h")).dt.floor("s")
    rated = done & (rng.random(n) < 0.82) & (rated_at < end_ts).to_numpy()
    n_rated = int(rated.sum())
    n_bad = int(round(n_rated * (1 - TARGETS["satisfaction"])))
    sat = np.full(n, None, dtype=object)
    rated_idx = np.flatnonzero(rated)
    sat[rated_idx] = rng.choice(["satisfied", "basically_satisfied"], size=n_rated, p=[0.9, 0.1])
    sat[rng.choice(rated_idx, size=n_bad, replace=False)] = "dissatisfied"

    age_h = ((end_ts - reported).dt.total_seconds() / 3600).to_numpy()
    open_status = np.select([age_h < 0.5, age_h < 3, age_h < 24],
                            ["reported", "accepted", "dispatched"], "in_progress")
    status = np.where(rated, "rated", np.where(done, "resolved", open_status))

    names = dict(zip(admin.code, admin.name, strict=True))
    comm_name = grids.community_code.map(names).to_numpy()
    descriptions = _descriptions(rng, category, comm_name[gidx])
    frame = pd.DataFrame({
        "external_id": [f"WXG{seed}-{i:07d}" for i in range(n)],
        "grid_code": codes[gidx],
        "outside_grid": False,
        "lon": lon, "lat": lat, "source_crs": "wgs84", "source": source,
        "category": category, "severity": severity, "route": route, "status": status,
        "reported_at": reported.to_numpy(), "due_at": due.to_numpy(),
        "resolved_at": resolved.to_numpy(),
        "closed_at": np.where(rated, rated_at, resolved),
        "satisfaction": sat,
        "address": [f"{c}{p}" for c, p in zip(comm_name[gidx], rng.choice(_PLACES, n),
                                              strict=True)],
        "description": descriptions,
        "reporter_name": _people_names(rng, n),
        "reporter_phone": [f"1{p}" for p in rng.integers(3_000_000_000, 9_999_999_999, n)],
    })
    frame["closed_at"] = pd.to_datetime(frame["closed_at"])
    frame = frame.sort_values("reported_at", kind="stable").reset_index(drop=True)
    return frame, clusters


def _report_times(rng: np.random.Generator, n: int, *, start: datetime, end: datetime,
                  ) -> np.ndarray:
    """``n`` report times (naive UTC) in [start, end) with growth, weekly and daily rhythm."""
    days = (end - start).days + 2
    first_local = pd.Timestamp(start.date())
    day_w = np.linspace(0.6, 1.4, days)
    day_w *= np.where((np.arange(days) + first_local.weekday()) % 7 >= 5, 0.75, 1.0)
    out: list[np.ndarray] = []
    have = 0
    lo, hi = np.datetime64(start, "ns"), np.datetime64(end, "ns")
    while have < n:
        m = int((n - have) * 1.2) + 16
        day = rng.choice(days, size=m, p=day_w / day_w.sum())
        hour = rng.choice(24, size=m, p=_HOURLY / _HOURLY.sum())
        t = (first_local + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour, unit="h")
             + pd.to_timedelta(rng.integers(0, 3600, m), unit="s")
             - pd.Timedelta(hours=8)).to_numpy()
        t = t[(t >= lo) & (t < hi)]
        out.append(t)
        have += len(t)
    return np.concatenate(out)[:n].copy()


def _descriptions(rng: np.random.Generator, category: np.ndarray, place: np.ndarray) -> list[str]:
    out = []
    spots = rng.choice(_PLACES, len(category))
    things = rng.choice(_DISPUTE_THINGS, len(category))
    picks = rng.integers(0, 4, len(category))
    for cat, pl, spot, thing, k in zip(category, place, spots, things, picks, strict=True):
        tpl = _TEMPLATES[cat][k % len(_TEMPLATES[cat])]
        out.append(tpl.format(x=thing if cat == "dispute" else f"{pl}{spot}"))
    return out


def build_events(requests: pd.DataFrame, ids: np.ndarray, *, seed: int, end: datetime
                 ) -> pd.DataFrame:
    """Build the flow register (流转登记): one row per status change up to ``end``."""
    rng = np.random.default_rng(seed + 2)
    n = len(requests)
    reported = requests.reported_at.to_numpy()
    resolved = requests.resolved_at.to_numpy()
    closed = requests.closed_at.to_numpy()
    end64 = np.datetime64(end)
    # Whole seconds, like the report times.
    accepted = reported + (rng.uniform(2, 30, n) * 60).astype("timedelta64[s]")
    dispatched = accepted + (rng.uniform(10, 180, n) * 60).astype("timedelta64[s]")
    progress_at = dispatched + (rng.uniform(10, 240, n) * 60).astype("timedelta64[s]")
    # A resolved request cannot have been in progress after it was resolved.
    has_res = ~pd.isna(resolved)
    for arr in (accepted, dispatched, progress_at):
        arr[has_res] = np.minimum(arr[has_res], resolved[has_res])
    rated = requests.status.to_numpy() == "rated"
    stages = [
        (None, "reported", reported, np.ones(n, bool), "居民"),
        ("reported", "accepted", accepted, accepted <= end64, "指挥中心"),
        ("accepted", "dispatched", dispatched, dispatched <= end64, "指挥中心"),
        ("dispatched", "in_progress", progress_at, progress_at <= end64, "网格员"),
        ("in_progress", "resolved", resolved, has_res, "网格员"),
        ("resolved", "rated", closed, rated, "居民"),
    ]
    parts = []
    for frm, to, at, mask, actor in stages:
        parts.append(pd.DataFrame({"request_id": ids[mask], "at": at[mask], "from_status": frm,
                                   "to_status": to, "actor": actor}))
    return pd.concat(parts, ignore_index=True).sort_values(["request_id", "at"], kind="stable")


# --------------------------------------------------------------------------- stations, volunteers


def build_stations(grids: gpd.GeoDataFrame, admin: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Police stations (派出所), workstations (警务站) and community police rooms (警务室)."""
    rng = np.random.default_rng(seed + 3)
    names = admin.set_index("code").name
    g = grids.assign(township=grids.community_code.str[:9], county=grids.community_code.str[:6])
    rows: list[dict] = []
    # 派出所: the most populous townships, at their most populous grid.
    town_pop = g.groupby("township").population.sum().sort_values(ascending=False)
    for i, town in enumerate(town_pop.index[: TARGETS["stations"]]):
        best = g[g.township == town].sort_values("population").iloc[-1]
        p = best.geom.representative_point()
        stem = names[town].removesuffix("街道").removesuffix("镇").removesuffix("乡")
        rows.append(dict(code=f"PCS{town}", name=f"{names[town[:6]]}公安局{stem}派出所",
                         kind="station", lon=p.x, lat=p.y, officers=int(rng.integers(18, 60)),
                         address=f"{names[town]}{names[best.community_code]}", tag=i))
    # 警务站: the densest urban grids, at least 800 m apart.
    dens = (g.population / g.area_km2.clip(lower=0.01)).sort_values(ascending=False)
    metric_cent = g.to_crs(METRIC).geometry.centroid
    chosen: list[int] = []
    for idx in dens.index:
        c = metric_cent[idx]
        if all(c.distance(metric_cent[j]) > 800 for j in chosen):
            chosen.append(idx)
        if len(chosen) == TARGETS["workstations"]:
            break
    for k, idx in enumerate(chosen, start=1):
        row = g.loc[idx]
        p = row.geom.representative_point()
        rows.append(dict(code=f"JWZ{row.community_code}{k:02d}",
                         name=f"{names[row.community_code]}警务站", kind="workstation",
                         lon=p.x, lat=p.y, officers=int(rng.integers(3, 9)),
                         address=f"{names[row.community_code[:9]]}{names[row.community_code]}"))
    # 警务室: a sample of residential communities.
    comm = admin[(admin.level == "community") & admin.name.str.contains("社区")]
    for code in rng.choice(comm.code.to_numpy(), size=min(TARGETS["rooms"], len(comm)),
                           replace=False):
        best = g[g.community_code == code].sort_values("population").iloc[-1]
        p = best.geom.representative_point()
        rows.append(dict(code=f"JWS{code}", name=f"{names[code]}警务室", kind="room",
                         lon=p.x, lat=p.y, officers=int(rng.integers(1, 3)),
                         address=f"{names[code[:9]]}{names[code]}"))
    out = pd.DataFrame(rows).drop(columns="tag")
    out["source_crs"] = "generated"
    return out


_ACTIVITIES = ["平安巡逻", "反诈宣传进社区", "环境卫生整治", "邻里矛盾调解", "关爱空巢老人",
               "防溺水宣传", "文明交通劝导", "消防安全检查", "垃圾分类宣传", "义诊进村"]


def build_activities(grids: gpd.GeoDataFrame, *, seed: int, end: datetime) -> pd.DataFrame:
    """Volunteer activities: 4,876 of them, points = volunteer-hours, 61,567 in all."""
    rng = np.random.default_rng(seed + 4)
    n = TARGETS["activities"]
    w = grids.volunteers.to_numpy(dtype=float) + 1
    gi = rng.choice(len(grids), size=n, p=w / w.sum())
    vols = rng.integers(2, 16, n)
    hours = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 4.0], size=n)
    raw = vols * hours
    points = _largest_remainder(raw, TARGETS["points"])
    start = end - timedelta(days=int(TARGETS["months"] * 30.4))
    days = rng.integers(0, (end - start).days + 1, n)
    return pd.DataFrame({
        "external_id": [f"VA{seed}-{i:05d}" for i in range(n)],
        "grid_code": grids.code.to_numpy()[gi],
        "date": [(start + timedelta(days=int(d))).date() for d in days],
        "title": rng.choice(_ACTIVITIES, n),
        "volunteers": vols,
        "hours": hours,
        "points": points.astype(float),
    })


# --------------------------------------------------------------------------- entry points


def default_end() -> datetime:
    """Now (naive UTC) truncated to the minute: the live end of the demo's 8 months."""
    return pd.Timestamp.now("UTC").tz_localize(None).floor("min").to_pydatetime()


def build_city(*, seed: int = 2021, end: datetime | None = None, data_dir: Path = DATA_DIR,
               progress: ProgressFn = _quiet) -> DemoCity:
    """Build every table of the Yiyang demo city in memory (no database)."""
    end = end or default_end()
    admin, grids = build_geography(seed=seed, data_dir=data_dir, progress=progress)
    progress(0.65, "生成诉求")
    requests, clusters = build_requests(grids, admin, seed=seed, end=end)
    progress(0.72, "生成警务站点与志愿活动")
    stations = build_stations(grids, admin, seed=seed)
    activities = build_activities(grids, seed=seed, end=end)
    settings = {
        "demo": "city",
        "demo_seed": str(seed),
        "demo_end": end.isoformat(),
        "demo_clusters": json.dumps([c.__dict__ for c in clusters], ensure_ascii=False),
    }
    return DemoCity(admin, grids, requests, stations, activities, settings)


def write_city(engine, city: DemoCity, *, progress: ProgressFn = _quiet) -> dict[str, int]:
    """Replace the database contents with ``city`` in one transaction."""
    seed = int(city.settings.get("demo_seed", 0))
    end = datetime.fromisoformat(city.settings["demo_end"]) if "demo_end" in city.settings \
        else default_end()
    with store.transaction(engine) as conn:
        progress(0.75, "写入行政区划与网格")
        store.clear_all(conn)
        store.write_admin_units(conn, city.admin_units)
        store.write_grids(conn, city.grids)
        progress(0.80, f"写入诉求 {len(city.requests):,} 条")
        store.bulk_insert_requests(conn, city.requests)
        ids = store.request_ids(conn, city.requests.external_id)
        progress(0.88, "写入流转登记")
        store.insert_events(conn, build_events(city.requests, ids, seed=seed, end=end))
        progress(0.95, "写入警务站点与志愿活动")
        store.write_stations(conn, city.stations)
        store.insert_activities(conn, city.activities)
        for key, value in city.settings.items():
            store.set_setting(conn, key, value)
        # One account per role with documented passwords (README); refused elsewhere.
        accounts.add_demo_accounts(conn)
    progress(1.0, "完成")
    return store.table_counts(engine)


def init_demo(engine, *, seed: int = 2021, scale: str = "city", end: datetime | None = None,
              progress: ProgressFn = _quiet) -> dict[str, int]:
    """Build the demo (``scale`` "city" or "province") and write it to ``engine``."""
    if scale == "province":
        from geo.province import init_province

        return init_province(engine, seed=seed, end=end, progress=progress)
    if scale != "city":
        raise ValueError(f"unknown demo scale {scale!r}: use 'city' or 'province'")
    city = build_city(seed=seed, end=end, progress=progress)
    return write_city(engine, city, progress=progress)


def grid_index(grids: gpd.GeoDataFrame) -> GridIndex:
    """Spatial index over demo grids (re-exported for callers that build points)."""
    return GridIndex(grids)
