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

This module assembles and writes a city. The figures it is calibrated to are in
:mod:`geo.demo_calibration`, the geography generator in :mod:`geo.demo_geography`, and the
requests, flow, stations and activities in :mod:`geo.demo_requests`; their public names are
also read here as ``demo.X``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo import accounts, clock
from geo.demo_calibration import (
    CATEGORY_MIX,
    CITY_CODE,
    COUNTY_POPULATION,
    DATA_DIR,
    GUEST_DISTRICTS,
    HOURLY,
    METRIC,
    TARGETS,
    URBAN_CENTRES,
    ProgressFn,
    people_names,
)
from geo.demo_calibration import quiet as _quiet
from geo.demo_geography import build_geography, load_real_divisions
from geo.demo_requests import (
    build_activities,
    build_events,
    build_requests,
    build_stations,
    descriptions,
    points_in_grids,
)
from geo.grids import GridIndex
from geo.store import engine as store_engine
from geo.store import requests as store_requests

# The generators live in demo_calibration, demo_geography and demo_requests; callers keep
# reading them as ``demo.X``.
__all__ = [
    "CATEGORY_MIX", "CITY_CODE", "COUNTY_POPULATION", "DATA_DIR", "GUEST_DISTRICTS", "HOURLY",
    "METRIC", "TARGETS", "URBAN_CENTRES", "DemoCity", "ProgressFn", "build_activities",
    "build_city", "build_events", "build_geography", "build_requests", "build_stations",
    "default_end", "descriptions", "grid_index", "init_demo", "load_real_divisions",
    "people_names", "points_in_grids", "write_city",
]


@dataclass
class DemoCity:
    """Every table of a demo city, ready to write."""

    admin_units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    requests: pd.DataFrame
    stations: pd.DataFrame
    activities: pd.DataFrame
    settings: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- entry points


def default_end() -> datetime:
    """Now (naive UTC) truncated to the minute: the live end of the demo's 8 months."""
    return clock.now(precision="min")


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
    with store_engine.transaction(engine) as conn:
        progress(0.75, "写入行政区划与网格")
        store_engine.clear_all(conn)
        store_requests.write_admin_units(conn, city.admin_units)
        store_requests.write_grids(conn, city.grids)
        progress(0.80, f"写入诉求 {len(city.requests):,} 条")
        store_requests.bulk_insert_requests(conn, city.requests)
        ids = store_requests.request_ids(conn, city.requests.external_id)
        progress(0.88, "写入流转登记")
        store_requests.insert_events(conn, build_events(city.requests, ids, seed=seed, end=end))
        progress(0.95, "写入警务站点与志愿活动")
        store_requests.write_stations(conn, city.stations)
        store_requests.insert_activities(conn, city.activities)
        for key, value in city.settings.items():
            store_engine.set_setting(conn, key, value)
        # One account per role with documented passwords (README); refused elsewhere.
        accounts.add_demo_accounts(conn)
    progress(1.0, "完成")
    return store_engine.table_counts(engine)


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
