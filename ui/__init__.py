"""Streamlit-side helpers shared by the pages (see DESIGN §3)."""

import streamlit as st

#: Session keys that ui/auth.py fills after a sign-in or a wall token. Defined here, not in
#: ui.data, so that app.py can look at them before its slow imports.
ACCOUNT_KEY = "_account"
WALL_TOKEN_KEY = "_wall_token"

from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: E402

# Streamlit decides per process whether an app is a "pages/ folder" (v1) multipage app
# before app.py has called st.navigation. When a fresh server's first visitor opens a deep
# link (/grid?grid=…, a wall screen rebooting onto /?kiosk=1), it runs pages/grid.py alone,
# without app.py: no sidebar, no kiosk mode, no layout. Every page imports ui first, so
# this is the place to switch that off and run the request again through app.py.
if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:
    PagesManager.uses_pages_directory = False
    st.rerun()
