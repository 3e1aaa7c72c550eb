"""警务覆盖 Police coverage: stations, coverage areas, uncovered grids, new workstation sites."""

import streamlit as st

from ui import coverage, data, links, state

if not data.has_grids():
    links.empty_db_note()
    st.stop()

area = state.area()
coverage.header(area)
coverage.no_stations_note()
coverage.kpis(area)
figure, show_areas, n_sites, weight = coverage.controls()
sites = coverage.suggestions(area, n_sites, weight)
coverage.coverage_map(area, figure=figure, show_areas=show_areas, sites=sites, weight=weight)
coverage.sites_table(area, sites, n=n_sites, weight=weight)
coverage.uncovered_table(area)
