"""GridMap (网格一张图): entry point. ``streamlit run app.py``."""

import dataclasses
from pathlib import Path

import streamlit as st

# First, before the slow imports: a fresh server's first visitor is rerun through this file
# (ui/__init__.py), and the pages are registered but not listed until a sign-in.
from ui import nav  # isort: skip

nav.hide_until_signed_in()

from geo.access import AccessDenied  # noqa: E402
from geo.deadlines import ConfigError  # noqa: E402
from ui import auth, data, errors, kiosk, sidebar, state, widgets  # noqa: E402
from ui.text import literal, t  # noqa: E402

# A local file: an icon name like ":material/map:" makes the browser fetch the favicon from
# fonts.gstatic.com, which an isolated network cannot reach.
ICON = Path(__file__).parent / "ui" / "assets" / "favicon.png"

state.init_language()
params = state.read_params()
# "网格一张图 GridMap" in Chinese; the English title is the name itself, given once.
TITLE = t("app.title") if "GridMap" in t("app.title") else f"{t('app.title')} GridMap"
st.set_page_config(page_title=TITLE, page_icon=str(ICON),
                   layout="wide", initial_sidebar_state="collapsed" if params.kiosk else "auto")
state.remember_language()


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
if scope.role == "wall":  # a wall token is always a wall screen
    params = dataclasses.replace(params, kiosk=True)
page = nav.navigation(title=t, may_open=scope.may_open, hidden=params.kiosk)
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
