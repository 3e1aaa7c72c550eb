"""指挥大屏 Command wall: request heat per grid, KPI tiles, newest urgent requests."""

import streamlit as st

from ui import data, errors, links, state, wall

params = st.session_state.get("_params") or state.read_params()
if not data.has_grids():
    links.empty_db_note()
    st.stop()

window, measure = wall.controls(kiosk=params.kiosk)


@st.fragment(run_every=wall.run_every(params))
@errors.guarded("wall")  # a fragment's reruns bypass app.py's error handling
def live() -> None:
    if not wall.still_allowed():
        return
    area = wall.current_area(params)
    wall.header(area, kiosk=params.kiosk)
    at = wall.refresh()  # one cut-off for every figure below
    if at is None:
        return
    # Read first, draw after: the pieces of one refresh reach the screen close together.
    actions = wall.action_figures(area, at=at)
    urgent = wall.ticker_rows(area, kiosk=params.kiosk, at=at)
    wall.kpis(area, at=at)
    map_col, side_col = st.columns([3, 1], gap="medium")
    with map_col:
        wall.heat_map(area, window=window, measure=measure, kiosk=params.kiosk, at=at)
    with side_col:
        wall.supervision(actions)
        wall.ticker(urgent)


live()
