"""GridMap (网格一张图): entry point. ``streamlit run app.py``."""

import dataclasses
from pathlib import Path

import streamlit as st

from geo.access import AccessDenied
from geo.deadlines import ConfigError
from ui import auth, data, errors, kiosk, sidebar, state, widgets
from ui.text import literal, t

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


data.ensure_assets()
try:
    data.ensure_data()
except ConfigError as exc:  # the demo's deadlines need the site's files (see below)
    st.error(t("msg.config_error", reason=literal(str(exc), limit=300)), icon=widgets.ICON_DENIED)
    st.stop()
widgets.page_css()
# Who is asking: a wall token, an OIDC identity or a local account; otherwise the sign-in
# form, and nothing below runs.
scope = auth.gate()
auth.write_cookie()
sections = {
    t("nav.section.watch"): [("wall", "monitor"), ("grid", "grid_view"),
                             ("worklist", "assignment")],
    t("nav.section.analyse"): [("coverage", "local_police"),
                               ("hotspots", "local_fire_department"), ("bulletin", "summarize")],
    t("nav.section.manage"): [("export", "download"), ("data", "database")],
}
# Only the pages the role may open exist for this session: a typed URL of another page
# falls back to the wall.
pages = {title: [_page(name, icon, default=name == "wall") for name, icon in items
                 if scope.may_open(name)]
         for title, items in sections.items()}
pages = {title: items for title, items in pages.items() if items}
if scope.role == "wall":  # a wall token is always a wall screen
    params = dataclasses.replace(params, kiosk=True)
page = st.navigation(pages, position="hidden" if params.kiosk else "sidebar")
if params.kiosk:
    kiosk.apply()
else:
    sidebar.render()
state.show_problems(params)
st.session_state["_params"] = params
try:
    page.run()
except AccessDenied as exc:
    # A scope check below the page refused (a revoked wall token mid-run, an area outside
    # the account): say so instead of a traceback.
    st.error(t("auth.refused", reason=literal(str(exc))), icon=widgets.ICON_DENIED)
except ConfigError as exc:
    # GRIDMAP_DEADLINES or GRIDMAP_HOLIDAYS names a file that does not parse: the message
    # names the file and the key, for the admin who edited it.
    st.error(t("msg.config_error", reason=literal(str(exc), limit=300)), icon=widgets.ICON_DENIED)
except Exception as exc:  # noqa: BLE001 - anything else: an id for the user, details in the log
    errors.report(exc, where=page.url_path or "wall")
