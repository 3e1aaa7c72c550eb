"""指挥大屏 Command wall: a layered map per grid, KPI tiles, new and overdue requests."""

import streamlit as st

from ui import data, errors, links, state, wall

params = st.session_state.get("_params") or state.read_params()
if not data.has_grids():
    links.empty_db_note()
    st.stop()

wall.no_fade()
window, measure, layers = wall.controls(
    kiosk=params.kiosk, layers=wall.wanted_layers(rotating=bool(params.kiosk and params.rotate)))


@st.fragment(run_every=wall.run_every(params))
@errors.guarded("wall")  # a fragment's reruns bypass app.py's error handling
def live() -> None:
    if not wall.still_allowed():
        return
    area, layer = wall.current_view(params, layers)
    at = wall.refresh(every=params.refresh)  # one cut-off for every figure below
    if at is None:
        return
    wall.header(area, kiosk=params.kiosk, at=at, layer=layer)
    # Read first, draw after: the pieces of one refresh reach the screen close together.
    actions = wall.action_figures(area, at=at)
    urgent = wall.ticker_rows(area, kiosk=params.kiosk, at=at)
    wall.kpis(area, at=at)
    map_col, side_col = st.columns([3, 1], gap="medium")
    with map_col:
        wall.layer_map(area, layer=layer, window=window, measure=measure,
                       kiosk=params.kiosk, at=at)
    with side_col:
        wall.supervision(actions)
        wall.ticker(urgent, area=area, at=at)


live()
