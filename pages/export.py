"""数据导出 Export: layer, area, time window and format; the file a planner opens in QGIS."""

import streamlit as st

from ui import data, export, links
from ui.text import t

if not data.has_grids():
    links.empty_db_note()
    st.stop()

st.subheader(t("export.title"))
st.caption(t("export.intro"))
form_col, map_col = st.columns([2, 3], gap="large")
with form_col:
    choice = export.controls()
    export.run(choice)
    export.offer(choice)
with map_col:
    export.area_map(choice.area)
