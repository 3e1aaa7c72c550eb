"""指挥大屏 Command wall: request heat per grid, KPI tiles, newest urgent requests."""

import streamlit as st

from ui import data, errors, state, wall
from ui.text import t

params = st.session_state.get("_params") or state.read_params()
if not data.has_grids():
    st.info(t("msg.empty_db"))
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
    actions = wall.action_figures(area, at=at)  # read first: the pieces arrive together
    wall.kpis(area, at=at)
    map_col, side_col = st.columns([3, 1], gap="medium")
    with map_col:
        wall.heat_map(area, window=window, measure=measure, kiosk=params.kiosk, at=at)
    with side_col:
        wall.supervision(actions)
        wall.ticker(area, kiosk=params.kiosk, at=at)


live()
