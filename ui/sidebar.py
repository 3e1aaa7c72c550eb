"""The shared sidebar: language switch, area, grid search, data time, wall-screen link."""

from __future__ import annotations

import streamlit as st

from ui import auth, data, links, state
from ui.text import LANG_NAMES, LANGS, literal, t, when


def render() -> None:
    """Draw the sidebar (not in kiosk mode)."""
    with st.sidebar:
        auth.account_box()
        st.radio(t("sidebar.language"), LANGS, key="lang", horizontal=True,
                 format_func=LANG_NAMES.get)
        if not data.has_grids():
            return
        _area_picker()
        _grid_search()
        st.caption(t("sidebar.data_as_of", time=when(data.now())))
        if links.may_open("wall"):  # the kiosk link opens the wall
            area = state.area()
            link = "?kiosk=1&refresh=30" + (f"&area={area}" if area else "")
            st.caption(f"{t('sidebar.kiosk')}: [{link}](/{link})")


def _area_picker() -> None:
    units = data.units()
    # The units naming an account's grids include their county and township; offer only
    # those it may read as a whole.
    upper = units[units["level"].isin(["county", "township"])]
    upper = upper[[data.may_read_area(c) for c in upper.index]]
    counties = upper[upper["level"] == "county"]
    townships = upper[upper["level"] == "township"]
    # Only an account that sees everything may choose "the whole city".
    options: list[str | None] = [None, *counties.index] if data.everywhere() else [
        *counties.index]
    current = state.area()
    for county in counties.index:
        options.extend(townships.index[townships["parent_code"] == county])
    if current not in options:
        if current is None and not options:
            return  # bound to grids below any listed unit: nothing to choose between
        # None for an account bound to areas means "all of mine", not the whole city.
        options.insert(0, current) if current is None else options.append(current)
    everywhere = data.everywhere()

    def label(code: str | None) -> str:
        if code is None:
            return t("sidebar.area.all" if everywhere else "sidebar.area.mine")
        level = units.at[code, "level"]
        indent = "　" if level == "township" else ""
        return f"{indent}{data.area_name(code)}"

    # Labels made now, in the script run: a format_func may also be called outside it
    # (AppTest's widget-state pass), where the session's scope cannot be read.
    labels = {code: label(code) for code in options}
    choice = st.selectbox(t("sidebar.area"), options, index=options.index(current),
                          format_func=labels.get, key=f"area_pick_{current}")
    if choice != current:
        state.set_area(choice)
        st.rerun()


def _grid_search() -> None:
    """Find a grid by code or name: Enter (or the search button) opens a single match.

    A form, so that Enter submits; several matches are listed to pick from.
    """
    with st.form("grid_search", border=False, enter_to_submit=True):
        st.text_input(t("sidebar.search"), placeholder=t("sidebar.search.placeholder"),
                      key="grid_query")
        submitted = st.form_submit_button(t("sidebar.search.go"), icon=":material/search:")
    query = str(st.session_state.get("grid_query") or "").strip()
    if not query:
        return
    found = data.search_grids(query)
    if found.empty:
        st.caption(t("sidebar.search.none", query=literal(query)))
        return
    exact = found[found["code"] == query]  # a full code names one grid, whatever else matches
    if len(exact):
        found = exact
    if len(found) == 1:
        code = found["code"].iloc[0]
        if submitted:
            links.switch_page("grid", query_params={"grid": code})
    else:
        st.caption(t("sidebar.search.many", n=len(found)))
        names = dict(zip(found["code"], found["name"], strict=True))
        code = st.selectbox(t("sidebar.search"), list(found["code"]),
                            format_func=lambda c: f"{names[c]} · {c}",
                            label_visibility="collapsed", key="grid_pick")
    if st.button(t("sidebar.search.open"), key="grid_open", type="primary"):
        links.switch_page("grid", query_params={"grid": code})
