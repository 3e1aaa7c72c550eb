"""The naive map page the first-paint benchmark compares with: ``st_folium(gdf.explore())``.

    GRIDMAP_DATABASE_URL=sqlite:///… streamlit run bench/naive_app.py

No cache, no simplification, folium's default CDN scripts: what a first Streamlit + folium
dashboard looks like. Only the benchmark runs it.
"""

import streamlit as st
from streamlit_folium import st_folium

from geo.store import engine as store_engine
from geo.store import requests as store_requests

st.set_page_config(page_title="naive map", layout="wide")
grids = store_requests.read_grids(store_engine.make_engine(upgrade=False))
st_folium(grids[["code", "name", "population", "geometry"]].explore(), height=620,
          use_container_width=True)
