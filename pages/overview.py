"""网格总览: every grid over the real county outlines (placeholder until the pages issue)."""

import streamlit as st
from streamlit_folium import st_folium

from ui import data, maps

grids = data.map_grids()
st.title("网格一张图 · 益阳市")
st.caption(f"{len(grids):,} 个网格 · 常住人口 {data.city_population():,} 人")
st_folium(maps.overview_map(), height=720, use_container_width=True, returned_objects=[],
          key="overview")
