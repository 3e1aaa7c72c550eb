"""矛盾纠纷热点 Dispute hotspots: scan clusters, Gi* hot and cold spots, trends, density."""

import streamlit as st

from ui import data, hotspots, links, state

if not data.has_grids():
    links.empty_db_note()
    st.stop()

area = state.area()
hotspots.header(area)
window, mode, density = hotspots.controls()
hotspots.no_disputes_note(window, area)
hotspots.kpis(window, area)
hotspots.hotspot_map(window, area, mode=mode, density=density)
hotspots.scan_table(window, area)
hotspots.hotspot_table(window, area)
