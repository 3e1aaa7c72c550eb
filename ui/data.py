"""Cached wrappers around geo/ for the pages: one engine per process, data cached by window."""

from __future__ import annotations

import geopandas as gpd
import streamlit as st

from geo import demo, store
from geo.assets import assets_ready, install_assets
from geo.maps import simplified


@st.cache_resource(show_spinner=False)
def engine():
    """Return the process-wide engine for ``GRIDMAP_DATABASE_URL`` (schema upgraded)."""
    return store.make_engine()


@st.cache_resource(show_spinner=False)
def ensure_assets() -> bool:
    """Copy Leaflet into static/ once per process if an install step has not done it."""
    if not assets_ready():
        install_assets()
    return True


def ensure_data() -> None:
    """Seed the Yiyang demo city into an empty database, showing progress as it goes."""
    eng = engine()
    if not store.is_empty(eng):
        return
    with st.status("首次启动：正在生成益阳演示数据… / First start: building the Yiyang demo…",
                   expanded=True) as status:
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        counts = demo.init_demo(eng, progress=progress)
        status.update(label=f"演示数据已生成：{counts['grid']:,} 个网格，"
                            f"{counts['request']:,} 条诉求", state="complete")
    st.cache_data.clear()


@st.cache_data(show_spinner=False)
def map_grids() -> gpd.GeoDataFrame:
    """Grids simplified for the browser (shared edges kept, 5-decimal coordinates)."""
    grids = store.read_grids(engine())
    return simplified(grids[["code", "name", "community_code", "population", "geometry"]])


def city_population() -> int:
    """Residents in all grids, for the overview caption."""
    return int(map_grids().population.sum())


@st.cache_data(show_spinner=False)
def county_outlines() -> gpd.GeoDataFrame:
    """County-level outlines, the base layer of every map."""
    units = store.read_admin_units(engine(), level="county")
    return simplified(units[["code", "name", "geometry"]], tolerance_m=50)
