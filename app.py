"""GridMap (网格一张图): entry point. ``streamlit run app.py``."""

import streamlit as st

from ui import data

st.set_page_config(page_title="网格一张图 GridMap", page_icon="🗺️", layout="wide")
page = st.navigation([st.Page("pages/overview.py", title="网格总览", icon="🗺️", default=True)])
data.ensure_assets()
data.ensure_data()
page.run()
