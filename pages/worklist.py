"""待办 Worklist: the signed-in handler's open requests by deadline, with their actions.

Phone first (a grid head on the street): one card per request, actions under it. A
``?request=ID`` opens one request (refused outside the account's grids).
"""

import streamlit as st

from ui import data, worklist
from ui.text import t

if not data.has_grids():
    st.info(t("msg.empty_db"))
    st.stop()

worklist.page()
