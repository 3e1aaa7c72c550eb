"""GridMap (网格一张图): entry point. ``streamlit run app.py``."""

from pathlib import Path

import streamlit as st

from ui import data, kiosk, sidebar, state, widgets
from ui.text import t

# A local file: an icon name like ":material/map:" makes the browser fetch the favicon from
# fonts.gstatic.com, which an isolated network cannot reach.
ICON = Path(__file__).parent / "ui" / "assets" / "favicon.png"

state.init_language()
params = state.read_params()
st.set_page_config(page_title=f"{t('app.title')} GridMap", page_icon=str(ICON),
                   layout="wide", initial_sidebar_state="collapsed" if params.kiosk else "auto")


def _page(name: str, icon: str, *, default: bool = False) -> st.Page:
    return st.Page(f"pages/{name}.py", title=t(f"nav.{name}"), icon=f":material/{icon}:",
                   url_path=name, default=default)


pages = {
    t("nav.section.watch"): [_page("wall", "monitor", default=True), _page("grid", "grid_view")],
    t("nav.section.analyse"): [_page("coverage", "local_police"),
                               _page("hotspots", "local_fire_department"),
                               _page("bulletin", "summarize")],
    t("nav.section.manage"): [_page("export", "download"), _page("data", "database")],
}
page = st.navigation(pages, position="hidden" if params.kiosk else "sidebar")
data.ensure_assets()
data.ensure_data()
widgets.page_css()
if params.kiosk:
    kiosk.apply()
else:
    sidebar.render()
state.show_problems(params)
st.session_state["_params"] = params
page.run()
