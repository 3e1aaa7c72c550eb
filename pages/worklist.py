"""待办 Worklist: the signed-in handler's open requests by deadline, with their actions.

Phone first (a grid head on the street): one card per request, actions under it. A
``?request=ID`` opens one request (refused outside the account's grids).
"""

import streamlit as st

from ui import data, links, worklist

if not data.has_grids():
    links.empty_db_note()
    st.stop()

worklist.page()
