"""网格详情 Grid detail: one grid's map, KPIs, people, police posts, open requests and trend.

Reached by clicking a grid on any map, by the sidebar search, or by URL ``?grid=CODE``.
"""

import streamlit as st

from ui import data, detail, links, worklist

if not data.has_grids():
    links.empty_db_note()
    st.stop()

code, unknown = detail.requested_grid()
if code is None:
    detail.prompt(unknown=unknown)
    st.stop()

detail.header(code)
detail.kpis(code)
map_col, side_col = st.columns([3, 2], gap="medium")
with map_col:
    detail.map_section(code)
with side_col:
    detail.profile(code)
    detail.stations(code)
detail.open_requests(code)
worklist.grid_panel(code)
detail.breakdowns(code)
detail.alliance_and_tasks(code)
