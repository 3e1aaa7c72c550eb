"""A province-scale synthetic dataset for benchmarks: 60,000 grids and 10 M requests.

The geography is a regular lattice (about 1 km grids) in a made-up province with code prefix
``99`` so it can never be mistaken for real divisions: 10 counties × 20 townships × 15
communities × 20 grids. Requests follow the same mix and daily rhythm as the city demo but
carry no events or personal data, and are written in chunks so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import clock, vocab
from geo.store import engine as store_engine
from geo.store import requests as store_requests

# Lattice: grids per community (x, y), communities per township, townships per county,
# counties per province.
GRID_BLOCK = (5, 4)
COMMUNITY_BLOCK = (5, 3)
TOWNSHIP_BLOCK = (5, 4)
COUNTY_BLOCK = (2, 5)
ORIGIN = (108.5, 26.0)
STEP = (0.0102, 0.009)  # degrees; about 1 km × 1 km at 27°N
TARGET_REQUESTS = 10_000_000


def _multi(polygons) -> np.ndarray:
    """Wrap each polygon in its own MultiPolygon (the grid column's type)."""
    polygons = np.asarray(polygons, dtype=object)
    return shapely.multipolygons(polygons, indices=np.arange(len(polygons)))


def _lattice_shape() -> tuple[int, int]:
    nx = GRID_BLOCK[0] * COMMUNITY_BLOCK[0] * TOWNSHIP_BLOCK[0] * COUNTY_BLOCK[0]
    ny = GRID_BLOCK[1] * COMMUNITY_BLOCK[1] * TOWNSHIP_BLOCK[1] * COUNTY_BLOCK[1]
    return nx, ny


def build_province_grids(*, seed: int = 2021) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return (admin_units, grids) of the synthetic province, both in EPSG:4326."""
    rng = np.random.default_rng(seed)
    nx, ny = _lattice_shape()
    columns, rows = np.meshgrid(np.arange(nx), np.arange(ny))
    i, j = columns.ravel(), rows.ravel()  # j counts rows from the north
    gx, gy = GRID_BLOCK
    cx, cy = gx * COMMUNITY_BLOCK[0], gy * COMMUNITY_BLOCK[1]
    tx, ty = cx * TOWNSHIP_BLOCK[0], cy * TOWNSHIP_BLOCK[1]
    county = (j // ty) * COUNTY_BLOCK[0] + i // tx
    town = ((j % ty) // cy) * TOWNSHIP_BLOCK[0] + (i % tx) // cx
    comm = ((j % cy) // gy) * COMMUNITY_BLOCK[0] + (i % cx) // gx
    seq = (j % gy) * gx + i % gx  # reading order inside the community
    county_code = np.char.add("99", np.char.zfill((county + 1).astype(str), 2))
    county_code = np.char.add(county_code, "00")
    town_code = np.char.add(county_code, np.char.zfill((town + 1).astype(str), 3))
    comm_code = np.char.add(town_code, np.char.zfill((comm + 1).astype(str), 3))
    code = np.char.add(comm_code, np.char.zfill((seq + 1).astype(str), 3))

    x0 = ORIGIN[0] + i * STEP[0]
    y1 = ORIGIN[1] + (ny - j) * STEP[1]
    geoms = shapely.box(x0, y1 - STEP[1], x0 + STEP[0], y1)
    # People cluster around one city per county.
    centre_x = ORIGIN[0] + (county % COUNTY_BLOCK[0] + 0.5) * tx * STEP[0]
    centre_y = ORIGIN[1] + (ny - (county // COUNTY_BLOCK[0] + 0.5) * ty) * STEP[1]
    d = np.hypot((x0 - centre_x) / STEP[0], (y1 - centre_y) / STEP[1])
    pop = (300 + 4000 * np.exp(-d / 8) * rng.lognormal(0, 0.3, len(code))).astype(int)
    grids = gpd.GeoDataFrame({
        "code": code, "name": np.char.add(np.char.add("网格", code.astype(str)), ""),
        "community_code": comm_code, "population": pop,
        "households": (pop / 2.8).astype(int), "wechat_groups": 1,
        "wechat_members": (pop * 0.33).astype(int), "volunteers": (pop * 0.0075).astype(int),
        "area_km2": 1.0, "source_crs": "generated",
    }, geometry=_multi(geoms), crs=4326)

    units = []
    for level, col, parent in (("county", county_code, None), ("township", town_code, 6),
                               ("community", comm_code, 9)):
        frame = pd.DataFrame({"code": col, "pop": pop, "minx": x0, "maxx": x0 + STEP[0],
                              "miny": y1 - STEP[1], "maxy": y1})
        agg = frame.groupby("code").agg(population=("pop", "sum"), minx=("minx", "min"),
                                        miny=("miny", "min"), maxx=("maxx", "max"),
                                        maxy=("maxy", "max")).reset_index()
        agg["level"] = level
        agg["name"] = {"county": "县", "township": "镇", "community": "社区"}[level] + agg.code
        agg["parent_code"] = agg.code.str[:parent] if parent else "990000"
        agg["geom"] = _multi(shapely.box(agg.minx, agg.miny, agg.maxx, agg.maxy))
        units.append(agg.drop(columns=["minx", "miny", "maxx", "maxy"]))
    province = pd.DataFrame([{"code": "990000", "name": "合成省", "level": "city",
                              "parent_code": None, "population": int(pop.sum()),
                              "geom": shapely.MultiPolygon([shapely.box(
                                  ORIGIN[0], ORIGIN[1], ORIGIN[0] + nx * STEP[0],
                                  ORIGIN[1] + ny * STEP[1])])}])
    admin = gpd.GeoDataFrame(pd.concat([province, *units], ignore_index=True),
                             geometry="geom", crs=4326)
    return admin, grids


def province_requests(grids: gpd.GeoDataFrame, *, n: int, seed: int, end: datetime,
                      start_row: int = 0) -> pd.DataFrame:
    """Generate ``n`` requests (one chunk) over the year before ``end``."""
    rng = np.random.default_rng(seed + 11 + start_row)
    pop = grids.population.to_numpy(dtype=float)
    gidx = rng.choice(len(grids), size=n, p=pop / pop.sum())
    b = shapely.bounds(np.asarray(grids.geometry.values))[gidx]
    lon = rng.uniform(b[:, 0], b[:, 2])
    lat = rng.uniform(b[:, 1], b[:, 3])
    seconds = rng.integers(0, 365 * 86400, n)
    reported = np.datetime64(end - timedelta(days=365), "s") + seconds.astype("timedelta64[s]")
    cats = list(vocab.CATEGORIES)
    category = rng.choice(cats, size=n, p=np.r_[[0.012], np.full(len(cats) - 1,
                                                                 0.988 / (len(cats) - 1))])
    severity = rng.choice(["routine", "pressing", "urgent"], size=n, p=[0.75, 0.21, 0.04])
    hours = np.select([severity == "urgent", severity == "pressing"], [24, 72], 168)
    due = reported + (hours * 3600).astype("timedelta64[s]")
    resolved = reported + (hours * 0.3 * rng.lognormal(0, 0.8, n) * 3600).astype(
        "timedelta64[s]")
    done = resolved < np.datetime64(end, "s")
    status = np.where(done, "resolved", "in_progress")
    return pd.DataFrame({
        "external_id": np.char.add("P", (np.arange(n) + start_row).astype(str)),
        "grid_code": grids.code.to_numpy()[gidx], "outside_grid": False,
        "lon": lon, "lat": lat, "source_crs": "wgs84", "source": "miniprogram",
        "category": category, "severity": severity, "route": "government", "status": status,
        "reported_at": reported.astype("datetime64[us]"), "due_at": due.astype("datetime64[us]"),
        "resolved_at": pd.Series(resolved.astype("datetime64[us]")).where(done),
    })


def init_province(engine, *, seed: int = 2021, end: datetime | None = None,
                  n_requests: int = TARGET_REQUESTS, chunk: int = 500_000,
                  progress: Callable[[float, str], None] = lambda f, m: None) -> dict[str, int]:
    """Write the synthetic province to ``engine``, replacing what is there."""
    # The demo's live end (now, to the minute), without importing geo.demo (which imports us).
    end = end or clock.now(precision="min")
    admin, grids = build_province_grids(seed=seed)
    with store_engine.transaction(engine) as conn:
        progress(0.01, f"写入 {len(grids):,} 个网格")
        store_engine.clear_all(conn)
        store_requests.write_admin_units(conn, admin)
        store_requests.write_grids(conn, grids)
        store_engine.set_setting(conn, "demo", "province")
        store_engine.set_setting(conn, "demo_seed", str(seed))
        store_engine.set_setting(conn, "demo_end", end.isoformat())
    # Requests commit chunk by chunk: a 10 M-row transaction would hold the WAL for minutes.
    done = 0
    while done < n_requests:
        k = min(chunk, n_requests - done)
        frame = province_requests(grids, n=k, seed=seed, end=end, start_row=done)
        with store_engine.transaction(engine) as conn:
            store_requests.bulk_insert_requests(conn, frame)
        done += k
        progress(0.05 + 0.95 * done / n_requests, f"写入诉求 {done:,}/{n_requests:,}")
    return store_engine.table_counts(engine)
